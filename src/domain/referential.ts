import { z } from 'zod';

/**
 * Référentiels: a référentiel version → domains (blocks of a certification) → competencies.
 *
 * Two shapes share these definitions:
 * - the **data files** in `bundled/` (`<id>@<version>.json`) write hours as the sources print them (`"hours": 6`,
 *   decimals allowed, `null` or absent when the source gives none): `referentialFileSchema`;
 * - the **model** everything else uses (database, HTTP, exports) holds integer minutes (`requiredMinutes`):
 *   `referentialSchema`, type `Referential`.
 *
 * Every other shape of a référentiel in Socle is a projection of `referentialSchema` (see "Projections" below):
 * `pick`/`omit` of these schemas, never a field declared again.
 *
 * Competencies are designated by (référentiel id, version, competency `key`). The printed `code` is not unique:
 * the assistants de régulation médicale référentiel prints two different competencies "4.1". `key` defaults to
 * the code in data files and must be unique within a référentiel version; where a code repeats, the data file
 * gives an explicit key (`4.1b`). Keys never change once published, since credits refer to them.
 */

export const ID_PATTERN = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
export const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
export const KEY_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._]{0,63}$/;

const text = z.string().trim().min(1, 'must not be empty');

/** An anomaly or a modelling decision, with where in the source it comes from (file, lines). */
export const noteSchema = z.strictObject({ location: text, text });
export type Note = z.infer<typeof noteSchema>;

/** How a competency (or an activity, a block) is assessed, as printed in the source. */
export const evaluationSchema = z.strictObject({ modalities: text.optional(), criteria: text.optional() });
export type Evaluation = z.infer<typeof evaluationSchema>;

/** An activity of a certification référentiel (the "référentiel d'activités" column); competencies point to it. */
export const activitySchema = z.strictObject({ code: text, title: text, evaluation: evaluationSchema.optional() });
export type Activity = z.infer<typeof activitySchema>;

export const sourceSchema = z.strictObject({
  document: text,
  section: text.optional(),
  /** First and last line of the référentiel in the document (1-based, inclusive). */
  lines: z.tuple([z.number().int().positive(), z.number().int().positive()]).optional(),
});

export const KINDS = ['socle', 'modules', 'certification'] as const;

const minutes = z.number().int('must be a whole number of minutes').nonnegative().nullable();

/** A domain's competencies, a référentiel's domains: never empty, in every shape. */
const competencyList = <T extends z.ZodType>(competency: T) => z.array(competency).min(1, 'a domain has at least one competency');
const domainList = <T extends z.ZodType>(domain: T) => z.array(domain).min(1, 'a référentiel has at least one domain');

interface Tree {
  domains: readonly { code: string; activities?: readonly { code: string }[]; competencies: readonly { key: string; activity?: string | undefined }[] }[];
}

/** Domain codes and competency keys are unique; a competency's activity is one of its domain's (when it has activities). */
function checkCodesAndKeys<T extends Tree>(ref: T, ctx: z.RefinementCtx<T>): void {
  const domainCodes = new Set<string>();
  const keys = new Set<string>();
  ref.domains.forEach((domain, d) => {
    if (domainCodes.has(domain.code)) {
      ctx.addIssue({ code: 'custom', path: ['domains', d, 'code'], message: `duplicate domain code "${domain.code}"` });
    }
    domainCodes.add(domain.code);
    const activities = new Set((domain.activities ?? []).map((a) => a.code));
    domain.competencies.forEach((competency, c) => {
      if (keys.has(competency.key)) {
        ctx.addIssue({
          code: 'custom',
          path: ['domains', d, 'competencies', c, 'key'],
          message: `duplicate competency key "${competency.key}": give one of them an explicit unique key`,
        });
      }
      keys.add(competency.key);
      if (competency.activity !== undefined && !activities.has(competency.activity)) {
        ctx.addIssue({
          code: 'custom',
          path: ['domains', d, 'competencies', c, 'activity'],
          message: `activity "${competency.activity}" is not an activity of domain "${domain.code}"`,
        });
      }
    });
  });
}

