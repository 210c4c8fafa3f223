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
ALTER TABLE "lti_course_services" ADD CONSTRAINT "lti_course_services_course_id_courses_id_fk" FOREIGN KEY ("course_id") REFERENCES "public"."courses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "lti_deployments" ADD CONSTRAINT "lti_deployments_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "lti_records_collection_key_idx" ON "lti_records" USING btree ("collection","natural_key");--> statement-breakpoint
CREATE INDEX "lti_records_expires_idx" ON "lti_records" USING btree ("expires_at");