import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { badgeImages } from '../db/schema';
import type { Executor } from '../db/store';
import { urls } from './achievements';
import { bakePng, bakeSvg } from './baking';
import { type AchievementRow, findCredential } from './credentials';
import { badgeSvg, renderPng } from './image';
import { publicJwks } from './keys';
import { isEmbeddedProof, verifyEmbeddedWithSocle } from './proofs';
import { type VerificationResult, verifyJwt } from './verify';

/** Verifies a VC-JWT against Socle's own keys (current and retired) and records. */
export async function verifyWithSocle(ex: Executor, publicUrl: string, jwt: string, now?: Date): Promise<VerificationResult> {
  const statusOf = async (credentialId: string) => {
    // Only ids under this Socle's public URL are Socle's.
    if (!credentialId.startsWith(`${publicUrl}/badges/`)) return undefined;
    const found = await findCredential(ex, credentialId);
    return found?.credential;
  };
  // a credential JSON with an embedded proof (BADGE_PROOF=data-integrity)
  if (isEmbeddedProof(jwt)) return verifyEmbeddedWithSocle(ex, publicUrl, jwt, statusOf, now);
  const { keys } = await publicJwks(ex);
  return verifyJwt(jwt, { keys, issuerId: urls.issuer(publicUrl), now, statusOf });
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
