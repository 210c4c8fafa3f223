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
ALTER TABLE "programme_courses" ADD CONSTRAINT "programme_courses_programme_id_programmes_id_fk" FOREIGN KEY ("programme_id") REFERENCES "public"."programmes"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "programme_courses" ADD CONSTRAINT "programme_courses_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "public"."courses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "programmes" ADD CONSTRAINT "programmes_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "programme_courses_course_idx" ON "programme_courses" USING btree ("course_id");--> statement-breakpoint
CREATE UNIQUE INDEX "programmes_platform_name_idx" ON "programmes" USING btree ("platform_id","name");--> statement-breakpoint
CREATE INDEX "programmes_platform_referential_idx" ON "programmes" USING btree ("platform_id","referential_id","referential_version");