export const competencySchema = z.strictObject({
  key: z.string().regex(KEY_PATTERN, 'letters, digits, "." or "_", at most 64'),
  code: text,
  title: text,
  requiredMinutes: minutes.default(null),
  capacities: z.array(text).default([]),
  /** Code of the activity of the domain this competency belongs to (certification référentiels). */
  activity: text.optional(),
  evaluation: evaluationSchema.optional(),
  notes: z.array(noteSchema).default([]),
});

export const domainSchema = z.strictObject({
  code: text,
  title: text,
  requiredMinutes: minutes.default(null),
  activities: z.array(activitySchema).default([]),
  evaluation: evaluationSchema.optional(),
  notes: z.array(noteSchema).default([]),
  competencies: competencyList(competencySchema),
});

const referentialObject = z.strictObject({
    id: z.string().regex(ID_PATTERN, 'a lowercase slug such as socle-sante-niveaux-4-8'),
    version: z.string().regex(VERSION_PATTERN, 'letters, digits, ".", "_" or "-", at most 64'),
    title: text,
    publisher: text.optional(),
    kind: z.enum(KINDS),
    /** Professions, or the certification, the référentiel applies to. */
    appliesTo: z.array(text).default([]),
    source: sourceSchema.optional(),
    requiredMinutes: minutes.default(null),
    notes: z.array(noteSchema).default([]),
    domains: domainList(domainSchema),
});

export const referentialSchema = referentialObject.superRefine(checkCodesAndKeys);

/** A référentiel version as every module sees it: hours are integer minutes. */
export type Referential = z.infer<typeof referentialSchema>;
export type Domain = Referential['domains'][number];
export type Competency = Domain['competencies'][number];

/** Hours as printed (6, 1.5, null) → integer minutes; fractions of a minute are refused. */
const hours = z
  .number()
  .nonnegative()
  .finite()
  .refine((h) => Math.abs(h * 60 - Math.round(h * 60)) < 1e-9, 'must be a whole number of minutes (e.g. 1.5, not 1.51)')
  .nullable()
  .optional()
  .transform((h) => (h === null || h === undefined ? null : Math.round(h * 60)));

const competencyFileSchema = competencySchema
  .omit({ key: true, requiredMinutes: true })
  .extend({ key: competencySchema.shape.key.optional(), hours });

const domainFileSchema = domainSchema
  .omit({ requiredMinutes: true, competencies: true })
  .extend({ hours, competencies: competencyList(competencyFileSchema) });

/** A bundled data file: hours as in the source, competency keys defaulting to their codes. */
export const referentialFileSchema = referentialObject
  .omit({ requiredMinutes: true, domains: true })
  .extend({ hours, domains: domainList(domainFileSchema) })
  .transform((file, ctx): Referential => {
    const { hours: total, domains, ...rest } = file;
    const result = referentialSchema.safeParse({
      ...rest,
      requiredMinutes: total,
      domains: domains.map(({ hours: domainMinutes, competencies, ...domain }) => ({
        ...domain,
        requiredMinutes: domainMinutes,
        competencies: competencies.map(({ hours: competencyMinutes, key, ...competency }) => ({
          ...competency,
          key: key ?? competency.code,
          requiredMinutes: competencyMinutes,
        })),
      })),
    });
    if (result.success) return result.data;
    for (const issue of result.error.issues) {
      ctx.addIssue({ code: 'custom', path: issue.path as PropertyKey[], message: issue.message });
    }
    return z.NEVER;
  });

/*
 * Projections: what other modules read of a référentiel version, derived from the schemas above (same fields, same
 * validation). They strip unknown fields, so a whole `Referential` is accepted (and reduced) where one is expected.
 */

/** A reference to a référentiel version: how records, statements and report rows name it. */
export const referentialRefSchema = referentialObject.pick({ id: true, version: true }).strip();
export type ReferentialRef = z.infer<typeof referentialRefSchema>;

