import { createHmac, randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { and, eq, sql } from 'drizzle-orm';
import { badgeStatusLists } from '../db/schema';
import { type Executor, queryRows } from '../db/store';
import { urls } from './achievements';
import { activeSigningKey, signVcJwt } from './keys';

/**
 * Revocation by W3C Bitstring Status List v1.0: every credential carries a `BitstringStatusListEntry` (purpose
 * `revocation`) pointing at one index of a list of 131,072 bits; the list is published as a signed
 * `BitstringStatusListCredential` at `/badges/status/<list id>`, whose bit at that index is 1 once it is revoked.
 *
 * Indexes: the n-th credential placed (a PostgreSQL sequence, so issuers never wait on each other) takes position
 * n mod 131,072 of list n div 131,072, and the position goes through a keyed permutation of the list's indexes
 * (a 4-round Feistel network with cycle-walking), so indexes are unused by construction yet look random and do not
 * tell the order of issue (the spec's herd privacy).
 */

/** Bits per list: the W3C spec's minimum (16 KB uncompressed). */
export const STATUS_LIST_SIZE = 131_072;
const HALF_BITS = 9; // 2 × 9 bits = 262,144 ≥ 131,072: cycle-walk down to the list size
const HALF_MASK = (1 << HALF_BITS) - 1;

export const VC_V2_CONTEXT = 'https://www.w3.org/ns/credentials/v2';

export interface StatusEntry {
  listId: number;
  index: number;
}

/** The keyed permutation of [0, size): position → index. */
export function permuteIndex(key: Buffer, position: number, size: number = STATUS_LIST_SIZE): number {
  if (!Number.isInteger(position) || position < 0 || position >= size || size > 1 << (2 * HALF_BITS)) {
    throw new RangeError(`position ${position} outside [0, ${size})`);
  }
  const round = (r: number, half: number) => createHmac('sha256', key).update(`${r}:${half}`).digest().readUInt16BE(0) & HALF_MASK;
  let value = position;
  do {
    let left = value >> HALF_BITS;
    let right = value & HALF_MASK;
    for (let r = 0; r < 4; r++) [left, right] = [right, left ^ round(r, right)];
    value = (left << HALF_BITS) | right;
  } while (value >= size);
  return value;
}

/**
 * Places `count` new credentials in the status lists (creating a list when the numbers reach it) and returns
 * their entries. Numbers of a rolled-back transaction are lost, never reused: an index is used at most once.
 */
export async function allocateStatusEntries(ex: Executor, count: number): Promise<StatusEntry[]> {
  if (count <= 0) return [];
  const numbers = await queryRows<{ n: string }>(ex, sql`SELECT nextval('badge_status_allocation_seq')::text AS n FROM generate_series(1, ${count})`);
  const keys = new Map<number, Buffer>();
  const entries: StatusEntry[] = [];
  for (const { n } of numbers) {
    const number = Number(n);
    const listId = Math.floor(number / STATUS_LIST_SIZE);
    let key = keys.get(listId);
    if (!key) {
      await ex
        .insert(badgeStatusLists)
        .values({ id: listId, size: STATUS_LIST_SIZE, permutationKey: randomBytes(32).toString('hex') })
        .onConflictDoNothing();
      const [row] = await ex.select({ key: badgeStatusLists.permutationKey }).from(badgeStatusLists).where(eq(badgeStatusLists.id, listId));
      if (!row) throw new Error(`status list ${listId} vanished`);
      keys.set(listId, (key = Buffer.from(row.key, 'hex')));
    }
    entries.push({ listId, index: permuteIndex(key, number % STATUS_LIST_SIZE) });
  }
  return entries;
}

/** The `credentialStatus` of a credential (W3C `BitstringStatusListEntry`; `statusListIndex` as a string). */
export function statusEntryJson(publicUrl: string, entry: StatusEntry) {
  const list = urls.statusList(publicUrl, entry.listId);
  return {
    id: `${list}#${entry.index}`,
    type: 'BitstringStatusListEntry',
    statusPurpose: 'revocation',
    statusListIndex: String(entry.index),
    statusListCredential: list,
  };
}

/** `encodedList`: the bitstring (index 0 = the left-most bit of the first byte) GZIP-compressed, multibase base64url. */
export function encodeBitstring(setIndexes: Iterable<number>, size: number = STATUS_LIST_SIZE): string {
  const bytes = Buffer.alloc(Math.ceil(size / 8));
  for (const i of setIndexes) {
    if (!Number.isInteger(i) || i < 0 || i >= size) throw new RangeError(`index ${i} outside the list`);
    bytes[i >> 3] = (bytes[i >> 3] as number) | (0x80 >> (i & 7));
  }
  return `u${gzipSync(bytes).toString('base64url')}`;
}

/** The bits of an `encodedList`; throws on anything else than multibase base64url of GZIP. */
export function decodeBitstring(encodedList: string): Buffer {
  if (!encodedList.startsWith('u')) throw new Error('encodedList is not multibase base64url (prefix "u")');
  return gunzipSync(Buffer.from(encodedList.slice(1), 'base64url'), { maxOutputLength: 16 * 1024 * 1024 });
}

/** Whether bit `index` is set (false past the end is not possible: the caller checks the length). */
export function bitAt(bits: Buffer, index: number): boolean {
  return ((bits[index >> 3] as number) & (0x80 >> (index & 7))) !== 0;
}

/**
 * Sets the bits of these (just revoked) credentials, in the revoking transaction: their lists' next publication is
 * signed again. An INSERT, so concurrent revocations never wait on each other; the bit outlives the credential row.
 */
export async function touchStatusLists(ex: Executor, credentialIds: readonly string[]): Promise<void> {
  if (credentialIds.length === 0) return;
  await ex.execute(
    sql`INSERT INTO badge_status_revocations (list_id, status_index)
        SELECT status_list_id, status_list_index FROM badge_credentials
        WHERE status_list_id IS NOT NULL AND id = ANY(string_to_array(${credentialIds.join(',')}, ',')::uuid[])
        ON CONFLICT DO NOTHING`,
  );
}

/** A list's revision (its committed bits), and with `withBits` the bits, read in one snapshot. */
async function listState(ex: Executor, listId: number, withBits: boolean): Promise<{ revision: number; revoked: number[] }> {
  const [row] = await queryRows<{ revision: number; revoked: number[] | null }>(
    ex,
    sql`SELECT (SELECT count(*) FROM badge_status_revocations WHERE list_id = ${listId})::int AS revision,
               ${withBits ? sql`(SELECT json_agg(status_index) FROM badge_status_revocations WHERE list_id = ${listId})` : sql`NULL::json`} AS revoked`,
  );
  return { revision: Number(row?.revision ?? 0), revoked: row?.revoked ?? [] };
}

/** The unsigned BitstringStatusListCredential of a list with these bits set. */
export function statusListCredentialJson(publicUrl: string, listId: number, revoked: Iterable<number>, now: Date, size: number = STATUS_LIST_SIZE) {
  const id = urls.statusList(publicUrl, listId);
  return {
    '@context': [VC_V2_CONTEXT],
    id,
    type: ['VerifiableCredential', 'BitstringStatusListCredential'],
    issuer: urls.issuer(publicUrl),
    validFrom: new Date(Math.floor(now.getTime() / 1000) * 1000).toISOString(),
    credentialSubject: {
      id: `${id}#list`,
      type: 'BitstringStatusList',
      statusPurpose: 'revocation',
      encodedList: encodeBitstring(revoked, size),
    },
  };
}

export interface PublishedStatusList {
  jwt: string;
  revision: number;
  signedAt: Date;
}

/**
 * The signed status list as published: the stored VC-JWT, signed again first when a revocation changed the list
 * since (its bits read from the credentials revoked in it). Undefined for a list that does not exist.
 */
export async function publishedStatusList(
  ex: Executor,
  ctx: { config: { publicUrl: string; ltiKey: string } },
  listId: number,
  now: Date = new Date(),
): Promise<PublishedStatusList | undefined> {
  if (!Number.isSafeInteger(listId) || listId < 0) return undefined;
  const [list] = await ex.select().from(badgeStatusLists).where(eq(badgeStatusLists.id, listId));
  if (!list) return undefined;
  if (list.jwt && list.signedAt && list.signedRevision === (await listState(ex, listId, false)).revision) {
    return { jwt: list.jwt, revision: list.signedRevision, signedAt: list.signedAt };
  }
  // bits and revision from one snapshot: a revocation committed later raises the count, and the next request signs again
  const { revision, revoked } = await listState(ex, listId, true);
  const { publicUrl, ltiKey } = ctx.config;
  const credential = statusListCredentialJson(publicUrl, listId, revoked, now, list.size);
  const jwt = await signVcJwt(await activeSigningKey(ex, ltiKey), publicUrl, credential);
  const signedAt = new Date(credential.validFrom);
  await ex
    .update(badgeStatusLists)
    .set({ jwt, signedRevision: revision, signedAt })
    .where(and(eq(badgeStatusLists.id, listId), sql`(${badgeStatusLists.signedRevision} IS NULL OR ${badgeStatusLists.signedRevision} < ${revision})`));
  return { jwt, revision, signedAt };
}
