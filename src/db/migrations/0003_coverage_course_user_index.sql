DROP INDEX "completion_events_course_idx";--> statement-breakpoint
CREATE INDEX "completion_events_course_user_idx" ON "completion_events" USING btree ("course_id","user_id");