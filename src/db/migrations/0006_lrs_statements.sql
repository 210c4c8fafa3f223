ALTER TABLE "xapi_statements" ALTER COLUMN "platform_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "xapi_statements" ALTER COLUMN "user_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "xapi_statements" ADD COLUMN "key_id" integer;--> statement-breakpoint
ALTER TABLE "xapi_statements" ADD CONSTRAINT "xapi_statements_key_id_xapi_keys_id_fk" FOREIGN KEY ("key_id") REFERENCES "public"."xapi_keys"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "xapi_statements_key_seq_idx" ON "xapi_statements" USING btree ("key_id","seq") WHERE "xapi_statements"."key_id" IS NOT NULL;