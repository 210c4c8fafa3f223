import { type Request, Router } from 'express';
import { decodeJwt } from 'jose';
import type { AppContext } from '../context';
import { asyncHandler } from '../web/http';
import { ASSETS } from '../web/render';
import { notFound } from '../domain/errors';
import { achievementPath, urls } from '../badges/achievements';
import { formatDate, formatMinutes } from '../domain/format';
import { type AchievementRow, achievementJsonOf, type CredentialRow, findAchievementByPath, findCredential, issuerProfile, issuerProfileOf } from '../badges/credentials';
import { findInstitution } from '../identity/institution';
import { findPlatform } from '../identity/records';
import { escapeXml } from '../badges/image';
import { publishedJwks, publishedKey } from '../badges/keys';
import { publishedStatusList } from '../badges/status-list';
import { achievementSvg, bakedSvg, storedBakedPng, storedPng, verifyWithSocle } from '../badges/service';
import type { VerificationResult } from '../badges/verify';

/**
 * Public badge routes (no authentication: anyone holding a badge link can check it):
 * - `GET /badges/issuer`, `GET /badges/jwks.json`: the issuer profile and its keys (active and retired);
 * - `GET /badges/:id`: the verification page (HTML, French or English) or, with `Accept: application/json`,
 *   `{ id, status: valid | revoked | unknown, … }`;
 * - `GET /badges/:id/badge.png|svg`: the badge image with the credential baked in (the PNG drawn once per
 *   achievement, on its first request, then read from the store);
 * - `GET /achievements/<référentiel>/<version>[/domains/<code>]`: the achievement (JSON) and its `image.png|svg`.
 */
