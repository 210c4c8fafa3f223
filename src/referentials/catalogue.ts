import { createHash } from 'node:crypto';
import { and, asc, desc, eq, sql } from 'drizzle-orm';
import type { Database, Executor } from '../db/store';
import { referentialCompetencies, referentials } from '../db/schema';
import type { Logger } from '../logger';
import { bundledFiles } from './bundled';
import { conflict, SocleError } from '../domain/errors';
import { invalidReferential } from './errors';
import { type Referential, type ReferentialSummary, referentialFileSchema, referentialSchema, summarize } from '../domain/referential';

/** Arbitrary constant: the advisory lock taken while bundled référentiels are inserted. */
const LOAD_LOCK = 7_105_079_412;

let bundledCache: Referential[] | undefined;

/** The référentiel versions shipped with Socle (`bundled/*.json`), validated; throws on the first invalid file. */
export function bundledReferentials(): Referential[] {
  bundledCache ??= Object.entries(bundledFiles).map(([name, raw]) => {
    const result = referentialFileSchema.safeParse(raw);
    if (!result.success) {
      throw invalidReferential(
        `Invalid bundled référentiel file ${name}.json`,
        result.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message })),
      );
    }
    if (`${result.data.id}@${result.data.version}` !== name) {
      throw invalidReferential(`Bundled file ${name}.json holds ${result.data.id}@${result.data.version}`);
    }
    return result.data;
  });
  return bundledCache;
}

/**
 * SHA-256 of the JSON of a référentiel as `referentialSchema` outputs it (keys in schema order): pass a value
 * that went through the schema (bundled, imported, read back), not a hand-built object.
 */
export function checksum(ref: Referential): string {
  return createHash('sha256').update(JSON.stringify(ref)).digest('hex');
}

export type SaveOutcome = 'added' | 'unchanged';

/**
 * Stores a référentiel version: added when new, unchanged when the same content is already stored, and a
 * a `conflict` error when the id and version exist with another content (nothing is overwritten).
 */
export async function saveReferential(ex: Executor, ref: Referential, origin: string): Promise<SaveOutcome> {
  const valid = referentialSchema.parse(ref);
  const sum = checksum(valid);
  const [existing] = await ex
    .select({ checksum: referentials.checksum })
    .from(referentials)
    .where(and(eq(referentials.id, valid.id), eq(referentials.version, valid.version)));
  if (existing) {
    if (existing.checksum === sum) return 'unchanged';
    throw conflict(
      `${valid.id} version ${valid.version} is already stored with a different content; ` +
        'a changed référentiel needs a new version (stored versions are never overwritten: credits refer to them).',
    );
  }
  await insert(ex, valid, sum, origin);
  return 'added';
}

async function insert(ex: Executor, ref: Referential, sum: string, origin: string): Promise<void> {
  await ex.insert(referentials).values({
    id: ref.id,
    version: ref.version,
    title: ref.title,
    kind: ref.kind,
    requiredMinutes: ref.requiredMinutes,
    content: ref,
    checksum: sum,
    origin,
  });
  let position = 0;
  await ex.insert(referentialCompetencies).values(
    ref.domains.flatMap((domain) =>
      domain.competencies.map((competency) => ({
        referentialId: ref.id,
        version: ref.version,
        key: competency.key,
        domainCode: domain.code,
        code: competency.code,
        title: competency.title,
        requiredMinutes: competency.requiredMinutes,
        position: position++,
      })),
    ),
  );
}

export interface LoadReport {
  added: string[];
  unchanged: number;
  /** Bundled versions whose stored content differs: kept as stored, reported. */
  conflicts: string[];
}

/**
 * Loads the bundled référentiels at start. Idempotent and cheap when nothing changed: one query reads the stored
 * checksums; only new versions are written (in one transaction). A bundled version whose content differs from
 * the stored one is not overwritten: it is reported (logged as an error) so a new version gets published instead.
 */
export async function loadBundledReferentials(db: Database, logger?: Logger): Promise<LoadReport> {
  const bundled = bundledReferentials();
  const stored = new Map(
    (await db.select({ id: referentials.id, version: referentials.version, checksum: referentials.checksum }).from(referentials)).map(
      (r) => [`${r.id}@${r.version}`, r.checksum],
    ),
  );
  const report: LoadReport = { added: [], unchanged: 0, conflicts: [] };
  const toAdd: Referential[] = [];
  for (const ref of bundled) {
    const name = `${ref.id}@${ref.version}`;
    const sum = stored.get(name);
    if (sum === undefined) toAdd.push(ref);
    else if (sum === checksum(ref)) report.unchanged++;
    else report.conflicts.push(name);
  }
  if (toAdd.length) {
    await db.transaction(async (tx) => {
      // Several processes starting on one PostgreSQL database: one loads at a time, the others then find the rows.
      await tx.execute(sql`SELECT pg_advisory_xact_lock(${LOAD_LOCK})`);
      for (const ref of toAdd) {
        // Another process may have added it meanwhile: saveReferential re-checks inside the transaction.
        const outcome = await saveReferential(tx, ref, 'bundled').catch((error: unknown) => {
          if (SocleError.is(error, 'conflict')) return 'conflict' as const;
          throw error;
        });
        if (outcome === 'added') report.added.push(`${ref.id}@${ref.version}`);
        else if (outcome === 'unchanged') report.unchanged++;
        else report.conflicts.push(`${ref.id}@${ref.version}`);
      }
    });
  }
  if (report.added.length) logger?.info({ added: report.added }, `référentiels added: ${report.added.join(', ')}`);
  for (const name of report.conflicts) {
    logger?.error(
      { referential: name },
      `bundled référentiel ${name} differs from the stored version of the same number; the stored one is kept — publish the change as a new version`,
    );
  }
  return report;
}

/** A stored référentiel version; the latest (last added) version when `version` is not given. */
export async function getReferential(ex: Executor, id: string, version?: string): Promise<Referential | undefined> {
  const rows = await ex
    .select({ content: referentials.content })
    .from(referentials)
    .where(version === undefined ? eq(referentials.id, id) : and(eq(referentials.id, id), eq(referentials.version, version)))
    .orderBy(desc(referentials.seq))
    .limit(1);
  const row = rows[0];
  // jsonb does not keep key order: parse again to give every caller the same canonical object.
  return row ? referentialSchema.parse(row.content) : undefined;
}

/** Every stored version, by id then arrival order, with its total hours. */
export async function listReferentials(ex: Executor): Promise<(ReferentialSummary & { latest: boolean })[]> {
  const rows = await ex
    .select({ content: referentials.content, origin: referentials.origin, seq: referentials.seq })
    .from(referentials)
    .orderBy(asc(referentials.id), asc(referentials.seq));
  return rows.map((row, i) => ({
    ...summarize(row.content, row.origin),
    latest: rows[i + 1]?.content.id !== row.content.id,
  }));
}

/** The versions stored for one id, oldest first. */
export async function listVersions(ex: Executor, id: string): Promise<string[]> {
  const rows = await ex
    .select({ version: referentials.version })
    .from(referentials)
    .where(eq(referentials.id, id))
    .orderBy(asc(referentials.seq));
  return rows.map((r) => r.version);
}
