/**
 * How fast `npm start` answers and how much memory it holds idle: starts the command (default `npm start`) on a
 * temporary DATA_DIR (the first run initialises it, the next ones reopen it) and a free port, times the first 200 on /health, waits, reads the resident memory of the
 * node process that listens (VmRSS in /proc/<pid>/status, Linux), then stops it with SIGTERM sent to the command
 * and checks nothing is left.
 *
 *   npx tsx scripts/measure-start.ts [--idle 10] [--runs 2] [-- command args…]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const root = path.join(__dirname, '..');

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function healthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return res.status === 200;
  } catch {
    return false;
  }
}

/** The pids below `pid`, read from /proc. */
function descendants(pid: number): number[] {
  const children: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry), ...descendants(Number(entry)));
    } catch {
      // gone meanwhile
    }
  }
  return children;
}

function statusOf(pid: number): { name: string; rssKb: number } | undefined {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return { name: /^Name:\s+(.*)$/m.exec(status)?.[1] ?? '?', rssKb: Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? 0) };
  } catch {
    return undefined;
  }
}

const alive = (pid: number) => fs.existsSync(`/proc/${pid}`);

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
}

async function measure(command: string[], idleSeconds: number, dataDir: string) {
  const port = await freePort();
  const started = Date.now();
  const child = spawn(command[0] ?? 'npm', command.slice(1), {
    cwd: root,
    env: { ...process.env, DATA_DIR: dataDir, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}/health`;
  let firstHealthMs: number | undefined;
  while (Date.now() - started < 180_000 && child.exitCode === null) {
    if (await healthy(url)) {
      firstHealthMs = Date.now() - started;
      break;
    }
    await sleep(100);
  }
  if (firstHealthMs === undefined) throw new Error(`no 200 on ${url} within 180 s (exit ${child.exitCode})`);
  await sleep(idleSeconds * 1000);
  const tree = [child.pid as number, ...descendants(child.pid as number)];
  const nodes = tree.map((pid) => ({ pid, ...statusOf(pid) })).filter((p) => p.name === 'node' || p.name === 'MainThread');
  // The listening process is the last node started (npm itself is a node process too).
  const server = nodes.at(-1);
  child.kill('SIGTERM');
  await exited(child);
  await sleep(1000);
  const leftOver = tree.filter(alive);
  const stillAnswers = await healthy(url);
  for (const pid of leftOver) process.kill(pid, 'SIGKILL');
  return { firstHealthMs, serverRssMb: server?.rssKb ? Math.round(server.rssKb / 1024) : undefined, processes: nodes.length, leftOver, stillAnswers };
}

async function main() {
  const args = process.argv.slice(2);
  const dashes = args.indexOf('--');
  const command = dashes >= 0 ? args.slice(dashes + 1) : ['npm', 'start', '--silent'];
  const option = (name: string, fallback: number) => {
    const at = args.indexOf(name);
    return at >= 0 && (dashes < 0 || at < dashes) ? Number(args[at + 1]) : fallback;
  };
  const idle = option('--idle', 10);
  const runs = option('--runs', 2);
  process.stdout.write(`load average: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cpus); command: ${command.join(' ')}\n`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-measure-'));
  for (let i = 0; i < runs; i++) {
    const r = await measure(command, idle, dataDir);
    process.stdout.write(
      `${i === 0 ? 'fresh data directory' : 'same data directory'}: first 200 on /health after ${(r.firstHealthMs / 1000).toFixed(1)} s; idle RSS of the server after ${idle} s: ${r.serverRssMb ?? '?'} MB ` +
        `(${r.processes} node process(es)); after SIGTERM to the command: ${r.leftOver.length ? `left running ${r.leftOver.join(', ')}` : 'nothing left'}` +
        `${r.stillAnswers ? ', still answering' : ''}\n`,
    );
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exitCode = 1;
});
