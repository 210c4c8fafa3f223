CREATE TABLE "institutions" (
	"platform_id" integer PRIMARY KEY NOT NULL,
	"legal_name" text NOT NULL,
	"short_name" text,
	"uai" text,
	"siret" text,
	"signatory_name" text,
	"signatory_title" text,
	"city" text,
	"time_zone" text DEFAULT 'Europe/Paris' NOT NULL,
	"url" text,
	"email" text,
	"logo" "bytea",
	"logo_type" text,
	"logo_width" integer,
	"logo_height" integer,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "institutions" ADD CONSTRAINT "institutions_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;