CREATE TABLE "audit_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"subject" text NOT NULL,
	"before" jsonb,
	"after" jsonb
);
--> statement-breakpoint
CREATE TABLE "course_members" (
	"course_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"roles" text[] DEFAULT '{}'::text[] NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "course_members_course_id_user_id_pk" PRIMARY KEY("course_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "courses" (
	"id" serial PRIMARY KEY NOT NULL,
	"platform_id" integer NOT NULL,
	"context_id" text NOT NULL,
	"title" text,
	"referential_id" text,
	"referential_version" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "platforms" (
	"id" serial PRIMARY KEY NOT NULL,
	"issuer" text NOT NULL,
	"name" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "platforms_issuer_unique" UNIQUE("issuer")
);
--> statement-breakpoint
CREATE TABLE "users" (
	"id" serial PRIMARY KEY NOT NULL,
	"platform_id" integer NOT NULL,
	"sub" text NOT NULL,
	"name" text,
	"email" text,
	"locale" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "api_tokens" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"role" text NOT NULL,
	"platform_id" integer,
	"token_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "api_tokens_name_unique" UNIQUE("name"),
	CONSTRAINT "api_tokens_token_hash_unique" UNIQUE("token_hash")
);
--> statement-breakpoint
CREATE TABLE "activity_mappings" (
	"course_id" integer NOT NULL,
	"activity_iri" text NOT NULL,
	"referential_id" text NOT NULL,
	"referential_version" text NOT NULL,
	"competency_key" text NOT NULL,
	"minutes" integer NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "activity_mappings_course_id_activity_iri_competency_key_pk" PRIMARY KEY("course_id","activity_iri","competency_key")
);
--> statement-breakpoint
CREATE TABLE "course_activities" (
	"course_id" integer NOT NULL,
	"iri" text NOT NULL,
	"name" text NOT NULL,
	"modname" text,
	"section_number" integer,
	"section_name" text,
	"completion" text,
	"source" text NOT NULL,
	"position" integer DEFAULT 0 NOT NULL,
	"gone_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "course_activities_course_id_iri_pk" PRIMARY KEY("course_id","iri")
);
--> statement-breakpoint
CREATE TABLE "course_settings" (
	"course_id" integer PRIMARY KEY NOT NULL,
	"require_success" boolean,
	"cap_to_measured_duration" boolean,
	"activities_refreshed_at" timestamp with time zone,
	"activities_refresh_error" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "platform_settings" (
	"platform_id" integer PRIMARY KEY NOT NULL,
	"default_referential_id" text,
	"default_referential_version" text,
	"require_success" boolean DEFAULT false NOT NULL,
	"cap_to_measured_duration" boolean DEFAULT false NOT NULL,
	"webservice_token" text,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "lti_course_services" (
	"course_id" integer PRIMARY KEY NOT NULL,
	"client_id" text NOT NULL,
	"deployment_id" text NOT NULL,
	"memberships_url" text,
	"lineitems_url" text,
	"lineitem_url" text,
	"roster_synced_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "lti_deployments" (
	"platform_id" integer NOT NULL,
	"client_id" text NOT NULL,
	"deployment_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "lti_deployments_platform_id_client_id_deployment_id_pk" PRIMARY KEY("platform_id","client_id","deployment_id")
);
--> statement-breakpoint
CREATE TABLE "lti_records" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"collection" text NOT NULL,
	"natural_key" text NOT NULL,
	"doc" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "badge_achievements" (
	"id" serial PRIMARY KEY NOT NULL,
	"path" text NOT NULL,
	"referential_id" text NOT NULL,
	"referential_version" text NOT NULL,
	"referential_title" text NOT NULL,
	"domain_code" text,
	"title" text NOT NULL,
	"name" text NOT NULL,
	"description" text NOT NULL,
	"criteria" text NOT NULL,
	"required_minutes" integer,
	"alignments" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "badge_achievements_path_unique" UNIQUE("path")
);
--> statement-breakpoint
CREATE TABLE "badge_credentials" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" integer NOT NULL,
	"achievement_id" integer NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"kid" text NOT NULL,
	"jwt" text NOT NULL,
	"credits_earned_minutes" integer NOT NULL,
	"issued_at" timestamp with time zone NOT NULL,
	"revoked_at" timestamp with time zone,
	"revocation_reason" text
);
--> statement-breakpoint
CREATE TABLE "badge_keys" (
	"kid" text PRIMARY KEY NOT NULL,
	"alg" text NOT NULL,
	"public_jwk" jsonb NOT NULL,
	"sealed_private_jwk" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"retired_at" timestamp with time zone
);
--> statement-breakpoint
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
CREATE TABLE "completion_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"statement_id" uuid NOT NULL,
	"platform_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"course_id" integer,
	"activity_iri" text NOT NULL,
	"kind" text NOT NULL,
	"success" boolean,
	"duration_seconds" integer,
	"statement_timestamp" timestamp with time zone NOT NULL,
	"position" smallint NOT NULL,
	"voided" boolean DEFAULT false NOT NULL,
	CONSTRAINT "completion_events_statement_id_unique" UNIQUE("statement_id")
);
--> statement-breakpoint
CREATE TABLE "xapi_activities" (
	"id" serial PRIMARY KEY NOT NULL,
	"platform_id" integer NOT NULL,
	"course_id" integer,
	"activity_iri" text NOT NULL,
	"name" text,
	"module_type" text,
	"first_seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_seen_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "xapi_keys" (
	"id" serial PRIMARY KEY NOT NULL,
	"platform_id" integer NOT NULL,
	"key" text NOT NULL,
	"secret_hash" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "xapi_keys_key_unique" UNIQUE("key")
);
--> statement-breakpoint
CREATE TABLE "xapi_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"statement_id" uuid NOT NULL,
	"statement" jsonb NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp with time zone,
	CONSTRAINT "xapi_outbox_statement_id_unique" UNIQUE("statement_id")
);
--> statement-breakpoint
CREATE TABLE "xapi_statements" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"id" uuid NOT NULL,
	"platform_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"verb" text NOT NULL,
	"object_id" text NOT NULL,
	"stored" timestamp with time zone NOT NULL,
	"timestamp" timestamp with time zone NOT NULL,
	"voided" boolean DEFAULT false NOT NULL,
	"content_hash" text NOT NULL,
	"statement" jsonb NOT NULL,
	CONSTRAINT "xapi_statements_id_unique" UNIQUE("id")
);
--> statement-breakpoint
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
CREATE TABLE "export_file_chunks" (
	"job_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"data" "bytea" NOT NULL,
	CONSTRAINT "export_file_chunks_job_id_seq_pk" PRIMARY KEY("job_id","seq")
);
--> statement-breakpoint
CREATE TABLE "export_jobs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"platform_id" integer,
	"kind" text NOT NULL,
	"format" text NOT NULL,
	"filters" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"requested_by" text NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"rows_done" integer DEFAULT 0 NOT NULL,
	"rows_total" integer,
	"attempts" integer DEFAULT 0 NOT NULL,
	"error" text,
	"worker_id" text,
	"heartbeat_at" timestamp with time zone,
	"file_name" text,
	"content_type" text,
	"byte_size" bigint,
	"sha256" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"expires_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "coverage_dirty" (
	"user_id" integer PRIMARY KEY NOT NULL,
	"platform_id" integer NOT NULL,
	"marked_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "learner_coverage" (
	"platform_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"referential_id" text NOT NULL,
	"referential_version" text NOT NULL,
	"required_minutes" integer,
	"credited_minutes" integer NOT NULL,
	"validated_minutes" integer NOT NULL,
	"covered_competencies" integer NOT NULL,
	"total_competencies" integer NOT NULL,
	"status" text NOT NULL,
	"domains" jsonb NOT NULL,
	"computed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "learner_coverage_user_id_referential_id_referential_version_pk" PRIMARY KEY("user_id","referential_id","referential_version")
);
--> statement-breakpoint
CREATE TABLE "manual_credits" (
	"id" serial PRIMARY KEY NOT NULL,
	"platform_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"referential_id" text NOT NULL,
	"referential_version" text NOT NULL,
	"competency_key" text NOT NULL,
	"minutes" integer NOT NULL,
	"justification" text NOT NULL,
	"granted_by" text NOT NULL,
	"granted_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_by" text,
	"revoked_at" timestamp with time zone,
	"revocation_reason" text,
	CONSTRAINT "manual_credits_justification_check" CHECK (length(trim("manual_credits"."justification")) > 0),
	CONSTRAINT "manual_credits_minutes_check" CHECK ("manual_credits"."minutes" > 0)
);
--> statement-breakpoint
CREATE TABLE "score_publications" (
	"course_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"queued_at" timestamp with time zone DEFAULT now() NOT NULL,
	"not_before" timestamp with time zone DEFAULT now() NOT NULL,
	"claimed_until" timestamp with time zone,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" text,
	CONSTRAINT "score_publications_course_id_user_id_pk" PRIMARY KEY("course_id","user_id")
);
--> statement-breakpoint
ALTER TABLE "course_members" ADD CONSTRAINT "course_members_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "public"."courses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "course_members" ADD CONSTRAINT "course_members_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "courses" ADD CONSTRAINT "courses_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "users" ADD CONSTRAINT "users_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "activity_mappings" ADD CONSTRAINT "activity_mappings_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "public"."courses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "course_activities" ADD CONSTRAINT "course_activities_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "public"."courses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "course_settings" ADD CONSTRAINT "course_settings_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "public"."courses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "platform_settings" ADD CONSTRAINT "platform_settings_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lti_course_services" ADD CONSTRAINT "lti_course_services_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "public"."courses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lti_deployments" ADD CONSTRAINT "lti_deployments_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "badge_credentials" ADD CONSTRAINT "badge_credentials_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "badge_credentials" ADD CONSTRAINT "badge_credentials_achievement_id_badge_achievements_id_fk" FOREIGN KEY ("achievement_id") REFERENCES "public"."badge_achievements"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "badge_credentials" ADD CONSTRAINT "badge_credentials_kid_badge_keys_kid_fk" FOREIGN KEY ("kid") REFERENCES "public"."badge_keys"("kid") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "referential_competencies" ADD CONSTRAINT "referential_competencies_referential_fk" FOREIGN KEY ("referential_id","version") REFERENCES "public"."referentials"("id","version") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "completion_events" ADD CONSTRAINT "completion_events_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "completion_events" ADD CONSTRAINT "completion_events_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "completion_events" ADD CONSTRAINT "completion_events_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "public"."courses"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "xapi_activities" ADD CONSTRAINT "xapi_activities_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "xapi_activities" ADD CONSTRAINT "xapi_activities_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "public"."courses"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "xapi_keys" ADD CONSTRAINT "xapi_keys_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "xapi_statements" ADD CONSTRAINT "xapi_statements_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "xapi_statements" ADD CONSTRAINT "xapi_statements_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attestation_records" ADD CONSTRAINT "attestation_records_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "attestation_records" ADD CONSTRAINT "attestation_records_export_job_id_export_jobs_id_fk" FOREIGN KEY ("export_job_id") REFERENCES "public"."export_jobs"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "export_file_chunks" ADD CONSTRAINT "export_file_chunks_job_id_export_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."export_jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "export_jobs" ADD CONSTRAINT "export_jobs_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "coverage_dirty" ADD CONSTRAINT "coverage_dirty_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "coverage_dirty" ADD CONSTRAINT "coverage_dirty_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "learner_coverage" ADD CONSTRAINT "learner_coverage_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "learner_coverage" ADD CONSTRAINT "learner_coverage_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "manual_credits" ADD CONSTRAINT "manual_credits_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "manual_credits" ADD CONSTRAINT "manual_credits_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "score_publications" ADD CONSTRAINT "score_publications_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "public"."courses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "score_publications" ADD CONSTRAINT "score_publications_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_events_subject_idx" ON "audit_events" USING btree ("subject","at");--> statement-breakpoint
CREATE UNIQUE INDEX "courses_platform_context_idx" ON "courses" USING btree ("platform_id","context_id");--> statement-breakpoint
CREATE UNIQUE INDEX "users_platform_sub_idx" ON "users" USING btree ("platform_id","sub");--> statement-breakpoint
CREATE INDEX "activity_mappings_activity_idx" ON "activity_mappings" USING btree ("activity_iri");--> statement-breakpoint
CREATE UNIQUE INDEX "lti_records_collection_key_idx" ON "lti_records" USING btree ("collection","natural_key");--> statement-breakpoint
CREATE INDEX "lti_records_expires_idx" ON "lti_records" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "badge_achievements_referential_idx" ON "badge_achievements" USING btree ("referential_id","referential_version");--> statement-breakpoint
CREATE UNIQUE INDEX "badge_credentials_one_active_idx" ON "badge_credentials" USING btree ("user_id","achievement_id") WHERE status = 'active';--> statement-breakpoint
CREATE INDEX "badge_credentials_user_idx" ON "badge_credentials" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "badge_keys_one_active_idx" ON "badge_keys" USING btree ("status") WHERE status = 'active';--> statement-breakpoint
CREATE INDEX "referential_competencies_domain_idx" ON "referential_competencies" USING btree ("referential_id","version","domain_code");--> statement-breakpoint
CREATE INDEX "completion_events_user_activity_idx" ON "completion_events" USING btree ("user_id","activity_iri");--> statement-breakpoint
CREATE INDEX "completion_events_course_idx" ON "completion_events" USING btree ("course_id");--> statement-breakpoint
CREATE UNIQUE INDEX "xapi_activities_platform_iri_idx" ON "xapi_activities" USING btree ("platform_id","activity_iri");--> statement-breakpoint
CREATE INDEX "xapi_activities_course_idx" ON "xapi_activities" USING btree ("course_id");--> statement-breakpoint
CREATE INDEX "xapi_outbox_pending_idx" ON "xapi_outbox" USING btree ("next_attempt_at","id") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "xapi_statements_platform_seq_idx" ON "xapi_statements" USING btree ("platform_id","seq");--> statement-breakpoint
CREATE INDEX "xapi_statements_object_idx" ON "xapi_statements" USING btree ("object_id");--> statement-breakpoint
CREATE INDEX "attestation_records_platform_idx" ON "attestation_records" USING btree ("platform_id","issued_at");--> statement-breakpoint
CREATE INDEX "export_jobs_queue_idx" ON "export_jobs" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "export_jobs_platform_idx" ON "export_jobs" USING btree ("platform_id","created_at");--> statement-breakpoint
CREATE INDEX "learner_coverage_platform_idx" ON "learner_coverage" USING btree ("platform_id","referential_id","referential_version");--> statement-breakpoint
CREATE INDEX "manual_credits_user_idx" ON "manual_credits" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "score_publications_due_idx" ON "score_publications" USING btree ("not_before");