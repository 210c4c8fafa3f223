import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Secrets Socle keeps for others (Moodle web-service tokens, badge signing keys) are sealed at rest with
 * AES-256-GCM under a key derived from LTI_KEY per purpose. Sealed form: `v1.<iv>.<tag>.<ciphertext>` (base64url).
 */
export type SecretPurpose = 'webservice-token' | 'badge-key';

function keyFor(masterKey: string, purpose: SecretPurpose): Buffer {
  return Buffer.from(hkdfSync('sha256', masterKey, 'socle', purpose, 32));
}

export function sealSecret(masterKey: string, purpose: SecretPurpose, plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyFor(masterKey, purpose), iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), ciphertext].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

export function openSecret(masterKey: string, purpose: SecretPurpose, sealed: string): string {
  const [version, iv, tag, ciphertext] = sealed.split('.');
  if (version !== 'v1' || !iv || !tag || ciphertext === undefined) throw new Error('not a sealed secret');
  const decipher = createDecipheriv('aes-256-gcm', keyFor(masterKey, purpose), Buffer.from(iv, 'base64url'));
  decipher.setAuthTag(Buffer.from(tag, 'base64url'));
  return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
}
