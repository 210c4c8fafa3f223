CREATE TABLE "xapi_attachments" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"platform_id" integer,
	"client_id" integer,
	"sha2" text NOT NULL,
	"content_type" text NOT NULL,
	"content" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "xapi_attachments_key_unique" UNIQUE NULLS NOT DISTINCT("platform_id","client_id","sha2"),
	CONSTRAINT "xapi_attachments_owner_check" CHECK (num_nonnulls("xapi_attachments"."platform_id", "xapi_attachments"."client_id") = 1)
);
--> statement-breakpoint
ALTER TABLE "xapi_attachments" ADD CONSTRAINT "xapi_attachments_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "xapi_attachments" ADD CONSTRAINT "xapi_attachments_client_id_xapi_keys_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."xapi_keys"("id") ON DELETE cascade ON UPDATE no action;