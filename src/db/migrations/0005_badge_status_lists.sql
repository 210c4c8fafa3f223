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
ALTER TABLE "badge_credentials" ADD COLUMN "status_list_id" integer;--> statement-breakpoint
ALTER TABLE "badge_credentials" ADD COLUMN "status_list_index" integer;--> statement-breakpoint
ALTER TABLE "badge_status_revocations" ADD CONSTRAINT "badge_status_revocations_list_id_badge_status_lists_id_fk" FOREIGN KEY ("list_id") REFERENCES "public"."badge_status_lists"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "badge_credentials" ADD CONSTRAINT "badge_credentials_status_list_id_badge_status_lists_id_fk" FOREIGN KEY ("status_list_id") REFERENCES "public"."badge_status_lists"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "badge_credentials_status_entry_idx" ON "badge_credentials" USING btree ("status_list_id","status_list_index");