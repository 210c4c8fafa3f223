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
ALTER TABLE "alert_digests" ADD CONSTRAINT "alert_digests_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_preferences" ADD CONSTRAINT "alert_preferences_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "alert_preferences" ADD CONSTRAINT "alert_preferences_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "alert_preferences_platform_idx" ON "alert_preferences" USING btree ("platform_id");