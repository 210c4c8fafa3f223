CREATE TABLE "imported_records" (
	"id" serial PRIMARY KEY NOT NULL,
	"platform_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"issuer" text NOT NULL,
	"issuer_name" text NOT NULL,
	"record_id" text NOT NULL,
	"source_platform" text NOT NULL,
	"referential_id" text NOT NULL,
	"referential_version" text NOT NULL,
	"record_issued_at" timestamp with time zone NOT NULL,
	"jwt_digest" text NOT NULL,
	"jwt" text NOT NULL,
	"credited_minutes" integer NOT NULL,
	"missing" jsonb NOT NULL,
	"justification" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"verified_at" timestamp with time zone NOT NULL,
	"imported_by" text NOT NULL,
	"revoked_at" timestamp with time zone,
	"revoked_by" text,
	"revocation_reason" text
);
--> statement-breakpoint
ALTER TABLE "manual_credits" ADD COLUMN "import_id" integer;--> statement-breakpoint
ALTER TABLE "imported_records" ADD CONSTRAINT "imported_records_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "imported_records" ADD CONSTRAINT "imported_records_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "imported_records_user_idx" ON "imported_records" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "imported_records_one_active_record_idx" ON "imported_records" USING btree ("platform_id","record_id") WHERE status = 'active';--> statement-breakpoint
CREATE UNIQUE INDEX "imported_records_one_active_source_idx" ON "imported_records" USING btree ("user_id","issuer","source_platform","referential_id","referential_version") WHERE status = 'active';--> statement-breakpoint
ALTER TABLE "manual_credits" ADD CONSTRAINT "manual_credits_import_id_imported_records_id_fk" FOREIGN KEY ("import_id") REFERENCES "public"."imported_records"("id") ON DELETE cascade ON UPDATE no action;