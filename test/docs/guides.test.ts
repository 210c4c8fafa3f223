import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main';
import { startTestServer, type TestServer } from '../support/app';
import { appRoutes } from '../support/routes';

/**
 * The administrator's and teacher's guides (and the Docker README) may only cite what exists: every `socle …`
 * command line of their code is checked against the real commander program, every Socle URL path against the
 * routes of the real app. Nothing is run: the program is walked in process, the routes read from a started app.
 */
const root = path.join(__dirname, '..', '..');
const documents = ['docs/guide-administrateur.md', 'docs/guide-enseignant.md', 'docker/README.md'];

interface Snippet {
  text: string;
  /** A line of a fenced block is a whole command (its required options must be there); inline code may be a mention. */
  fenced: boolean;
}

/** The code of a Markdown document: the lines of fenced blocks (continued at a trailing backslash) and inline spans. */
function codeOf(markdown: string): Snippet[] {
  const fence = /^ *```[^\n]*\n([\s\S]*?)^ *```/gm;
  const out: Snippet[] = [];
  for (const block of markdown.matchAll(fence)) {
    for (const line of (block[1] ?? '').replace(/\\\n\s*/g, ' ').split('\n')) out.push({ text: line, fenced: true });
  }
  for (const span of markdown.replace(fence, '').matchAll(/`([^`\n]+)`/g)) out.push({ text: span[1] ?? '', fenced: false });
  return out;
}

/** The arguments of each `socle` invocation in a line: `socle …`, `npx socle …`, `socle-entrypoint …`, `node …/bin/socle.js …`. */
function invocations(line: string): string[][] {
  if (/^\s*#/.test(line)) return [];
  const tokens = (line.replace(/\s#\s.*$/, '').replace(/<[^>]*>/g, 'VALUE').match(/"[^"]*"|'[^']*'|\S+/g) ?? []) as string[];
  const found: string[][] = [];
  tokens.forEach((token, i) => {
    const before = tokens[i - 1];
    const starts =
      token === 'socle-entrypoint' ||
      token.endsWith('bin/socle.js') ||
      (token === 'socle' && (before === undefined || ['npx', '&&', ';', '|', '$'].includes(before)));
    if (!starts) return;
    const args: string[] = [];
    for (const next of tokens.slice(i + 1)) {
      if (['&&', ';', '|', '>', '2>&1', '||'].includes(next)) break;
      args.push(next);
    }
    if (args.length && args[0] !== '…' && args[0] !== '--help') found.push(args);
  });
  return found;
}

/** Why `socle <args>` is not a command line of the program, or undefined when it is. */
function checkCommand(program: Command, args: string[], whole: boolean): string | undefined {
  let command = program;
  let i = 0;
  while (command.commands.length && i < args.length) {
    const sub = command.commands.find((c) => c.name() === args[i] || c.aliases().includes(args[i] ?? ''));
    if (!sub) break;
    command = sub;
    i += 1;
  }
  const name = ['socle', ...args.slice(0, i)].join(' ');
  // A group (`socle platforms`) without an action of its own needs one of its commands.
  if (command.commands.length && !(command as Command & { _actionHandler?: unknown })._actionHandler) {
    return `${name} has no command ${args[i] ?? '(none given)'}`;
  }
  const given = new Set<string>();
  let positional = 0;
  for (; i < args.length; i += 1) {
    const arg = args[i] ?? '';
    if (arg.startsWith('--')) {
      const [flag = ''] = arg.split('=');
      if (flag === '--help' || (command === program && flag === '--version')) continue;
      const option = command.options.find((o) => o.long === flag);
      if (!option) return `${name} has no option ${flag}`;
      given.add(flag);
      if ((option.required || option.optional) && !arg.includes('=')) i += 1; // its value
    } else if (arg !== '…') {
      positional += 1; // "…" in a mention stands for options left out
    }
  }
  const declared = command.registeredArguments;
  if (!declared.some((a) => a.variadic) && positional > declared.length) return `${name} takes ${declared.length} argument(s), got ${positional}`;
  if (whole) {
    const missing = command.options.filter((o) => o.mandatory && o.long && !given.has(o.long)).map((o) => o.long);
    if (missing.length) return `${name} requires ${missing.join(', ')}`;
    const required = declared.filter((a) => a.required).length;
    if (positional < required) return `${name} requires ${required} argument(s), got ${positional}`;
  }
  return undefined;
}

/** The Socle URL paths a snippet cites (Socle at the guides' example addresses, or `<PUBLIC_URL>`). */
function soclePaths(text: string): string[] {
  const base = /(?:https?:\/\/(?:socle\.univ\.fr|socle\.socle\.test:3000|127\.0\.0\.1:3000)|<PUBLIC_URL>)(\/[^\s`'"|()<>,;?#]*)/g;
  return [...text.matchAll(base)].map((m) => (m[1] ?? '').replace(/[.:]+$/, '')).filter((p) => p.length > 1);
}

