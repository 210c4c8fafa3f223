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
ALTER TABLE "coverage_dirty" ADD CONSTRAINT "coverage_dirty_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "coverage_dirty" ADD CONSTRAINT "coverage_dirty_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "learner_coverage" ADD CONSTRAINT "learner_coverage_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "learner_coverage" ADD CONSTRAINT "learner_coverage_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "manual_credits" ADD CONSTRAINT "manual_credits_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "manual_credits" ADD CONSTRAINT "manual_credits_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "learner_coverage_platform_idx" ON "learner_coverage" USING btree ("platform_id","referential_id","referential_version");--> statement-breakpoint
CREATE INDEX "manual_credits_user_idx" ON "manual_credits" USING btree ("user_id");