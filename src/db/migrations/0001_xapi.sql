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
ALTER TABLE "completion_events" ADD CONSTRAINT "completion_events_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "completion_events" ADD CONSTRAINT "completion_events_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "completion_events" ADD CONSTRAINT "completion_events_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "public"."courses"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "xapi_activities" ADD CONSTRAINT "xapi_activities_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "xapi_activities" ADD CONSTRAINT "xapi_activities_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "public"."courses"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "xapi_keys" ADD CONSTRAINT "xapi_keys_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "xapi_statements" ADD CONSTRAINT "xapi_statements_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "xapi_statements" ADD CONSTRAINT "xapi_statements_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "completion_events_user_activity_idx" ON "completion_events" USING btree ("user_id","activity_iri");--> statement-breakpoint
CREATE INDEX "completion_events_course_idx" ON "completion_events" USING btree ("course_id");--> statement-breakpoint
CREATE UNIQUE INDEX "xapi_activities_platform_iri_idx" ON "xapi_activities" USING btree ("platform_id","activity_iri");--> statement-breakpoint
CREATE INDEX "xapi_activities_course_idx" ON "xapi_activities" USING btree ("course_id");--> statement-breakpoint
CREATE INDEX "xapi_outbox_pending_idx" ON "xapi_outbox" USING btree ("next_attempt_at","id") WHERE status = 'pending';--> statement-breakpoint
CREATE INDEX "xapi_statements_platform_seq_idx" ON "xapi_statements" USING btree ("platform_id","seq");--> statement-breakpoint
CREATE INDEX "xapi_statements_object_idx" ON "xapi_statements" USING btree ("object_id");