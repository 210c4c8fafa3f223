import { loadConfig, parseEnv } from '../../src/config';
import { SocleError } from '../../src/domain/errors';

const refusal = (env: Record<string, string>) => {
  try {
    parseEnv(env);
  } catch (error) {
    if (error instanceof SocleError) return error.message;
    throw error;
  }
  return 'accepted';
};

describe('the mail configuration', () => {
  it('reads SMTP_URL, MAIL_FROM, ALERTS_DAY and ALERTS_HOUR; none set: no mail, Monday 7:00', () => {
    const base = { DATA_DIR: '/tmp/socle-config-test', LTI_KEY: 'k'.repeat(32) };
    expect(loadConfig(base)).toMatchObject({ mail: undefined, alerts: { weekday: 1, hour: 7 } });
    expect(loadConfig({ ...base, SMTP_URL: 'smtps://socle:s3cret@smtp.chu.example:465', MAIL_FROM: 'Socle <socle@chu.example>', ALERTS_DAY: 'friday', ALERTS_HOUR: '16' })).toMatchObject({
      mail: { url: 'smtps://socle:s3cret@smtp.chu.example:465', from: 'Socle <socle@chu.example>' },
      alerts: { weekday: 5, hour: 16 },
    });
  });

  it('refuses a wrong value by naming the variable, never repeating the value (an SMTP URL carries a password)', () => {
    const wrong = refusal({ SMTP_URL: 'http://socle:s3cret@smtp.chu.example', MAIL_FROM: 'socle@chu.example' });
    expect(wrong).toContain('SMTP_URL: expected an smtp:// or smtps:// URL');
    expect(wrong).not.toContain('s3cret');
    expect(refusal({ SMTP_URL: 'smtp://smtp.chu.example' })).toContain('MAIL_FROM: required when SMTP_URL is set');
    expect(refusal({ MAIL_FROM: 'not an address' })).toContain('MAIL_FROM: expected an address');
    expect(refusal({ ALERTS_DAY: 'lundi' })).toContain('ALERTS_DAY: expected one of monday, tuesday');
    expect(refusal({ ALERTS_HOUR: '24' })).toContain('ALERTS_HOUR: expected a whole hour from 0 to 23');
  });
});

describe('the SMTP transport', () => {
  it('reports a failed delivery by its codes only: neither the URL, its password nor the recipient', async () => {
    const net = await import('node:net');
    // a port nothing listens on
    const probe = net.createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const { port } = probe.address() as { port: number };
    await new Promise((resolve) => probe.close(resolve));
    const { smtpTransport } = await import('../../src/mail');
    const transport = smtpTransport({ url: `smtp://socle:s3cret@127.0.0.1:${port}`, from: 'socle@chu.example' });
    const error = await transport.send({ to: 'teacher1@example.com', subject: 's', text: 't', html: '<p>t</p>' }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(error?.message).toMatch(/^SMTP delivery failed \(E[A-Z]+\)$/);
    expect(error?.message).not.toMatch(/s3cret|socle:|teacher1/);
    transport.close();
  });
});
