import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli, waitForExit } from '../support/cli';

// The commands are tested in process (test/cli/*.test.ts); here each family runs once through the real bin/socle.js
// (the compiled dist/ when it is up to date, else the sources through tsx), so that a loading problem is caught.
const root = path.join(__dirname, '..', '..');
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
const MOODLE = 'https://moodle.bin.example';

describe('the real socle binary', () => {
  let dataDir: string;
  let env: Record<string, string>;
  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-bin-'));
    const template = process.env.SOCLE_TEST_PGLITE_TEMPLATE;
    if (template) fs.cpSync(template, dataDir, { recursive: true });
    env = { DATA_DIR: dataDir, LTI_KEY: 'bin-test-lti-key-0123456789abcdef01234', PUBLIC_URL: 'https://socle.bin.example', LOG_LEVEL: 'warn' };
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('prints its version', async () => {
    const result = await runCli(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${pkg.version}\n`);
  }, 120_000);

  it('runs each command family: platforms, lti, referentials, xapi-keys, privacy, badges, report (to stdout and a file)', async () => {
    const add = await runCli(
      [
        'platforms', 'add', '--issuer', MOODLE, '--client-id', 'bin-client', '--deployment-id', '1',
        '--auth-endpoint', `${MOODLE}/mod/lti/auth.php`, '--token-endpoint', `${MOODLE}/mod/lti/token.php`,
        '--jwks-url', `${MOODLE}/mod/lti/certs.php`, '--json',
      ],
      env,
    );
    expect(add.code).toBe(0);
    const listed = await runCli(['platforms', 'list', '--json'], env);
    expect((JSON.parse(listed.stdout) as { issuer: string }[]).map((p) => p.issuer)).toEqual([MOODLE]);

    const config = await runCli(['lti', 'config', '--json'], env);
    expect(JSON.parse(config.stdout)).toMatchObject({ loginUrl: 'https://socle.bin.example/lti/login' });

    const refs = await runCli(['referentials', 'list', '--json'], env);
    expect((JSON.parse(refs.stdout) as { id: string }[]).map((r) => r.id)).toContain('socle-ambulanciers');

    const keys = await runCli(['xapi-keys', 'list', '--json'], env);
    expect(keys.code).toBe(0);
    expect(JSON.parse(keys.stdout)).toEqual([]);

    // No learner yet on this platform: the command loads, opens the store and answers in one line.
    const privacy = await runCli(['privacy', 'export', '--platform', MOODLE, '--user', '4', '--out', '-'], env);
    expect(privacy.code).toBe(1);
    expect(privacy.stderr).toMatch(new RegExp(`^socle: no user 4 on ${MOODLE}$`, 'm'));

    const badge = await runCli(['badges', 'verify', path.join(dataDir, 'nope.png')], env);
    expect(badge.code).toBe(1);
    expect(badge.stderr).toMatch(/^socle: cannot read .*nope\.png: ENOENT$/m);

    const json = await runCli(['report', 'indicators', '--platform', MOODLE, '--format', 'json', '--out', '-'], env);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toBeInstanceOf(Object);
    expect(json.stderr).toMatch(/written to stdout/);

    const file = path.join(dataDir, 'compliance.csv');
    const csv = await runCli(['report', 'compliance', '--platform', MOODLE, '--format', 'csv', '--out', file], env);
    expect(csv.code).toBe(0);
    expect(fs.readFileSync(file, 'utf8')).toMatch(/^\uFEFF/);

    const missing = await runCli(['report', 'compliance', '--platform', MOODLE, '--format', 'csv', '--out', path.join(dataDir, 'no', 'such', 'x.csv')], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^socle: --out: the folder .*no\/such does not exist/m);
    expect(missing.stderr).not.toMatch(/ENOENT|\n\s+at /);
  }, 600_000);

  it('npm start serves, and SIGTERM to npm stops the node process it started', async () => {
    const npm = spawn('npm', ['start', '--silent'], { cwd: root, env: { ...process.env, ...env, PORT: '0', LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`npm start did not become ready:\n${output}`)), 180_000);
      const onData = (d: Buffer) => {
        output += d;
        const match = /"listening":"(http:\/\/[^"]+)"/.exec(output);
        if (match?.[1]) {
          clearTimeout(timer);
          resolve(match[1]);
        }
      };
      npm.stdout.on('data', onData);
      npm.stderr.on('data', onData);
      npm.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output}`)));
    });
    expect((await fetch(`${url}/health`)).status).toBe(200);
    // The lock file holds the pid of the node process that serves (npm's child).
    const server = Number(fs.readFileSync(path.join(dataDir, 'socle.lock'), 'utf8'));
    expect(server).not.toBe(npm.pid);

    npm.kill('SIGTERM');
    await waitForExit(npm);
    const deadline = Date.now() + 30_000;
    const alive = () => {
      try {
        process.kill(server, 0);
        return true;
      } catch {
        return false;
      }
    };
    while (alive() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(alive()).toBe(false);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    expect(fs.existsSync(path.join(dataDir, 'socle.lock'))).toBe(false);
  }, 240_000);
});
