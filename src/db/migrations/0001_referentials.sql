CREATE TABLE "referential_competencies" (
	"referential_id" text NOT NULL,
	"version" text NOT NULL,
	"key" text NOT NULL,
	"domain_code" text NOT NULL,
	"code" text NOT NULL,
	"title" text NOT NULL,
	"required_minutes" integer,
	"position" integer NOT NULL,
	CONSTRAINT "referential_competencies_referential_id_version_key_pk" PRIMARY KEY("referential_id","version","key")
);
--> statement-breakpoint
CREATE TABLE "referentials" (
	"id" text NOT NULL,
	"version" text NOT NULL,
	"seq" bigserial NOT NULL,
	"title" text NOT NULL,
	"kind" text NOT NULL,
	"required_minutes" integer,
	"content" jsonb NOT NULL,
	"checksum" text NOT NULL,
	"origin" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "referentials_id_version_pk" PRIMARY KEY("id","version"),
	CONSTRAINT "referentials_seq_unique" UNIQUE("seq")
);
--> statement-breakpoint
ALTER TABLE "referential_competencies" ADD CONSTRAINT "referential_competencies_referential_fk" FOREIGN KEY ("referential_id","version") REFERENCES "public"."referentials"("id","version") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "referential_competencies_domain_idx" ON "referential_competencies" USING btree ("referential_id","version","domain_code");