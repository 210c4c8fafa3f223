CREATE TABLE "statement_id_scheme" (
	"one" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"time_ordered_since" timestamp with time zone NOT NULL,
	CONSTRAINT "statement_id_scheme_one_check" CHECK ("statement_id_scheme"."one")
);
--> statement-breakpoint
-- a store that already holds statements begins a day from now (their version-5 ids stay theirs, and the processes of the
-- previous version still running during an upgrade, which derive version-5 ids, agree for that day); a new one, from the start
INSERT INTO "statement_id_scheme" ("time_ordered_since") SELECT CASE WHEN EXISTS (SELECT 1 FROM "xapi_statements") THEN now() + interval '1 day' ELSE timestamptz '1970-01-01 00:00:00+00' END;
