import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { badgeImages } from '../db/schema';
import type { Executor } from '../db/store';
import { bakePng, bakeSvg } from './baking';
import type { Config } from '../config';
import type { AchievementRow } from './credentials';
import { badgeSvg, renderPng } from './image';
import { publishedJwks, publishedKey } from './keys';
import { publishedStatusList } from './status-list';
import { didDocument, didDocumentUrl, isEmbeddedProof, verifyEmbeddedCredential } from './proofs';
import { type Resolve, type Resolved, type VerificationResult, verifyCredentialJwt } from './verify';

/**
 * Socle's own published documents by URL, as `GET /badges/keys/<kid>`, `/badges/jwks.json`,
 * `/badges/status/<list>` and its DID document (`/.well-known/did.json`) serve them (404 for any other URL): what its verification page reads instead of calling
 * itself over HTTP.
 */
export function socleResolver(ex: Executor, ctx: { config: Pick<Config, 'publicUrl' | 'ltiKey'> }, now?: Date): Resolve {
  const { publicUrl } = ctx.config;
  const json = (value: unknown): Resolved => ({ status: 200, contentType: 'application/json', body: JSON.stringify(value) });
  const missing: Resolved = { status: 404, contentType: 'text/plain', body: 'not found' };
  return async (url) => {
    if (url === didDocumentUrl(publicUrl)) return json(await didDocument(ex, publicUrl));
    if (!url.startsWith(`${publicUrl}/badges/`)) return missing;
    const rest = url.slice(`${publicUrl}/badges/`.length);
    if (rest === 'jwks.json') return json(await publishedJwks(ex, publicUrl));
    const key = /^keys\/([A-Za-z0-9_-]+)$/.exec(rest);
    if (key?.[1]) {
      const jwk = await publishedKey(ex, publicUrl, key[1]);
      return jwk ? json(jwk) : missing;
    }
    const list = /^status\/(\d{1,9})$/.exec(rest);
    if (list?.[1]) {
      const published = await publishedStatusList(ex, ctx, Number(list[1]), now);
      return published ? { status: 200, contentType: 'application/vc+jwt', body: published.jwt } : missing;
    }
    return missing;
  };
}

/**
 * Verifies a VC-JWT, or a credential JSON with an embedded proof (BADGE_PROOF=data-integrity), as a third party
 * would, reading Socle's published keys, DID document and status lists directly.
 */
export async function verifyWithSocle(ex: Executor, ctx: { config: Pick<Config, 'publicUrl' | 'ltiKey'> }, signed: string, now?: Date): Promise<VerificationResult> {
  const options = { resolve: socleResolver(ex, ctx, now), ...(now ? { now } : {}) };
  return isEmbeddedProof(signed) ? verifyEmbeddedCredential(signed, options) : verifyCredentialJwt(signed, options);
}

/** The achievement's picture (unbaked SVG). */
export function achievementSvg(achievement: AchievementRow): string {
  return badgeSvg({ title: achievement.title, requiredMinutes: achievement.requiredMinutes, domainCode: achievement.domainCode });
}

export async function bakedPng(achievement: AchievementRow, jwt: string, width = 256): Promise<Buffer> {
  return bakePng(await renderPng(achievementSvg(achievement), width), jwt);
}

/**
 * The achievement's picture as PNG, from the store: rendered (resvg) on its first request and kept in
 * `badge_images` under its SVG's digest, so later requests, in any Socle process, read it instead of drawing it.
 */
export async function storedPng(ex: Executor, achievement: AchievementRow, width = 256): Promise<Buffer> {
  const svg = achievementSvg(achievement);
  const key = `${width}:${createHash('sha256').update(svg).digest('hex')}`;
  const [stored] = await ex.select({ png: badgeImages.png }).from(badgeImages).where(eq(badgeImages.key, key));
  if (stored) return stored.png;
  const png = await renderPng(svg, width);
  await ex.insert(badgeImages).values({ key, png }).onConflictDoNothing();
  return png;
}

/** A credential's PNG: the stored picture with its VC-JWT baked in (one chunk added, no rendering). */
export async function storedBakedPng(ex: Executor, achievement: AchievementRow, jwt: string, width = 256): Promise<Buffer> {
  return bakePng(await storedPng(ex, achievement, width), jwt);
}

export function bakedSvg(achievement: AchievementRow, jwt: string): string {
  return bakeSvg(achievementSvg(achievement), jwt);
}
