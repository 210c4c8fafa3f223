CREATE TABLE "learner_records" (
	"id" uuid PRIMARY KEY NOT NULL,
	"user_id" integer NOT NULL,
	"referential_id" text NOT NULL,
	"referential_version" text NOT NULL,
	"kid" text NOT NULL,
	"jwt" text NOT NULL,
	"digest" text NOT NULL,
	"credits_earned_minutes" integer NOT NULL,
	"issued_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
DROP INDEX "badge_keys_one_active_idx";--> statement-breakpoint
ALTER TABLE "learner_records" ADD CONSTRAINT "learner_records_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "learner_records" ADD CONSTRAINT "learner_records_kid_badge_keys_kid_fk" FOREIGN KEY ("kid") REFERENCES "public"."badge_keys"("kid") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "learner_records_user_idx" ON "learner_records" USING btree ("user_id","referential_id","referential_version","issued_at");--> statement-breakpoint
CREATE UNIQUE INDEX "badge_keys_one_active_idx" ON "badge_keys" USING btree ("status",(alg = 'EdDSA')) WHERE status = 'active';