/** A cited path exists when it is a route (with `{param}` as any segment) or the base of routes (`/xapi`). */
function routeExists(routes: string[], cited: string): boolean {
  const paths = [...new Set(routes.map((r) => r.slice(r.indexOf(' ') + 1)))];
  const segments = cited.replace(/\/+$/, '').split('/');
  return paths.some((route) => {
    const parts = route.split('/');
    if (parts.length < segments.length) return false;
    return segments.every((segment, i) => parts[i] === segment || /^\{\w+\}$/.test(parts[i] ?? ''));
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen. */
const anchorOf = (heading: string) => heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');

describe('the guides link to sections that exist', () => {
  const anchors = (doc: string) =>
    [...fs.readFileSync(path.join(root, doc), 'utf8').matchAll(/^#{1,6} (.+)$/gm)].map((m) => anchorOf(m[1] ?? ''));

  it.each(documents.filter((d) => d.startsWith('docs/')))('%s: every #anchor names a heading', (doc) => {
    const text = fs.readFileSync(path.join(root, doc), 'utf8');
    const links = [...text.matchAll(/\]\(([\w.-]*\.md)?#([^)]+)\)/g)].map((m) => ({ file: m[1] ? path.join(path.dirname(doc), m[1]) : doc, anchor: m[2] ?? '' }));
    expect(links.length).toBeGreaterThan(0);
    expect(links.filter((l) => !anchors(l.file).includes(l.anchor))).toEqual([]);
  });

  it('computes anchors as GitHub does', () => {
    expect(anchorOf('6. Envoyer les traces : logstore_xapi')).toBe('6-envoyer-les-traces--logstore_xapi');
  });
});

describe('the guides cite only commands and routes that exist', () => {
  const program = buildProgram();
  const snippets = documents.map((doc) => ({ doc, code: codeOf(fs.readFileSync(path.join(root, doc), 'utf8')) }));
  let server: TestServer;
  let routes: string[];

  beforeAll(async () => {
    server = await startTestServer('pglite');
    routes = appRoutes(server.app, { '/lti': server.lti.provider.app });
  });
  afterAll(() => server.destroy());

  it('finds the commands of the guides and refuses made-up ones', () => {
    const admin = snippets.find((s) => s.doc === 'docs/guide-administrateur.md')?.code ?? [];
    const commands = admin.flatMap((s) => invocations(s.text));
    expect(commands.length).toBeGreaterThanOrEqual(25);
    expect(commands).toContainEqual(['xapi-keys', 'create', '--platform', 'https://moodle.univ.fr']);
    expect(commands).toContainEqual(['serve']); // ExecStart=/usr/bin/node /opt/socle/bin/socle.js serve
    // The checker itself can fail.
    expect(checkCommand(program, ['platforms', 'enable', '--issuer', 'x'], true)).toMatch(/no command enable/);
    expect(checkCommand(program, ['outbox', 'status', '--since', 'x'], true)).toMatch(/no option --since/);
    expect(checkCommand(program, ['api-tokens', 'create'], true)).toMatch(/requires --name/);
    expect(checkCommand(program, ['xapi-keys', 'revoke', 'a', 'b'], false)).toMatch(/takes 1 argument/);
  });

  it.each(documents)('%s: every socle command exists with the options it is given', (doc) => {
    const code = snippets.find((s) => s.doc === doc)?.code ?? [];
    const wrong = code.flatMap(({ text, fenced }) =>
      invocations(text).flatMap((args) => {
        const problem = checkCommand(program, args, fenced);
        return problem ? [`${problem}: ${text.trim()}`] : [];
      }),
    );
    expect(wrong).toEqual([]);
  });

  it('finds the routes of the app, the LTI ones included, and refuses made-up paths', () => {
    expect(routes).toEqual(expect.arrayContaining(['GET /health', 'GET /lti/keys', 'POST /xapi/statements']));
    expect(routes.some((r) => r.endsWith(' /lti/register'))).toBe(true);
    expect(routeExists(routes, '/xapi')).toBe(true);
    expect(routeExists(routes, '/lti/nowhere')).toBe(false);
    expect(routeExists(routes, '/healthz')).toBe(false);
    const admin = snippets.find((s) => s.doc === 'docs/guide-administrateur.md')?.code ?? [];
    expect(new Set(admin.flatMap((s) => soclePaths(s.text))).size).toBeGreaterThanOrEqual(8);
  });

  it.each(documents)('%s: every Socle URL path is a route of the app', (doc) => {
    const code = snippets.find((s) => s.doc === doc)?.code ?? [];
    const cited = [...new Set(code.flatMap((s) => soclePaths(s.text)))];
    expect(cited.filter((p) => !routeExists(routes, p))).toEqual([]);
  });
});
