CREATE SEQUENCE "public"."badge_status_allocation_seq" INCREMENT BY 1 MINVALUE 0 MAXVALUE 9223372036854775807 START WITH 0 CACHE 1;--> statement-breakpoint
CREATE TABLE "badge_status_lists" (
	"id" integer PRIMARY KEY NOT NULL,
	"purpose" text DEFAULT 'revocation' NOT NULL,
	"size" integer NOT NULL,
	"permutation_key" text NOT NULL,
	"jwt" text,
	"signed_revision" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"signed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "badge_status_revocations" (
	"list_id" integer NOT NULL,
	"status_index" integer NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "badge_status_revocations_list_id_status_index_pk" PRIMARY KEY("list_id","status_index")
);
--> statement-breakpoint
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
CREATE TABLE "wallet_authorizations" (
	"id" uuid PRIMARY KEY NOT NULL,
	"client_id" integer NOT NULL,
	"redirect_uri" text NOT NULL,
	"scope" text NOT NULL,
	"state" text NOT NULL,
	"code_challenge" text NOT NULL,
	"user_code_hash" text NOT NULL,
	"browser_hash" text NOT NULL,
	"decision" text DEFAULT 'pending' NOT NULL,
	"user_id" integer,
	"code_hash" text,
	"code_expires_at" timestamp with time zone,
	"code_used_at" timestamp with time zone,
	"expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "wallet_authorizations_user_code_hash_unique" UNIQUE("user_code_hash"),
	CONSTRAINT "wallet_authorizations_code_hash_unique" UNIQUE("code_hash")
);
--> statement-breakpoint
CREATE TABLE "wallet_clients" (
	"id" serial PRIMARY KEY NOT NULL,
	"client_id" text NOT NULL,
	"secret_hash" text NOT NULL,
	"client_name" text NOT NULL,
	"redirect_uris" jsonb NOT NULL,
	"scope" text NOT NULL,
	"metadata" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "wallet_clients_client_id_unique" UNIQUE("client_id")
);
--> statement-breakpoint
CREATE TABLE "wallet_tokens" (
	"id" serial PRIMARY KEY NOT NULL,
	"client_id" integer NOT NULL,
	"user_id" integer NOT NULL,
	"authorization_id" uuid,
	"scope" text NOT NULL,
	"access_hash" text NOT NULL,
	"refresh_hash" text NOT NULL,
	"access_expires_at" timestamp with time zone NOT NULL,
	"refresh_expires_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone,
	CONSTRAINT "wallet_tokens_access_hash_unique" UNIQUE("access_hash"),
	CONSTRAINT "wallet_tokens_refresh_hash_unique" UNIQUE("refresh_hash")
);
--> statement-breakpoint
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
ALTER TABLE "xapi_keys" ALTER COLUMN "platform_id" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "xapi_outbox" ALTER COLUMN "statement" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "badge_credentials" ADD COLUMN "status_list_id" integer;--> statement-breakpoint
ALTER TABLE "badge_credentials" ADD COLUMN "status_list_index" integer;--> statement-breakpoint
ALTER TABLE "xapi_keys" ADD COLUMN "kind" text DEFAULT 'platform' NOT NULL;--> statement-breakpoint
ALTER TABLE "xapi_keys" ADD COLUMN "name" text;--> statement-breakpoint
ALTER TABLE "xapi_keys" ADD COLUMN "scopes" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "coverage_dirty" ADD COLUMN "generation" bigserial NOT NULL;--> statement-breakpoint
ALTER TABLE "badge_status_revocations" ADD CONSTRAINT "badge_status_revocations_list_id_badge_status_lists_id_fk" FOREIGN KEY ("list_id") REFERENCES "public"."badge_status_lists"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "xapi_documents" ADD CONSTRAINT "xapi_documents_platform_id_platforms_id_fk" FOREIGN KEY ("platform_id") REFERENCES "public"."platforms"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "xapi_documents" ADD CONSTRAINT "xapi_documents_client_id_xapi_keys_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."xapi_keys"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "wallet_authorizations" ADD CONSTRAINT "wallet_authorizations_client_id_wallet_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."wallet_clients"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "wallet_authorizations" ADD CONSTRAINT "wallet_authorizations_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "wallet_tokens" ADD CONSTRAINT "wallet_tokens_client_id_wallet_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."wallet_clients"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "wallet_tokens" ADD CONSTRAINT "wallet_tokens_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "wallet_tokens" ADD CONSTRAINT "wallet_tokens_authorization_id_wallet_authorizations_id_fk" FOREIGN KEY ("authorization_id") REFERENCES "public"."wallet_authorizations"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "learner_records" ADD CONSTRAINT "learner_records_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "learner_records" ADD CONSTRAINT "learner_records_kid_badge_keys_kid_fk" FOREIGN KEY ("kid") REFERENCES "public"."badge_keys"("kid") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "xapi_documents_agent_idx" ON "xapi_documents" USING btree ("platform_id","agent_hash");--> statement-breakpoint
CREATE INDEX "wallet_authorizations_expires_idx" ON "wallet_authorizations" USING btree ("expires_at");--> statement-breakpoint
CREATE INDEX "wallet_tokens_user_idx" ON "wallet_tokens" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "wallet_tokens_live_idx" ON "wallet_tokens" USING btree ("client_id") WHERE revoked_at IS NULL;--> statement-breakpoint
CREATE INDEX "learner_records_user_idx" ON "learner_records" USING btree ("user_id","referential_id","referential_version","issued_at");--> statement-breakpoint
ALTER TABLE "badge_credentials" ADD CONSTRAINT "badge_credentials_status_list_id_badge_status_lists_id_fk" FOREIGN KEY ("status_list_id") REFERENCES "public"."badge_status_lists"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "badge_credentials_status_entry_idx" ON "badge_credentials" USING btree ("status_list_id","status_list_index");--> statement-breakpoint
CREATE UNIQUE INDEX "badge_keys_one_active_idx" ON "badge_keys" USING btree ("status",(alg = 'EdDSA')) WHERE status = 'active';--> statement-breakpoint
ALTER TABLE "xapi_keys" ADD CONSTRAINT "xapi_keys_kind_check" CHECK (("xapi_keys"."kind" = 'platform' AND "xapi_keys"."platform_id" IS NOT NULL) OR ("xapi_keys"."kind" = 'client' AND "xapi_keys"."name" IS NOT NULL));--> statement-breakpoint
-- Lets one statement refuse itself (and roll back every write it made) with a SQLSTATE of Socle's: the ingest's
-- single statement raises SC409 when a stored statement has the same id and another content, SC40R when a row
-- committed by a concurrent batch after its snapshot must be read again.
CREATE FUNCTION "socle_refuse"(state text, message text) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = state, MESSAGE = message;
END $$;
