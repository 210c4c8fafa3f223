CREATE TABLE "xapi_attachments" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"platform_id" integer,
	"client_id" integer,
	"sha2" text NOT NULL,
	"content_type" text NOT NULL,
	"content" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "xapi_attachments_key_unique" UNIQUE NULLS NOT DISTINCT("platform_id","client_id","sha2"),
	CONSTRAINT "xapi_attachments_owner_check" CHECK (num_nonnulls("xapi_attachments"."platform_id", "xapi_attachments"."client_id") = 1)
);
--> statement-breakpoint
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
CREATE TABLE "programme_courses" (
	"programme_id" integer NOT NULL,
	"course_id" integer NOT NULL,
	CONSTRAINT "programme_courses_programme_id_course_id_pk" PRIMARY KEY("programme_id","course_id")
);
--> statement-breakpoint
CREATE TABLE "programmes" (
	"id" serial PRIMARY KEY NOT NULL,
	"platform_id" integer NOT NULL,
	"name" text NOT NULL,
	"referential_id" text NOT NULL,
	"referential_version" text NOT NULL,
	"intake_year" integer NOT NULL,
	"due_date" text NOT NULL,
	"category" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "programmes_due_date_check" CHECK ("programmes"."due_date" ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$')
);
--> statement-breakpoint
CREATE TABLE "alert_digests" (
	"user_id" integer NOT NULL,
	"week" date NOT NULL,
	"status" text NOT NULL,
	"lease_until" timestamp with time zone,
	"attempts" integer DEFAULT 1 NOT NULL,
	"at_risk" jsonb,
	"sent_at" timestamp with time zone,
	CONSTRAINT "alert_digests_user_id_week_pk" PRIMARY KEY("user_id","week"),
	CONSTRAINT "alert_digests_lease_check" CHECK ("alert_digests"."status" <> 'sending' OR "alert_digests"."lease_until" IS NOT NULL)
);
--> statement-breakpoint
CREATE TABLE "alert_preferences" (
	"user_id" integer PRIMARY KEY NOT NULL,
	"platform_id" integer NOT NULL,
	"email" text,
	"manager" boolean DEFAULT false NOT NULL,
	"opted_out_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
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
ALTER TABLE "manual_credits" ADD COLUMN "import_id" integer;--> statement-breakpoint
ALTER TABLE "xapi_attachments" ADD CONSTRAINT "xapi_attachments_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "xapi_attachments" ADD CONSTRAINT "xapi_attachments_client_id_xapi_keys_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."xapi_keys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "imported_records" ADD CONSTRAINT "imported_records_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "imported_records" ADD CONSTRAINT "imported_records_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "programme_courses" ADD CONSTRAINT "programme_courses_programme_id_programmes_id_fk" FOREIGN KEY ("programme_id") REFERENCES "public"."programmes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "programme_courses" ADD CONSTRAINT "programme_courses_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "public"."courses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "programmes" ADD CONSTRAINT "programmes_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_digests" ADD CONSTRAINT "alert_digests_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_preferences" ADD CONSTRAINT "alert_preferences_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_preferences" ADD CONSTRAINT "alert_preferences_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "referential_transitions" ADD CONSTRAINT "referential_transitions_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "referential_transitions" ADD CONSTRAINT "referential_transitions_from_fk" FOREIGN KEY ("from_id","from_version") REFERENCES "public"."referentials"("id","version") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "referential_transitions" ADD CONSTRAINT "referential_transitions_to_fk" FOREIGN KEY ("to_id","to_version") REFERENCES "public"."referentials"("id","version") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "imported_records_user_idx" ON "imported_records" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "imported_records_one_active_record_idx" ON "imported_records" USING btree ("platform_id","record_id") WHERE status = 'active';--> statement-breakpoint
CREATE UNIQUE INDEX "imported_records_one_active_source_idx" ON "imported_records" USING btree ("user_id","issuer","source_platform","referential_id","referential_version") WHERE status = 'active';--> statement-breakpoint
CREATE INDEX "programme_courses_course_idx" ON "programme_courses" USING btree ("course_id");--> statement-breakpoint
CREATE UNIQUE INDEX "programmes_platform_name_idx" ON "programmes" USING btree ("platform_id","name");--> statement-breakpoint
CREATE INDEX "programmes_platform_referential_idx" ON "programmes" USING btree ("platform_id","referential_id","referential_version");--> statement-breakpoint
CREATE INDEX "alert_preferences_platform_idx" ON "alert_preferences" USING btree ("platform_id");--> statement-breakpoint
ALTER TABLE "manual_credits" ADD CONSTRAINT "manual_credits_import_id_imported_records_id_fk" FOREIGN KEY ("import_id") REFERENCES "public"."imported_records"("id") ON DELETE cascade ON UPDATE no action;