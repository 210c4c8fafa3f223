import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCliInProcess as runCli } from '../support/cli';

/** The CLI in process (test/cli/bin.test.ts runs the real binary) on an embedded database copied from the migrated template. */
describe('socle platforms and socle lti config', () => {
  let dataDir: string;
  let env: Record<string, string>;
  beforeAll(() => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-cli-lti-'));
    const template = process.env.SOCLE_TEST_PGLITE_TEMPLATE;
    if (template) fs.cpSync(template, dataDir, { recursive: true });
    env = { DATA_DIR: dataDir, LTI_KEY: 'cli-test-lti-key-0123456789abcdef0123', PUBLIC_URL: 'https://socle.univ.example', LOG_LEVEL: 'warn' };
  });
  afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

  it('prints the values for Moodle as JSON', async () => {
    const json = await runCli(['lti', 'config', '--json'], env);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      toolUrl: 'https://socle.univ.example/lti/launch',
      loginUrl: 'https://socle.univ.example/lti/login',
      redirectUris: ['https://socle.univ.example/lti/launch'],
      jwksUrl: 'https://socle.univ.example/lti/keys',
      deepLinkingUrl: 'https://socle.univ.example/lti/launch',
      dynamicRegistrationUrl: 'https://socle.univ.example/lti/register',
    });
  }, 120_000);

  it('adds, lists, deactivates, activates and removes a platform', async () => {
    const moodle = 'http://127.0.0.1:8181';
    const add = await runCli(
      [
        'platforms', 'add', '--issuer', moodle, '--client-id', 'u0eyXmuEdseGHfE', '--deployment-id', '1',
        '--auth-endpoint', `${moodle}/mod/lti/auth.php`, '--token-endpoint', `${moodle}/mod/lti/token.php`,
        '--jwks-url', `${moodle}/mod/lti/certs.php`, '--json',
      ],
      env,
    );
    expect(add.stderr).toBe('');
    expect(add.code).toBe(0);
    expect(JSON.parse(add.stdout)).toMatchObject({ issuer: moodle, clientId: 'u0eyXmuEdseGHfE', deploymentIds: ['1'], active: true });

    const off = await runCli(['platforms', 'deactivate', '--issuer', moodle, '--client-id', 'u0eyXmuEdseGHfE'], env);
    expect(off.code).toBe(0);
    const list = await runCli(['platforms', 'list', '--json'], env);
    expect(JSON.parse(list.stdout)).toEqual([expect.objectContaining({ clientId: 'u0eyXmuEdseGHfE', active: false, jwksUrl: `${moodle}/mod/lti/certs.php` })]);
    expect((await runCli(['platforms', 'activate', '--issuer', moodle, '--client-id', 'u0eyXmuEdseGHfE'], env)).code).toBe(0);

    // Removing needs the platform active or not; it is then gone from the list.
    const removed = await runCli(['platforms', 'remove', '--issuer', moodle, '--client-id', 'u0eyXmuEdseGHfE'], env);
    expect(removed.code).toBe(0);
    expect((await runCli(['platforms', 'list', '--json'], env)).stdout.trim()).toBe('[]');
  }, 240_000);

  it('refuses bad input in one line and changes nothing', async () => {
    const bad = await runCli(['platforms', 'add', '--issuer', 'not a url', '--client-id', 'x'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim().split('\n')).toHaveLength(1);
    expect(bad.stderr).toMatch(/--issuer: expected an http\(s\) URL/);
    const unknown = await runCli(['platforms', 'remove', '--issuer', 'https://nowhere.example', '--client-id', 'x'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no platform https:\/\/nowhere.example/);
  }, 120_000);
});
