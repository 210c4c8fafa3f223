import fs from 'node:fs';
import path from 'node:path';
import type { Executor } from '../../src/db/store';
import { ensurePlatform } from '../../src/identity/records';
import { createXapiKey } from '../../src/xapi/keys';

export const MOODLE = 'http://127.0.0.1:8181';
const fixtures = path.join(__dirname, '..', 'fixtures', 'moodle-4.3');

export type Statement = Record<string, unknown>;

/** The 34 captured logstore_xapi request bodies, in capture order. */
export function moodleBatches(): { file: string; body: Statement[] }[] {
  const index = JSON.parse(fs.readFileSync(path.join(fixtures, 'logstore-xapi-batches.index.json'), 'utf8')) as { file: string }[];
  return index.map(({ file }) => ({ file, body: JSON.parse(fs.readFileSync(path.join(fixtures, file), 'utf8')) as Statement[] }));
}

export function moodleBatch(prefix: string): Statement[] {
  const found = moodleBatches().find((b) => b.file.startsWith(`logstore-xapi-batch-${prefix}`));
  if (!found) throw new Error(`no batch ${prefix}`);
  return found.body;
}

/**
 * A batch of `size` statements in logstore_xapi's shape (viewed, uncompleted, completed… of one course), for
 * learner `sub`, starting at `start` seconds after a fixed instant.
 */
export function generatedBatch(size: number, sub: string, start = 0, issuer = MOODLE): Statement[] {
  const template = moodleBatch('05') as Statement[];
  const out: Statement[] = [];
  for (let i = 0; i < size; i++) {
    const base = structuredClone(template[i % 3]) as Statement & {
      actor: { account: { name: string; homePage: string } };
      object: { id: string };
      timestamp: string;
    };
    base.actor = { ...base.actor, account: { homePage: issuer, name: sub } };
    const cmid = 100 + Math.floor(i / 3);
    base.object.id = `${issuer}/mod/page/view.php?id=${cmid}`;
    base.timestamp = new Date(Date.UTC(2026, 10, 22, 10, 0, 0) + (start + Math.floor(i / 3)) * 1000).toISOString();
    out.push(base);
  }
  return out;
}

export function basic(key: string, secret: string): string {
  return `Basic ${Buffer.from(`${key}:${secret}`).toString('base64')}`;
}

/** Registers the platform `issuer` (as logstore_xapi's wwwroot) with an xAPI key: the Basic header that key sends. */
export async function platformKeyAuth(ex: Executor, issuer = MOODLE): Promise<string> {
  await ensurePlatform(ex, `${issuer}/`, 'Moodle LTI Test');
  const key = await createXapiKey(ex, issuer);
  return basic(key.key, key.secret);
}
