import type { Executor } from '../db/store';
import { urls } from './achievements';
import { bakePng, bakeSvg } from './baking';
import { type AchievementRow, findCredential } from './credentials';
import { badgeSvg, renderPng } from './image';
import { publicJwks } from './keys';
import { type VerificationResult, verifyJwt } from './verify';

/** Verifies a VC-JWT against Socle's own keys (current and retired) and records. */
export async function verifyWithSocle(ex: Executor, publicUrl: string, jwt: string, now?: Date): Promise<VerificationResult> {
  const { keys } = await publicJwks(ex);
  return verifyJwt(jwt, {
    keys,
    issuerId: urls.issuer(publicUrl),
    now,
    statusOf: async (credentialId) => {
      // Only ids under this Socle's public URL are Socle's.
      if (!credentialId.startsWith(`${publicUrl}/badges/`)) return undefined;
      const found = await findCredential(ex, credentialId);
      return found?.credential;
    },
  });
}

/** The achievement's picture (unbaked SVG). */
export function achievementSvg(achievement: AchievementRow): string {
  return badgeSvg({ title: achievement.title, requiredMinutes: achievement.requiredMinutes, domainCode: achievement.domainCode });
}

export async function bakedPng(achievement: AchievementRow, jwt: string, width = 256): Promise<Buffer> {
  return bakePng(await renderPng(achievementSvg(achievement), width), jwt);
}

export function bakedSvg(achievement: AchievementRow, jwt: string): string {
  return bakeSvg(achievementSvg(achievement), jwt);
}
