ALTER TABLE "xapi_outbox" ALTER COLUMN "statement" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "coverage_dirty" ADD COLUMN "generation" bigserial NOT NULL;--> statement-breakpoint
-- Lets one statement refuse itself (and roll back every write it made) with a SQLSTATE of Socle's: the ingest's
-- single statement raises SC409 when a stored statement has the same id and another content, SC40R when a row
-- committed by a concurrent batch after its snapshot must be read again.
CREATE FUNCTION "socle_refuse"(state text, message text) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION USING ERRCODE = state, MESSAGE = message;
END $$;
