import { type ChildProcess, spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import type { Services } from '../../src/context';

export const socleBin = path.join(__dirname, '..', '..', 'bin', 'socle.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `socle …` as a real process with only the given Socle variables (plus PATH/HOME). */
export function runCli(args: string[], env: Record<string, string> = {}, input?: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [socleBin, ...args], { env: cliEnv(env) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input ?? '');
  });
}

/**
 * The environment of a spawned `socle`: it runs the sources under test (SOCLE_FROM=source), not a dist/ that may be
 * older; the compiled path is checked by bin/smoke-dist.js after `npm run build` and by test/cli/bin-entry.test.ts.
 */
export function cliEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'info', SOCLE_FROM: 'source', ...env };
}

/** Starts `socle serve` and resolves with the process and the URL it listens on, once it is ready. */
export function startServe(env: Record<string, string>): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [socleBin, 'serve'], { env: cliEnv(env) });
    let output = '';
    const timer = setTimeout(() => reject(new Error(`socle serve did not become ready:\n${output}`)), 60_000);
    const onData = (d: Buffer) => {
      output += d;
      const match = /"listening":"(http:\/\/[^"]+)"/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ child, url: match[1], output: () => output });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`socle serve exited with ${code}:\n${output}`));
    });
  });
}

export function waitForExit(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) resolve(child.exitCode);
    else child.once('exit', (code) => resolve(code));
  });
}

/**
 * Runs `socle …` inside the test process (same code path as the binary, without a process start): the given
 * variables replace Socle's for the call, `services` the defaults of the commands' contexts, stdout/stderr are
 * captured. Use `runCli` for what needs a real process (signals, locks held by another process).
 */
export async function runCliInProcess(args: string[], env: Record<string, string> = {}, services: Partial<Services> = {}): Promise<CliResult> {
  const { main } = await import('../../src/cli/main');
  const { configVariables } = await import('../../src/config');
  const saved = { ...process.env };
  for (const key of configVariables) delete process.env[key];
  Object.assign(process.env, { LOG_LEVEL: 'silent' }, env);
  let stdout = '';
  let stderr = '';
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    stdout += String(chunk);
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  const previousExitCode = process.exitCode;
  process.exitCode = undefined;
  try {
    await main(['node', 'socle', ...args], services);
    return { code: typeof process.exitCode === 'number' ? process.exitCode : 0, stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    process.exitCode = previousExitCode;
    process.env = saved;
  }
}

/** A TCP port free on loopback right now (for a `socle serve` whose PUBLIC_URL must be known before it starts). */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as net.AddressInfo;
      probe.close(() => resolve(port));
    });
    probe.on('error', reject);
  });
