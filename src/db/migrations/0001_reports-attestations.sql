CREATE TABLE "attestation_records" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"platform_id" integer NOT NULL,
	"learner_sub" text NOT NULL,
	"learner_name" text,
	"referential_id" text NOT NULL,
	"referential_version" text NOT NULL,
	"referential_title" text NOT NULL,
	"validated_minutes" integer NOT NULL,
	"required_minutes" integer NOT NULL,
	"domains" jsonb NOT NULL,
	"status" text NOT NULL,
	"completed_at" timestamp with time zone,
	"institution" text NOT NULL,
	"issued_at" timestamp with time zone NOT NULL,
	"digest" text NOT NULL,
	"export_job_id" uuid
);
--> statement-breakpoint
ALTER TABLE "attestation_records" ADD CONSTRAINT "attestation_records_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attestation_records" ADD CONSTRAINT "attestation_records_export_job_id_export_jobs_id_fk" FOREIGN KEY ("export_job_id") REFERENCES "public"."export_jobs"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "attestation_records_platform_idx" ON "attestation_records" USING btree ("platform_id","issued_at");