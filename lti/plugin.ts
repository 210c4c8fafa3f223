import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull, lte, or, sql, type SQL } from 'drizzle-orm';
import type { LtiDatabasePlugin } from 'ltijs';
import { ltiRecords } from '../src/db/schema';
import type { Database } from '../src/db/store';

type Doc = Record<string, unknown>;

/** Each ltijs collection: the fields that identify one row, and how long a row lives (null = kept). */
const COLLECTIONS: Record<string, { key: string[]; lifetimeSeconds: number | null }> = {
  platform: { key: ['platformUrl', 'clientId'], lifetimeSeconds: null },
  platformStatus: { key: ['id'], lifetimeSeconds: null },
  publickey: { key: ['platformUrl', 'clientId'], lifetimeSeconds: null },
  privatekey: { key: ['platformUrl', 'clientId'], lifetimeSeconds: null },
  accesstoken: { key: ['platformUrl', 'clientId', 'scopes'], lifetimeSeconds: 3600 },
  idtoken: { key: ['iss', 'clientId', 'deploymentId', 'user'], lifetimeSeconds: 24 * 3600 },
  contexttoken: { key: ['contextId', 'user'], lifetimeSeconds: 24 * 3600 },
  nonce: { key: ['nonce'], lifetimeSeconds: 10 },
  state: { key: ['state'], lifetimeSeconds: 600 },
  // Socle's own: the nonce issued at login with its state, taken once by the id_token post (launch-checks.ts).
  login: { key: ['state'], lifetimeSeconds: 600 },
};

export class LtiStoreError extends Error {
  override name = 'LtiStoreError';
}

export interface LtiPluginOptions {
  /** ltijs' `tokenMaxAge`: a nonce must be remembered at least that long, or a replayed id_token passes. */
  tokenMaxAgeSeconds: number;
  /** How far ahead of Socle a platform's `iat` may be: a token is acceptable until `iat + tokenMaxAge`. */
  clockSkewSeconds: number;
}

function spec(collection: string) {
  const s = COLLECTIONS[collection];
  if (!s) throw new LtiStoreError(`unknown ltijs collection "${collection}"`);
  return s;
}

/** ltijs filters by equality on top-level scalar fields; anything else would silently widen or break a match. */
function checkQuery(collection: string, query: Doc | undefined): Doc {
  if (query === undefined) return {};
  for (const [field, value] of Object.entries(query)) {
    if (value === undefined) throw new LtiStoreError(`query on ${collection} has an undefined value for "${field}"`);
    if (value !== null && typeof value === 'object') {
      throw new LtiStoreError(`query on ${collection} compares "${field}" with an object: only scalar equality is supported`);
    }
  }
  return query;
}

function naturalKey(collection: string, doc: Doc): string {
  const values = spec(collection).key.map((field) => {
    const v = doc[field];
    if (v === undefined || v === null) throw new LtiStoreError(`${collection} row has no "${field}"`);
    return v;
  });
  return JSON.stringify(values);
}

/** Drops undefined values (what JSON would do) so they are not mistaken for stored fields. */
function clean(doc: Doc): Doc {
  return JSON.parse(JSON.stringify(doc)) as Doc;
}

