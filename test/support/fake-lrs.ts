import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeLrs {
  /** Base URL of the Statements API, e.g. http://127.0.0.1:1234/xapi/ */
  endpoint: string;
  /** Statements stored, by id (an LRS keeps one statement per id). */
  stored: Map<string, Record<string, unknown>>;
  /** Every id received in a POST, duplicates included (to count redeliveries). */
  received: string[];
  /** Called before answering a POST (once the statements are stored); false: never answer it (a reply lost on the way back). */
  beforeReply?: (ids: string[]) => boolean | Promise<boolean>;
  close(): Promise<void>;
}

/**
 * A small loopback LRS speaking the xAPI 1.0.3 Statements resource the way an LRS does: POST an array, answer the
 * ids; a statement whose id is already stored with the same content is accepted again, a different one is 409.
 */
export async function startFakeLrs(): Promise<FakeLrs> {
  const hanging = new Set<http.ServerResponse>();
  const lrs: FakeLrs = {
    endpoint: '',
    stored: new Map(),
    received: [],
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', async () => {
      if (req.method !== 'POST' || !req.url?.startsWith('/xapi/statements')) {
        res.writeHead(404).end();
        return;
      }
      if (req.headers['x-experience-api-version'] !== '1.0.3' || !req.headers.authorization?.startsWith('Basic ')) {
        res.writeHead(400).end('version header and Basic auth required');
        return;
      }
      const parsed = JSON.parse(body) as Record<string, unknown> | Record<string, unknown>[];
      const statements = Array.isArray(parsed) ? parsed : [parsed];
      const ids = statements.map((s) => String(s.id));
      lrs.received.push(...ids);
      for (const s of statements) {
        const existing = lrs.stored.get(String(s.id));
        if (existing && JSON.stringify(existing) !== JSON.stringify(s)) {
          res.writeHead(409, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: `conflict on ${String(s.id)}` }));
          return;
        }
      }
      for (const s of statements) lrs.stored.set(String(s.id), s);
      if (lrs.beforeReply && !(await lrs.beforeReply(ids))) {
        hanging.add(res);
        return;
      }
      res.writeHead(200, { 'Content-Type': 'application/json', 'X-Experience-API-Version': '1.0.3' }).end(JSON.stringify(ids));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  lrs.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/xapi/`;
  return lrs;
}
