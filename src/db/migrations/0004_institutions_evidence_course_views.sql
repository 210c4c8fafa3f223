CREATE TABLE "course_learners" (
	"course_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	CONSTRAINT "course_learners_course_id_user_id_pk" PRIMARY KEY("course_id","user_id")
);
--> statement-breakpoint
CREATE TABLE "manual_credit_evidence" (
	"credit_id" integer PRIMARY KEY NOT NULL,
	"file_name" text NOT NULL,
	"content_type" text NOT NULL,
	"size" integer NOT NULL,
	"sha256" text NOT NULL,
	"data" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "manual_credit_evidence_size_check" CHECK ("manual_credit_evidence"."size" > 0 AND "manual_credit_evidence"."size" = octet_length("manual_credit_evidence"."data"))
);
--> statement-breakpoint
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
ALTER TABLE "learner_coverage" ADD COLUMN "missing_minutes" integer GENERATED ALWAYS AS (greatest(coalesce(required_minutes, 0) - validated_minutes, 0)) STORED;--> statement-breakpoint
ALTER TABLE "learner_coverage" ADD COLUMN "complete_domains" jsonb GENERATED ALWAYS AS (jsonb_path_query_array(domains, '$[*] ? (@.validatedMinutes >= @.requiredMinutes).code')) STORED;--> statement-breakpoint
ALTER TABLE "course_learners" ADD CONSTRAINT "course_learners_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "public"."courses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "course_learners" ADD CONSTRAINT "course_learners_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "manual_credit_evidence" ADD CONSTRAINT "manual_credit_evidence_credit_id_manual_credits_id_fk" FOREIGN KEY ("credit_id") REFERENCES "public"."manual_credits"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "institutions" ADD CONSTRAINT "institutions_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "course_members_user_idx" ON "course_members" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "learner_coverage_missing_idx" ON "learner_coverage" USING btree ("platform_id","referential_id","referential_version","missing_minutes","user_id");--> statement-breakpoint
CREATE INDEX "learner_coverage_validated_idx" ON "learner_coverage" USING btree ("platform_id","referential_id","referential_version","validated_minutes","user_id");--> statement-breakpoint
CREATE FUNCTION "course_learners_after_insert"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO course_learners (course_id, user_id)
    SELECT DISTINCT n.course_id, n.user_id FROM new_events n WHERE n.course_id IS NOT NULL
    ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE FUNCTION "course_learners_after_delete"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM course_learners cl
   USING (SELECT DISTINCT o.course_id, o.user_id FROM old_events o WHERE o.course_id IS NOT NULL) gone
   WHERE cl.course_id = gone.course_id AND cl.user_id = gone.user_id
     AND NOT EXISTS (SELECT 1 FROM completion_events e WHERE e.course_id = gone.course_id AND e.user_id = gone.user_id);
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "completion_events_course_learners_insert" AFTER INSERT ON "completion_events"
  REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION "course_learners_after_insert"();--> statement-breakpoint
CREATE TRIGGER "completion_events_course_learners_delete" AFTER DELETE ON "completion_events"
  REFERENCING OLD TABLE AS old_events FOR EACH STATEMENT EXECUTE FUNCTION "course_learners_after_delete"();--> statement-breakpoint
INSERT INTO "course_learners" ("course_id", "user_id")
  SELECT DISTINCT "course_id", "user_id" FROM "completion_events" WHERE "course_id" IS NOT NULL;
