CREATE TABLE "referential_transitions" (
	"id" serial PRIMARY KEY NOT NULL,
	"platform_id" integer NOT NULL,
	"from_id" text NOT NULL,
	"from_version" text NOT NULL,
	"to_id" text NOT NULL,
	"to_version" text NOT NULL,
	"correspondence" jsonb NOT NULL,
	"status" text DEFAULT 'draft' NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_by" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"applied_by" text,
	"applied_at" timestamp with time zone,
	"report" jsonb,
	CONSTRAINT "referential_transitions_versions_key" UNIQUE("platform_id","from_id","from_version","to_id","to_version")
);
--> statement-breakpoint
ALTER TABLE "referential_transitions" ADD CONSTRAINT "referential_transitions_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "referential_transitions" ADD CONSTRAINT "referential_transitions_from_fk" FOREIGN KEY ("from_id","from_version") REFERENCES "public"."referentials"("id","version") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "referential_transitions" ADD CONSTRAINT "referential_transitions_to_fk" FOREIGN KEY ("to_id","to_version") REFERENCES "public"."referentials"("id","version") ON DELETE no action ON UPDATE no action;