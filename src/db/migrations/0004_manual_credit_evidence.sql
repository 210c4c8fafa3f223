CREATE TABLE "manual_credit_evidence" (
	"credit_id" integer PRIMARY KEY NOT NULL,
	"file_name" text NOT NULL,
	"content_type" text NOT NULL,
	"size" integer NOT NULL,
	"sha256" text NOT NULL,
	"data" "bytea" NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "manual_credit_evidence_size_check" CHECK ("manual_credit_evidence"."size" > 0 AND "manual_credit_evidence"."size" = octet_length("manual_credit_evidence"."data"))
);
--> statement-breakpoint
ALTER TABLE "manual_credit_evidence" ADD CONSTRAINT "manual_credit_evidence_credit_id_manual_credits_id_fk" FOREIGN KEY ("credit_id") REFERENCES "public"."manual_credits"("id") ON DELETE cascade ON UPDATE no action;