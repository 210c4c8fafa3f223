/**
 * Inputs of the coverage rules (règles de crédit et de couverture), as zod schemas and the types they infer.
 * Every duration is an integer number of minutes. Parse at the boundary; the rules themselves take the types.
 */
import { z } from 'zod';
import { referentialOutlineSchema, type ReferentialOutline } from './referential';

const minutes = z.number().int().nonnegative();

/**
 * The référentiel version the rules compute with: its outline (domains, competency keys and codes, titles, minutes),
 * derived from the one référentiel schema in referential.ts. Competency keys are unique within the version (codes
 * may repeat: the ARM référentiel prints two "4.1"); a competency's `requiredMinutes` is its own hours (a cap), or null.
 */
export const referentialVersionSchema = referentialOutlineSchema;

export const completionEventSchema = z.object({
  /** The statement id when known; identifies the event for voiding and de-duplication. */
  id: z.string().min(1).optional(),
  activityId: z.string().min(1),
  courseId: z.number().int(),
  kind: z.enum(['completed', 'uncompleted']),
  /** null: the statement carries no success (no pass/fail criterion applies). */
  success: z.boolean().nullable(),
  durationSeconds: z.number().nonnegative().nullable(),
  /** Epoch milliseconds of the statement's timestamp. */
  timestamp: z.number().int(),
  /** Arrival order / position in its batch: the tiebreaker between equal timestamps. */
  sequence: z.number().int(),
  voided: z.boolean(),
});

export const mappingSchema = z.object({
  courseId: z.number().int(),
  activityId: z.string().min(1),
  competencyKey: z.string().min(1),
  minutes,
});

export const creditingPolicySchema = z.object({
  /** Credit only completions whose success is not false (see docs/coverage-rules.md). */
  requireSuccess: z.boolean(),
  /** Credit the lesser of the nominal minutes and the measured duration, split proportionally. */
  capToMeasuredDuration: z.boolean(),
});

export const coursePolicySchema = creditingPolicySchema.extend({ courseId: z.number().int() });

export const manualCreditSchema = z.object({
  id: z.number().int().positive(),
  competencyKey: z.string().min(1),
  minutes,
  justification: z.string().trim().min(1, 'a manual credit needs a justification'),
  revoked: z.boolean(),
});

export type ReferentialVersion = ReferentialOutline;
export type CompletionEvent = z.infer<typeof completionEventSchema>;
export type Mapping = z.infer<typeof mappingSchema>;
export type CreditingPolicy = z.infer<typeof creditingPolicySchema>;
export type CoursePolicy = z.infer<typeof coursePolicySchema>;
export type ManualCredit = z.infer<typeof manualCreditSchema>;

/** Completion is enough; nominal minutes. */
export const DEFAULT_POLICY: CreditingPolicy = Object.freeze({ requireSuccess: false, capToMeasuredDuration: false });
