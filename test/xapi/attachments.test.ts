import { execFileSync } from 'node:child_process';
import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { CompactSign, generateKeyPair, importPKCS8, type KeyLike } from 'jose';
import { queryRows } from '../../src/db/store';
import { createXapiClient } from '../../src/xapi/keys';
import { eraseLearner } from '../../src/privacy/service';
import { multipartBoundary, parseMultipart } from '../../src/xapi/multipart';
import { startTestServer, type TestServer } from '../support/app';
import { drivers } from '../support/db';
import { basic, MOODLE, platformKeyAuth, type Statement } from './support';

jest.setTimeout(120_000);

const SIGNATURE = 'http://adlnet.gov/expapi/attachments/signature';

interface RawPart {
  headers: Record<string, string>;
  body: Buffer;
}

/** A multipart/mixed request body written here, independently of Socle's writer: the statements, then the parts. */
function multipartBody(boundary: string, statements: unknown, parts: RawPart[]): Buffer {
  const chunks: Buffer[] = [Buffer.from(`--${boundary}\r\nContent-Type: application/json\r\n\r\n${JSON.stringify(statements)}\r\n`)];
  for (const p of parts) {
    const head = Object.entries(p.headers)
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    chunks.push(Buffer.from(`--${boundary}\r\n${head}\r\n`), p.body, Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return Buffer.concat(chunks);
}

const digest = (algorithm: string, content: Buffer) => createHash(algorithm).update(content).digest('hex');
const part = (content: Buffer, sha2: string, contentType = 'text/plain'): RawPart => ({
  headers: { 'Content-Type': contentType, 'Content-Transfer-Encoding': 'binary', 'X-Experience-API-Hash': sha2 },
  body: content,
});
const attachment = (content: Buffer, sha2: string, contentType = 'text/plain', usageType = 'http://example.org/usage/notes') => ({
  usageType,
  display: { 'en-US': 'notes' },
  contentType,
  length: content.length,
  sha2,
});

describe.each(drivers)('statement attachments and signatures on %s', (driver) => {
  let server: TestServer;
  let auth: string;
  let keys: { privateKey: KeyLike };
  const db = () => server.ctx.store.db;
  const count = async (table: string) => (await queryRows<{ n: number }>(db(), sql.raw(`SELECT count(*)::int AS n FROM ${table}`)))[0]?.n;
  const statement = (extra: Statement = {}): Statement => ({
    id: randomUUID(),
    actor: { mbox: 'mailto:ines@example.org' },
    verb: { id: 'http://adlnet.gov/expapi/verbs/experienced' },
    object: { id: 'http://example.org/activity/attached' },
    ...extra,
  });
  const send = (body: Buffer, method = 'POST', query = '', version = '1.0.3', as = auth) => {
    const boundary = 'test-boundary-42';
    return fetch(`${server.url}/xapi/statements${query}`, {
      method,
      headers: { Authorization: as, 'X-Experience-API-Version': version, 'Content-Type': `multipart/mixed; boundary=${boundary}` },
      body,
    });
  };
  const post = (statements: unknown, parts: RawPart[], method = 'POST', query = '', version = '1.0.3') =>
    send(multipartBody('test-boundary-42', statements, parts), method, query, version);
  const signed = async (s: Statement, alg = 'RS256', key: KeyLike | Uint8Array = keys.privateKey, x5c?: string[]) => {
    const jws = Buffer.from(await new CompactSign(Buffer.from(JSON.stringify(s))).setProtectedHeader({ alg, ...(x5c ? { x5c } : {}) }).sign(key));
    const sha2 = digest('sha256', jws);
    return { statement: { ...s, attachments: [attachment(jws, sha2, 'application/octet-stream', SIGNATURE)] }, parts: [part(jws, sha2, 'application/octet-stream')] };
  };

  beforeAll(async () => {
    server = await startTestServer(driver);
    const client = await createXapiClient(db(), { name: 'Simulation', scopes: ['all'] });
    auth = basic(client.key, client.secret);
    keys = await generateKeyPair('RS256');
  });
  afterAll(() => server.destroy());

  it('stores a statement with SHA-256 and SHA-512 attachments and serves them back with attachments=true', async () => {
    const notes = Buffer.from('notes of the session\n');
    const image = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0x2d, 0x2d]);
    const s = statement({ attachments: [attachment(notes, digest('sha256', notes)), attachment(image, digest('sha512', image), 'image/png')] });
    const res = await post(s, [part(notes, digest('sha256', notes)), part(image, digest('sha512', image), 'image/png')]);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([s.id]);

    const got = await fetch(`${server.url}/xapi/statements?statementId=${s.id}&attachments=true`, { headers: { Authorization: auth, 'X-Experience-API-Version': '1.0.3' } });
    expect(got.status).toBe(200);
    const type = got.headers.get('content-type') ?? '';
    expect(type).toMatch(/^multipart\/mixed; boundary=/);
    const [json, ...contents] = parseMultipart(Buffer.from(await got.arrayBuffer()), multipartBoundary(type));
    expect(json?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(json?.body.toString('utf8') ?? '')).toMatchObject({ id: s.id, attachments: s.attachments });
    expect(contents.map((c) => [c.headers['x-experience-api-hash'], c.headers['content-type'], c.headers['content-transfer-encoding'], c.body]).sort()).toEqual(
      [
        [digest('sha256', notes), 'text/plain', 'binary', notes],
        [digest('sha512', image), 'image/png', 'binary', image],
      ].sort(),
    );

    // the list too; without attachments=true the answer is JSON
    const list = await fetch(`${server.url}/xapi/statements?attachments=true&limit=1`, { headers: { Authorization: auth, 'X-Experience-API-Version': '1.0.3' } });
    const listType = list.headers.get('content-type') ?? '';
    const [result, ...listed] = parseMultipart(Buffer.from(await list.arrayBuffer()), multipartBoundary(listType));
    expect((JSON.parse(result?.body.toString('utf8') ?? '') as { statements: Statement[] }).statements.map((x) => x.id)).toEqual([s.id]);
    expect(listed).toHaveLength(2);
    const plain = await fetch(`${server.url}/xapi/statements?statementId=${s.id}`, { headers: { Authorization: auth, 'X-Experience-API-Version': '1.0.3' } });
    expect(plain.headers.get('content-type')).toMatch(/^application\/json/);

    // another unrestricted client sees neither the statement nor its attachments
    const other = await createXapiClient(db(), { name: 'Other', scopes: ['all'] });
    const foreign = await fetch(`${server.url}/xapi/statements?statementId=${s.id}&attachments=true`, {
      headers: { Authorization: basic(other.key, other.secret), 'X-Experience-API-Version': '1.0.3' },
    });
    expect(foreign.status).toBe(404);
  });

  it('takes a statement by PUT as multipart/mixed, and one whose attachments all have a fileUrl, in 2.0.0 too', async () => {
    const content = Buffer.from('put content');
    const s = statement({ attachments: [attachment(content, digest('sha384', content))] });
    expect((await post(s, [part(content, digest('sha384', content))], 'PUT', `?statementId=${s.id as string}`)).status).toBe(204);
    const linked = statement({ attachments: [{ ...attachment(content, digest('sha256', content)), fileUrl: 'https://files.example.org/a.txt' }] });
    expect((await post([linked], [], 'POST', '', '2.0.0')).status).toBe(200);
  });

  it('refuses (400, nothing stored) a missing part, a wrong hash, a part of no attachment, a part without its headers, raw attachments in JSON', async () => {
    const content = Buffer.from('the content');
    const sha2 = digest('sha256', content);
    const before = { statements: await count('xapi_statements'), attachments: await count('xapi_attachments') };
    const cases: [string, () => Promise<Response>][] = [
      ['missing part', () => post(statement({ attachments: [attachment(content, sha2)] }), [])],
      ['wrong hash', () => post(statement({ attachments: [attachment(content, sha2)] }), [part(Buffer.from('other content'), sha2)])],
      ['part of no attachment', () => post(statement(), [part(content, sha2)])],
      [
        'no Content-Transfer-Encoding',
        () => post(statement({ attachments: [attachment(content, sha2)] }), [{ headers: { 'Content-Type': 'text/plain', 'X-Experience-API-Hash': sha2 }, body: content }]),
      ],
      [
        'raw attachment in JSON',
        () =>
          fetch(`${server.url}/xapi/statements`, {
            method: 'POST',
            headers: { Authorization: auth, 'X-Experience-API-Version': '1.0.3', 'Content-Type': 'application/json' },
            body: JSON.stringify(statement({ attachments: [attachment(content, sha2)] })),
          }),
      ],
      ['statements part not JSON', () => send(Buffer.from('--test-boundary-42\r\nContent-Type: text/plain\r\n\r\n{}\r\n--test-boundary-42--\r\n'))],
    ];
    for (const [what, request] of cases) {
      const res = await request();
      expect([what, res.status]).toEqual([what, 400]);
    }
    expect({ statements: await count('xapi_statements'), attachments: await count('xapi_attachments') }).toEqual(before);
  });

  it('accepts a statement signed with RS256, refuses a tampered payload, another algorithm and a signature of another type', async () => {
    const good = await signed(statement({ result: { duration: 'PT1.5S' } }));
    expect((await post(good.statement, good.parts)).status).toBe(200);

    const tampered = await signed(statement());
    const changed = { ...tampered.statement, verb: { id: 'http://adlnet.gov/expapi/verbs/passed' } };
    const refusal = await post(changed, tampered.parts);
    expect(refusal.status).toBe(400);
    expect(((await refusal.json()) as { error: { message: string } }).error.message).toContain('differs from the statement');

    const hmac = await signed(statement(), 'HS256', new Uint8Array(32).fill(7));
    const wrongAlg = await post(hmac.statement, hmac.parts);
    expect(wrongAlg.status).toBe(400);
    expect(((await wrongAlg.json()) as { error: { message: string } }).error.message).toContain('RS256, RS384 or RS512');

    const notJws = Buffer.from('not a signature');
    const text = statement({ attachments: [attachment(notJws, digest('sha256', notJws), 'application/octet-stream', SIGNATURE)] });
    expect((await post(text, [part(notJws, digest('sha256', notJws), 'application/octet-stream')])).status).toBe(400);
    const wrongType = await signed(statement());
    const asText = { ...wrongType.statement, attachments: [{ ...(wrongType.statement.attachments[0] as object), contentType: 'text/plain' }] };
    expect((await post(asText, wrongType.parts)).status).toBe(400);
  });

  it('takes a platform key\u2019s statement with an attachment, credited to its learner; erasing the learner erases the content', async () => {
    const moodle = await platformKeyAuth(db(), MOODLE);
    const content = Buffer.from('a learner\u2019s essay');
    const sha2 = digest('sha256', content);
    const s = statement({ actor: { account: { homePage: MOODLE, name: '4242' } }, attachments: [attachment(content, sha2)] });
    const res = await send(multipartBody('test-boundary-42', [s], [part(content, sha2)]), 'POST', '', '1.0.3', moodle);
    expect(res.status).toBe(200);
    const owned = sql`SELECT count(*)::int AS n FROM xapi_attachments a JOIN platforms p ON p.id = a.platform_id WHERE a.sha2 = ${sha2}`;
    expect((await queryRows<{ n: number }>(db(), owned))[0]?.n).toBe(1);
    const report = await eraseLearner(db(), MOODLE, '4242', { actor: 'test' });
    expect(report.tables.xapi_attachments).toBe(1);
    expect((await queryRows<{ n: number }>(db(), owned))[0]?.n).toBe(0);
  });

  it('verifies a signature with the certificate of its x5c header (a self-signed certificate made by openssl)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-x5c-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=Signer', '-days', '1', '-keyout', `${dir}/key.pem`, '-out', `${dir}/cert.pem`], { stdio: 'ignore' });
      const der = new X509Certificate(fs.readFileSync(`${dir}/cert.pem`)).raw.toString('base64');
      const key = await importPKCS8(fs.readFileSync(`${dir}/key.pem`, 'utf8'), 'RS384');
      const good = await signed(statement(), 'RS384', key, [der]);
      expect((await post(good.statement, good.parts)).status).toBe(200);
      // signed with another key than the certificate's
      const forged = await signed(statement(), 'RS384', keys.privateKey, [der]);
      const refused = await post(forged.statement, forged.parts);
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { error: { message: string } }).error.message).toContain('does not verify with the certificate of its x5c header');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