export function badgesRouter(ctx: AppContext): Router {
  const router = Router();
  const { publicUrl } = ctx.config;
  const db = ctx.store.db;

  // `?platform=<issuer>`: the profile a platform's badges embed (its institution's name, URL, email and logo)
  router.get(
    '/badges/issuer',
    asyncHandler(async (req, res) => {
      const issuer = typeof req.query.platform === 'string' ? req.query.platform : undefined;
      const platform = issuer === undefined ? undefined : await findPlatform(db, issuer);
      if (issuer !== undefined && !platform) throw notFound(`No platform ${issuer}.`);
      res.set('Cache-Control', 'public, max-age=300').json(platform ? await issuerProfileOf(db, publicUrl, platform.id) : issuerProfile(publicUrl));
    }),
  );

  router.get(
    '/badges/issuer/logo/:platformId',
    asyncHandler(async (req, res) => {
      const id = Number(req.params.platformId);
      const row = Number.isSafeInteger(id) && id > 0 ? await findInstitution(db, id) : undefined;
      if (!row?.logo || !row.logoType) throw notFound('This issuer has no logo.');
      // an SVG logo was checked on upload (no script, no outside reference); served inert anyway
      res.set({ 'Cache-Control': 'public, max-age=300', 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox" });
      res.type(row.logoType).send(row.logo);
    }),
  );

  router.get(
    '/badges/jwks.json',
    asyncHandler(async (_req, res) => {
      res.set('Cache-Control', 'public, max-age=300').type('application/jwk-set+json').send(JSON.stringify(await publishedJwks(db, publicUrl)));
    }),
  );

  // one key, the `kid` of the credentials it signed
  router.get(
    '/badges/keys/:kid',
    asyncHandler(async (req, res) => {
      const kid = req.params.kid ?? '';
      const jwk = /^[A-Za-z0-9_-]{1,100}$/.test(kid) ? await publishedKey(db, publicUrl, kid) : undefined;
      if (!jwk) throw notFound(`No key ${kid}.`);
      res.set('Cache-Control', 'public, max-age=300').type('application/jwk+json').send(JSON.stringify(jwk));
    }),
  );

  // a revocation status list (W3C Bitstring Status List): the signed VC-JWT, or its payload as JSON on request
  router.get(
    '/badges/status/:listId',
    asyncHandler(async (req, res) => {
      const raw = req.params.listId ?? '';
      const list = /^\d{1,9}$/.test(raw) ? await publishedStatusList(db, ctx, Number(raw), ctx.clock()) : undefined;
      if (!list) throw notFound(`No status list ${raw}.`);
      const etag = `"${raw}-${list.revision}"`;
      res.vary('Accept').set({ 'Cache-Control': 'public, max-age=60', ETag: etag, 'Last-Modified': list.signedAt.toUTCString() });
      if (req.headers['if-none-match'] === etag) {
        res.status(304).end();
        return;
      }
      if (req.accepts(['application/vc+jwt', 'application/jwt', 'application/json']) === 'application/json') {
        res.json(decodeJwt(list.jwt));
        return;
      }
      res.type('application/vc+jwt').send(list.jwt);
    }),
  );

  const achievementOf = async (req: Request): Promise<AchievementRow> => {
    const params = req.params as Record<string, string | undefined>;
    const path = achievementPath(params.referential ?? '', params.version ?? '', params.domain ?? null);
    const row = await findAchievementByPath(db, path);
    if (!row) throw notFound(`No achievement at /achievements/${path}.`);
    return row;
  };
  for (const base of ['/achievements/:referential/:version', '/achievements/:referential/:version/domains/:domain']) {
    router.get(
      base,
      asyncHandler(async (req, res) => {
        res.json(achievementJsonOf(await achievementOf(req), publicUrl));
      }),
    );
    router.get(
      `${base}/image.svg`,
      asyncHandler(async (req, res) => {
        res.type('image/svg+xml').send(achievementSvg(await achievementOf(req)));
      }),
    );
    router.get(
      `${base}/image.png`,
      asyncHandler(async (req, res) => {
        res.type('image/png').send(await storedPng(db, await achievementOf(req)));
      }),
    );
  }

  const credentialOf = async (id: string) => {
    const found = await findCredential(db, id);
    if (!found) throw notFound(`No badge ${id}.`);
    return found;
  };

  router.get(
    '/badges/:id/badge.png',
    asyncHandler(async (req, res) => {
      const { credential, achievement } = await credentialOf(req.params.id ?? '');
      res
        .type('image/png')
        .set('Content-Disposition', `inline; filename="badge-${credential.id}.png"`)
        .send(await storedBakedPng(db, achievement, credential.jwt));
    }),
  );

  router.get(
    '/badges/:id/badge.svg',
    asyncHandler(async (req, res) => {
      const { credential, achievement } = await credentialOf(req.params.id ?? '');
      res
        .type('image/svg+xml')
        .set('Content-Disposition', `inline; filename="badge-${credential.id}.svg"`)
        .send(bakedSvg(achievement, credential.jwt));
    }),
  );

  router.get(
    '/badges/:id',
    asyncHandler(async (req, res) => {
      const id = req.params.id ?? '';
      const found = await findCredential(db, id);
      const verification = found ? await verifyWithSocle(db, ctx, found.credential.jwt, ctx.clock()) : undefined;
      const body = statusBody(publicUrl, id, found, verification);
      res.vary('Accept').vary('Accept-Language').set('Cache-Control', 'no-cache');
      const format = req.accepts(['html', 'json']);
      if (format === 'json') {
        res.status(found ? 200 : 404).json(body);
        return;
      }
      const lang = req.acceptsLanguages('fr', 'en') === 'en' ? 'en' : 'fr';
      res
        .status(found ? 200 : 404)
        .type('html')
        .send(verificationPage(lang, body, found?.achievement));
    }),
  );

  return router;
}

export interface BadgeStatusBody {
  id: string;
  status: 'valid' | 'revoked' | 'unknown' | 'invalid';
  achievement?: { id: string; name: string; domain: string | null };
  issuer?: string;
  issuedAt?: string;
  creditsEarnedMinutes?: number;
  revokedAt?: string | null;
  revocationReason?: string | null;
  errors?: string[];
  jwt?: string;
  images?: { png: string; svg: string };
}

function statusBody(
  publicUrl: string,
  id: string,
  found: { credential: CredentialRow; achievement: AchievementRow } | undefined,
  verification: VerificationResult | undefined,
): BadgeStatusBody {
  if (!found || !verification) return { id: urls.credential(publicUrl, id), status: 'unknown' };
  const { credential: c, achievement: a } = found;
  const url = urls.credential(publicUrl, c.id);
  return {
    id: url,
    status: verification.status,
    achievement: { id: urls.achievement(publicUrl, a.path), name: a.name, domain: a.domainCode },
    issuer: urls.issuer(publicUrl),
    issuedAt: c.issuedAt.toISOString(),
    creditsEarnedMinutes: c.creditsEarnedMinutes,
    revokedAt: c.revokedAt?.toISOString() ?? null,
    revocationReason: c.revocationReason,
    ...(verification.status === 'invalid' ? { errors: verification.errors } : {}),
    jwt: c.jwt,
    images: { png: `${url}/badge.png`, svg: `${url}/badge.svg` },
  };
}

const TEXT = {
  fr: {
    title: 'Vérification de badge',
    valid: 'Badge valide',
    revoked: 'Badge révoqué',
    unknown: 'Badge inconnu',
    invalid: 'Badge invalide',
    unknownText: "Socle n'a délivré aucun badge sous cet identifiant.",
    validText: 'Ce badge a été délivré par Socle, sa signature est vérifiée et il est en cours de validité.',
    revokedText: "Ce badge a été délivré par Socle puis révoqué : il n'atteste plus cette compétence.",
    invalidText: "La vérification de ce badge a échoué.",
    issuedAt: 'Délivré le',
    revokedAt: 'Révoqué le',
    reason: 'Motif',
    hours: 'Heures validées',
    criteria: "Critères d'obtention",
    issuer: 'Émetteur',
    download: 'Télécharger',
    credential: 'Attestation signée (VC-JWT)',
    json: 'Version JSON',
  },
  en: {
    title: 'Badge verification',
    valid: 'Valid badge',
    revoked: 'Revoked badge',
    unknown: 'Unknown badge',
    invalid: 'Invalid badge',
    unknownText: 'Socle issued no badge with this identifier.',
    validText: 'This badge was issued by Socle, its signature checks out and it is currently valid.',
    revokedText: 'This badge was issued by Socle and then revoked: it no longer attests this competency.',
    invalidText: 'This badge failed verification.',
    issuedAt: 'Issued on',
    revokedAt: 'Revoked on',
    reason: 'Reason',
    hours: 'Hours credited',
    criteria: 'Criteria',
    issuer: 'Issuer',
    download: 'Download',
    credential: 'Signed credential (VC-JWT)',
    json: 'JSON version',
  },
} as const;

function verificationPage(lang: 'fr' | 'en', body: BadgeStatusBody, achievement: AchievementRow | undefined): string {
  const t = TEXT[lang];
  const e = escapeXml;
  const rows: string[] = [];
  if (body.issuedAt) rows.push(`<dt>${t.issuedAt}</dt><dd>${e(formatDate(body.issuedAt, { locale: lang }))}</dd>`);
  if (body.creditsEarnedMinutes !== undefined) rows.push(`<dt>${t.hours}</dt><dd>${e(formatMinutes(body.creditsEarnedMinutes))}</dd>`);
  if (body.revokedAt) rows.push(`<dt>${t.revokedAt}</dt><dd>${e(formatDate(body.revokedAt, { locale: lang }))}</dd>`);
  if (body.revocationReason) rows.push(`<dt>${t.reason}</dt><dd>${e(body.revocationReason)}</dd>`);
  if (body.issuer) rows.push(`<dt>${t.issuer}</dt><dd><a href="${e(body.issuer)}">${e(body.issuer)}</a></dd>`);
  if (achievement) rows.push(`<dt>${t.criteria}</dt><dd>${e(achievement.criteria)}</dd>`);
  const text = { valid: t.validText, revoked: t.revokedText, unknown: t.unknownText, invalid: t.invalidText }[body.status];
  return `<!doctype html>
<html lang="${lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(t.title)}${body.achievement ? ` — ${e(body.achievement.name)}` : ''}</title>
<link rel="stylesheet" href="${ASSETS}/verify.css"></head>
<body>
<main>
<h1>${e(t.title)}</h1>
<p class="status" data-status="${body.status}"><strong>${e(t[body.status])}</strong><br>${e(text)}</p>
${body.images ? `<img src="${e(body.images.png)}" alt="${e(body.achievement?.name ?? '')}">` : ''}
${body.achievement ? `<h2>${e(body.achievement.name)}</h2>` : ''}
${achievement ? `<p>${e(achievement.description)}</p>` : ''}
<dl>${rows.join('')}</dl>
${body.images ? `<p>${t.download}${lang === 'fr' ? ' :' : ':'} <a href="${e(body.images.png)}" download>PNG</a> · <a href="${e(body.images.svg)}" download>SVG</a></p>` : ''}
${body.jwt ? `<details><summary>${t.credential}</summary><textarea readonly rows="8">${e(body.jwt)}</textarea></details>` : ''}
<p><a href="${e(body.id)}" type="application/json">${t.json}</a> (Accept: application/json)</p>
</main>
</body>
</html>
`;
}
