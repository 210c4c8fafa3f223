CREATE TABLE "xapi_documents" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"platform_id" integer,
	"client_id" integer,
	"resource" text NOT NULL,
	"scope_hash" text NOT NULL,
	"agent_hash" text,
	"registration" uuid,
	"document_hash" text NOT NULL,
	"document_id" text NOT NULL,
	"content_type" text NOT NULL,
	"content" "bytea" NOT NULL,
	"etag" text NOT NULL,
	"updated" timestamp with time zone NOT NULL,
	CONSTRAINT "xapi_documents_key_unique" UNIQUE NULLS NOT DISTINCT("platform_id","client_id","scope_hash","registration","document_hash"),
	CONSTRAINT "xapi_documents_owner_check" CHECK (num_nonnulls("xapi_documents"."platform_id", "xapi_documents"."client_id") = 1)
);
--> statement-breakpoint
ALTER TABLE "xapi_keys" ALTER COLUMN "platform_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "xapi_keys" ADD COLUMN "kind" text DEFAULT 'platform' NOT NULL;--> statement-breakpoint
ALTER TABLE "xapi_keys" ADD COLUMN "name" text;--> statement-breakpoint
ALTER TABLE "xapi_keys" ADD COLUMN "scopes" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "xapi_documents" ADD CONSTRAINT "xapi_documents_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "xapi_documents" ADD CONSTRAINT "xapi_documents_client_id_xapi_keys_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."xapi_keys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "xapi_documents_agent_idx" ON "xapi_documents" USING btree ("platform_id","agent_hash");--> statement-breakpoint
ALTER TABLE "xapi_keys" ADD CONSTRAINT "xapi_keys_kind_check" CHECK (("xapi_keys"."kind" = 'platform' AND "xapi_keys"."platform_id" IS NOT NULL) OR ("xapi_keys"."kind" = 'client' AND "xapi_keys"."name" IS NOT NULL));