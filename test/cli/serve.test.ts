import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli, startServe, waitForExit } from '../support/cli';

describe('socle serve (a real process on the embedded database)', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-serve-'));
    const template = process.env.SOCLE_TEST_PGLITE_TEMPLATE;
    if (template) fs.cpSync(template, dataDir, { recursive: true });
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('serves /health, refuses a second process on the same DATA_DIR, stops on SIGTERM with 0 and reopens', async () => {
    const env = { DATA_DIR: dataDir, PORT: '0' };
    const first = await startServe(env);
    const health = await fetch(`${first.url}/health`);
    expect(health.status).toBe(200);
    expect(first.output()).toContain('Socle is ready at');
    expect(fs.readFileSync(path.join(dataDir, 'socle.lock'), 'utf8')).toBe(String(first.child.pid));

    const second = await runCli(['serve'], env);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain(`is in use by another Socle process (pid ${first.child.pid})`);

    first.child.kill('SIGTERM');
    expect(await waitForExit(first.child)).toBe(0);
    expect(fs.existsSync(path.join(dataDir, 'socle.lock'))).toBe(false);

    const again = await startServe(env);
    expect((await fetch(`${again.url}/health`)).status).toBe(200);
    again.child.kill('SIGINT');
    expect(await waitForExit(again.child)).toBe(0);
  }, 120_000);

  it('takes over a lock left by a dead process', async () => {
    fs.writeFileSync(path.join(dataDir, 'socle.lock'), '999999');
    const server = await startServe({ DATA_DIR: dataDir, PORT: '0' });
    server.child.kill('SIGTERM');
    expect(await waitForExit(server.child)).toBe(0);
  });

  it('stops with one line naming PORT when PORT is not a number', async () => {
    const result = await runCli(['serve'], { DATA_DIR: dataDir, PORT: 'abc' });
    expect(result.code).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toEqual([
      'socle: Invalid configuration: PORT: expected a whole number between 0 and 65535',
    ]);
  });

  it('lists its commands with --help', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('serve');
  });

  it('exits 2 on an unknown command', async () => {
    const result = await runCli(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'frobnicate'");
  });
});