/** A reference with the référentiel's title, for what people read (coverage, attestations). */
export const titledReferentialRefSchema = referentialRefSchema.extend({ title: referentialObject.shape.title });
export type TitledReferentialRef = z.infer<typeof titledReferentialRefSchema>;

const competencyOutlineSchema = competencySchema.pick({ key: true, code: true, title: true, requiredMinutes: true }).strip();
const domainOutlineSchema = domainSchema
  .pick({ code: true, title: true, requiredMinutes: true })
  .strip()
  .extend({ competencies: competencyList(competencyOutlineSchema) });

/**
 * The outline of a référentiel version: its tree of domains and competencies with codes, keys, titles and minutes,
 * without the texts for people (capacities, evaluation, notes, source). What the coverage rules, the mapping rules
 * and the badges compute with; hours are integer minutes, as in `Referential`, so no conversion is needed.
 */
export const referentialOutlineSchema = titledReferentialRefSchema
  .extend({ requiredMinutes: referentialObject.shape.requiredMinutes, domains: domainList(domainOutlineSchema) })
  .superRefine(checkCodesAndKeys);
export type ReferentialOutline = z.infer<typeof referentialOutlineSchema>;

/**
 * The fields of a référentiel version without its domains, of a domain without its competencies: what file formats
 * carry beside their own structure to give back the whole référentiel (see `referentials/formats/`).
 */
export const referentialFieldsSchema = referentialObject.omit({ domains: true }).strip();
export const domainFieldsSchema = domainSchema.omit({ competencies: true }).strip();

/** A short description of a référentiel version, for lists. */
export interface ReferentialSummary extends Pick<Referential, 'id' | 'version' | 'title' | 'kind' | 'requiredMinutes'> {
  domains: number;
  competencies: number;
  origin: string;
}

export function summarize(ref: Referential, origin: string): ReferentialSummary {
  return {
    id: ref.id,
    version: ref.version,
    title: ref.title,
    kind: ref.kind,
    requiredMinutes: ref.requiredMinutes,
    domains: ref.domains.length,
    competencies: ref.domains.reduce((n, d) => n + d.competencies.length, 0),
    origin,
  };
}

/**
 * Where hours given at two levels disagree: the total vs the sum of domains (when every domain has hours), and a
 * domain vs the sum of its competencies (when every competency has hours). Empty when consistent.
 */
export function hourMismatches(ref: Referential): string[] {
  const out: string[] = [];
  const sum = (values: (number | null)[]) =>
    values.every((v) => v !== null) ? values.reduce<number>((a, b) => a + (b ?? 0), 0) : null;
  const domainSum = sum(ref.domains.map((d) => d.requiredMinutes));
  if (ref.requiredMinutes !== null && domainSum !== null && domainSum !== ref.requiredMinutes) {
    out.push(`${ref.id}@${ref.version}: total ${ref.requiredMinutes} min ≠ sum of domains ${domainSum} min`);
  }
  for (const domain of ref.domains) {
    const competencySum = sum(domain.competencies.map((c) => c.requiredMinutes));
    if (domain.requiredMinutes !== null && competencySum !== null && competencySum !== domain.requiredMinutes) {
      out.push(
        `${ref.id}@${ref.version} domain ${domain.code}: ${domain.requiredMinutes} min ≠ sum of competencies ${competencySum} min`,
      );
    }
  }
  return out;
}

/**
 * A key for a competency read from a file without Socle keys (a foreign CASE package or Moodle CSV): the code
 * with characters outside the key alphabet replaced by "_", suffixed b, c… when already used (as "4.1b").
 */
export function uniqueKey(code: string, used: Set<string>): string {
  const base = code.replace(/[^A-Za-z0-9._]/g, '_').replace(/^[._]+/, '').slice(0, 60) || 'c';
  let key = base;
  for (let i = 1; used.has(key); i++) key = `${base}${String.fromCharCode(97 + (i % 26))}${i >= 26 ? Math.floor(i / 26) : ''}`;
  used.add(key);
  return key;
}
