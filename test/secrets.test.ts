import { openSecret, sealSecret } from '../src/secrets';

const key = 'k'.repeat(40);

describe('sealed secrets', () => {
  it('round-trips and never shows the plaintext', () => {
    const sealed = sealSecret(key, 'webservice-token', 'abc123token');
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain('abc123token');
    expect(openSecret(key, 'webservice-token', sealed)).toBe('abc123token');
    expect(sealSecret(key, 'webservice-token', 'abc123token')).not.toBe(sealed);
  });

  it('refuses another master key, another purpose and a tampered value', () => {
    const sealed = sealSecret(key, 'webservice-token', 'abc');
    expect(() => openSecret('x'.repeat(40), 'webservice-token', sealed)).toThrow();
    expect(() => openSecret(key, 'badge-key', sealed)).toThrow();
    const parts = sealed.split('.');
    parts[3] = Buffer.from('xyz').toString('base64url');
    expect(() => openSecret(key, 'webservice-token', parts.join('.'))).toThrow();
    expect(() => openSecret(key, 'webservice-token', 'plain')).toThrow('not a sealed secret');
  });
});
