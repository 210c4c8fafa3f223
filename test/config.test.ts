import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, parseEnv } from '../src/config';
import { SocleError } from '../src/domain/errors';

describe('configuration from the environment', () => {
  it('starts from defaults when nothing is set', () => {
    const env = parseEnv({});
    expect(env).toMatchObject({ PORT: 3000, HOST: '127.0.0.1', DATA_DIR: './data', LOG_LEVEL: 'info' });
    expect(parseEnv({ HOST: '0.0.0.0' }).HOST).toBe('0.0.0.0');
    expect(parseEnv({ HOST: '::' }).HOST).toBe('::');
    expect(env.DATABASE_URL).toBeUndefined();
  });

  it.each([
    [{ PORT: 'abc' }, /PORT: expected a whole number/],
    [{ PORT: '70000' }, /PORT: expected a whole number between 0 and 65535/],
    [{ HOST: 'http://0.0.0.0' }, /HOST: expected an IP address/],
    [{ PUBLIC_URL: 'socle.example.fr' }, /PUBLIC_URL: expected an http\(s\) URL/],
    [{ DATABASE_URL: 'mysql://x/y', LTI_KEY: 'k'.repeat(32) }, /DATABASE_URL: expected a postgres:\/\/ URL/],
    [{ DATABASE_URL: 'postgres://localhost/socle' }, /LTI_KEY: required when DATABASE_URL is set/],
    [{ LTI_KEY: 'short' }, /LTI_KEY: expected a secret of at least 32 characters/],
    [{ LRS_ENDPOINT: 'https://lrs.example.fr/xapi' }, /LRS_KEY: LRS_KEY and LRS_SECRET are required/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL/],
    [{ RETENTION_YEARS: '0' }, /RETENTION_YEARS: expected a whole number of years from 1 to 50/],
    [{ RETENTION_YEARS: 'ten' }, /RETENTION_YEARS: expected a whole number of years from 1 to 50/],
  ])('refuses %j with a message naming the variable', (env, message) => {
    expect(() => parseEnv(env)).toThrow(SocleError);
    expect(() => parseEnv(env)).toThrow(expect.objectContaining({ code: 'invalid_config' }));
    expect(() => parseEnv(env)).toThrow(message);
  });

  it('never echoes a secret value in its error', () => {
    expect(() => parseEnv({ LTI_KEY: 'hunter2' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') }),
    );
  });

  it('treats empty variables as unset', () => {
    expect(parseEnv({ PORT: '', DATABASE_URL: '' }).PORT).toBe(3000);
  });

  it('generates the embedded LTI secret once, private to the owner whatever the umask, and reuses it', () => {
    const parent = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-config-'));
    const dir = path.join(parent, 'data');
    const previous = process.umask(0);
    try {
      const first = loadConfig({ DATA_DIR: dir });
      const file = path.join(dir, 'lti-key');
      expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(first.ltiKey.length).toBeGreaterThanOrEqual(32);
      // A key file copied in with wider permissions is the owner's alone again.
      fs.chmodSync(file, 0o644);
      expect(loadConfig({ DATA_DIR: dir }).ltiKey).toBe(first.ltiKey);
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      expect(first.publicUrl).toBe('http://127.0.0.1:3000');
    } finally {
      process.umask(previous);
      fs.rmSync(parent, { recursive: true, force: true });
    }
  });

  it('prefers LTI_KEY and PUBLIC_URL when given, without a trailing slash', () => {
    const config = loadConfig({ LTI_KEY: 'x'.repeat(40), PUBLIC_URL: 'https://socle.univ.fr/', DATA_DIR: '/nonexistent' });
    expect(config.ltiKey).toBe('x'.repeat(40));
    expect(config.publicUrl).toBe('https://socle.univ.fr');
  });

  it('reads the rate limits (0 = no limit) and METRICS_TOKEN, with generous defaults, and names a wrong one', () => {
    const defaults = loadConfig({ LTI_KEY: 'x'.repeat(40), DATA_DIR: '/nonexistent' });
    expect(defaults.rateLimits).toEqual({ windowSeconds: 60, xapi: 3000, api: 600, login: 600, public: 600 });
    expect(defaults.metricsToken).toBeUndefined();
    const set = loadConfig({ LTI_KEY: 'x'.repeat(40), DATA_DIR: '/nonexistent', RATE_LIMIT_WINDOW_SECONDS: '10', RATE_LIMIT_XAPI: '0', RATE_LIMIT_LOGIN: '5', METRICS_TOKEN: 'm'.repeat(20) });
    expect(set.rateLimits).toMatchObject({ windowSeconds: 10, xapi: 0, login: 5 });
    expect(set.metricsToken).toBe('m'.repeat(20));
    expect(() => parseEnv({ RATE_LIMIT_WINDOW_SECONDS: '0' })).toThrow(/RATE_LIMIT_WINDOW_SECONDS/);
    expect(() => parseEnv({ RATE_LIMIT_API: '-1' })).toThrow(/RATE_LIMIT_API/);
    expect(() => parseEnv({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN: expected a secret of at least 16 characters/);
  });
});