function aesKey(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

export function encrypt(data: string, secret: string): { iv: string; data: string } {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-256-cbc', aesKey(secret), iv);
  return { iv: iv.toString('hex'), data: Buffer.concat([cipher.update(data), cipher.final()]).toString('hex') };
}

export function decrypt(data: string, iv: string, secret: string): string {
  const decipher = createDecipheriv('aes-256-cbc', aesKey(secret), Buffer.from(iv, 'hex'));
  return Buffer.concat([decipher.update(Buffer.from(data, 'hex')), decipher.final()]).toString();
}

/**
 * ltijs' database plugin on Socle's store, for both drivers. The contract (from ltijs' own Mongo class):
 * `Get` returns false when nothing matches; `Replace` is an upsert (one transaction: delete the matches,
 * insert-or-update on the natural key); encrypted rows are `{...index, iv, data}` and come back decrypted with
 * `createdAt` as epoch milliseconds; expired rows are filtered on read and deleted by `purge()`, a tick of the
 * server's worker loop (`startLtiPurge` in runtime.ts).
 */
export class PgLtiDatabase implements LtiDatabasePlugin {
  private readonly lifetimes: Record<string, number | null>;

  constructor(
    private readonly db: Database,
    options: LtiPluginOptions,
  ) {
    this.lifetimes = Object.fromEntries(Object.entries(COLLECTIONS).map(([name, s]) => [name, s.lifetimeSeconds]));
    // A token is accepted from `iat - skew` (first seen, nonce stored) to `iat + maxAge`: its nonce outlives that.
    this.lifetimes.nonce = Math.max(10, options.tokenMaxAgeSeconds + options.clockSkewSeconds);
  }

  lifetimeSeconds(collection: string): number | null {
    spec(collection);
    return this.lifetimes[collection] ?? null;
  }

  /** ltijs' contract: nothing to prepare, the store is open and migrated. */
  async setup(): Promise<true> {
    return true;
  }

  /** ltijs' contract: nothing to release, the store belongs to the server (which closes it). */
  async Close(): Promise<true> {
    return true;
  }

  /** Deletes expired rows; returns how many. */
  async purge(): Promise<number> {
    const deleted = await this.db
      .delete(ltiRecords)
      .where(lte(ltiRecords.expiresAt, sql`now()`))
      .returning({ id: ltiRecords.id });
    return deleted.length;
  }

  private where(collection: string, query: Doc): SQL {
    const conditions: SQL[] = [
      eq(ltiRecords.collection, collection),
      or(isNull(ltiRecords.expiresAt), sql`${ltiRecords.expiresAt} > now()`) as SQL,
    ];
    if (Object.keys(query).length) conditions.push(sql`${ltiRecords.doc} @> ${JSON.stringify(query)}::jsonb`);
    return and(...conditions) as SQL;
  }

  private expiresAt(collection: string): SQL | null {
    const seconds = this.lifetimeSeconds(collection);
    return seconds === null ? null : sql`now() + make_interval(secs => ${seconds})`;
  }

  /** Deletes the live rows matching `query` and returns them: one caller gets each row, once (any process). */
  async take(collection: string, query: Doc): Promise<Doc[]> {
    const q = checkQuery(collection, query);
    if (!Object.keys(q).length) throw new LtiStoreError(`take on ${collection} needs a query`);
    const rows = await this.db.delete(ltiRecords).where(this.where(collection, q)).returning({ doc: ltiRecords.doc });
    return rows.map((row) => row.doc as Doc);
  }

  async Get(key: string | false, collection: string, query?: Doc): Promise<Doc[] | false> {
    spec(collection);
    const rows = await this.db
      .select({ doc: ltiRecords.doc, createdAt: ltiRecords.createdAt })
      .from(ltiRecords)
      .where(this.where(collection, checkQuery(collection, query)))
      .orderBy(ltiRecords.id);
    if (rows.length === 0) return false;
    return rows.map(({ doc, createdAt }) => {
      const stored = doc as Doc;
      if (!key) return { ...stored, createdAt };
      const plain = JSON.parse(decrypt(String(stored.data), String(stored.iv), key)) as Doc;
      return { ...plain, createdAt: createdAt.getTime() };
    });
  }

  private stored(key: string | false, collection: string, item: Doc, index: Doc | undefined): Doc {
    if (!item) throw new LtiStoreError(`missing item for ${collection}`);
    if (!key) return clean(item);
    if (!index) throw new LtiStoreError(`encrypted ${collection} rows need an index`);
    return clean({ ...index, ...encrypt(JSON.stringify(item), key) });
  }

  async Insert(key: string | false, collection: string, item: Doc, index?: Doc): Promise<true> {
    const doc = this.stored(key, collection, item, index);
    const inserted = await this.db
      .insert(ltiRecords)
      .values({ collection, naturalKey: naturalKey(collection, doc), doc, expiresAt: this.expiresAt(collection) })
      .onConflictDoUpdate({
        target: [ltiRecords.collection, ltiRecords.naturalKey],
        set: { doc, createdAt: sql`now()`, expiresAt: this.expiresAt(collection) },
        // Only an expired row may be taken over: a live duplicate (a replayed nonce) is an error.
        setWhere: lte(ltiRecords.expiresAt, sql`now()`),
      })
      .returning({ id: ltiRecords.id });
    if (inserted.length === 0) throw new LtiStoreError(`${collection} ${naturalKey(collection, doc)} already exists`);
    return true;
  }

  async Replace(key: string | false, collection: string, query: Doc, item: Doc, index?: Doc): Promise<true> {
    const q = checkQuery(collection, query);
    const doc = this.stored(key, collection, item, index);
    const nk = naturalKey(collection, doc);
    await this.db.transaction(async (tx) => {
      await tx.delete(ltiRecords).where(and(this.where(collection, q), sql`${ltiRecords.naturalKey} <> ${nk}`));
      await tx
        .insert(ltiRecords)
        .values({ collection, naturalKey: nk, doc, expiresAt: this.expiresAt(collection) })
        .onConflictDoUpdate({
          target: [ltiRecords.collection, ltiRecords.naturalKey],
          set: { doc, createdAt: sql`now()`, expiresAt: this.expiresAt(collection) },
        });
    });
    return true;
  }

  async Modify(key: string | false, collection: string, query: Doc, modification: Doc): Promise<true> {
    const q = checkQuery(collection, query);
    if (!modification) throw new LtiStoreError(`missing modification for ${collection}`);
    await this.db.transaction(async (tx) => {
      const [row] = await tx
        .select({ id: ltiRecords.id, doc: ltiRecords.doc })
        .from(ltiRecords)
        .where(this.where(collection, q))
        .orderBy(ltiRecords.id)
        .limit(1)
        .for('update');
      if (!row) return;
      const current = row.doc as Doc;
      let next: Doc;
      if (key) {
        const plain = JSON.parse(decrypt(String(current.data), String(current.iv), key)) as Doc;
        next = { ...current, ...encrypt(JSON.stringify({ ...plain, ...clean(modification) }), key) };
      } else {
        next = { ...current, ...clean(modification) };
      }
      await tx
        .update(ltiRecords)
        .set({ doc: next, naturalKey: naturalKey(collection, next) })
        .where(eq(ltiRecords.id, row.id));
    });
    return true;
  }

  async Delete(collection: string, query: Doc): Promise<true> {
    if (!query) throw new LtiStoreError(`Delete on ${collection} needs a query`);
    const q = checkQuery(collection, query);
    const conditions: SQL[] = [eq(ltiRecords.collection, collection)];
    if (Object.keys(q).length) conditions.push(sql`${ltiRecords.doc} @> ${JSON.stringify(q)}::jsonb`);
    await this.db.delete(ltiRecords).where(and(...conditions));
    return true;
  }

  async Encrypt(data: string, secret: string) {
    return encrypt(data, secret);
  }

  async Decrypt(data: string, iv: string, secret: string) {
    return decrypt(data, iv, secret);
  }
}
