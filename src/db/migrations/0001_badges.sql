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
ALTER TABLE "badge_credentials" ADD CONSTRAINT "badge_credentials_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "badge_credentials" ADD CONSTRAINT "badge_credentials_achievement_id_badge_achievements_id_fk" FOREIGN KEY ("achievement_id") REFERENCES "public"."badge_achievements"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "badge_credentials" ADD CONSTRAINT "badge_credentials_kid_badge_keys_kid_fk" FOREIGN KEY ("kid") REFERENCES "public"."badge_keys"("kid") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "badge_achievements_referential_idx" ON "badge_achievements" USING btree ("referential_id","referential_version");--> statement-breakpoint
CREATE UNIQUE INDEX "badge_credentials_one_active_idx" ON "badge_credentials" USING btree ("user_id","achievement_id") WHERE status = 'active';--> statement-breakpoint
CREATE INDEX "badge_credentials_user_idx" ON "badge_credentials" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "badge_keys_one_active_idx" ON "badge_keys" USING btree ("status") WHERE status = 'active';