import express, { type Router } from 'express';
import type { AppContext } from '../context';
import { didDocument } from '../badges/proofs';
import { findRecord, type LearnerRecordRow, recordSummary, recordUrl, type RecordVerification, verifyRecord } from '../badges/records';
import { escapeXml } from '../badges/image';
import { currentRecords } from '../coverage/records';
import { importRecord } from '../coverage/imports';
import { forbidden, notFound } from '../domain/errors';
import { findPlatform, findUser } from '../identity/records';
import { z } from 'zod';
import { formatDate, formatMinutes } from '../domain/format';
import { asyncHandler, parseOr400 } from '../web/http';
import { ASSETS } from '../web/render';
import { authorizedLearner } from './credentials';
import { authorize, resolvePrincipal, type SessionResolver } from './principal';

/** `POST /api/v1/records/imports`: a learner record of another Socle to import for a learner of a platform. */
export const importBody = z.object({
  platform: z.string().min(1).describe('the LTI issuer of the learner’s platform'),
  user: z.string().min(1).describe('the learner (LTI sub) the record is of: the token’s holder vouches for it'),
  record: z.string().min(1).max(2 * 1024 * 1024).describe('the record: its VC-JWT, or the JSON of its /records/<id> page'),
  justification: z.string().trim().max(2_000).optional().describe('added to the justification of the credits'),
});

/**
 * Learner records (CLR 2.0) and the issuer's DID:
 * - `GET /api/v1/records?platform=<issuer>&user=<sub>`: the learner's current records, one per référentiel version
 *   of their coverage, each with its signed `jwt` (an administrator's API token of the platform, or the learner's
 *   own LTI session);
 * - `GET /records/:id`: the public verification page (HTML, French or English) or, with `Accept: application/json`,
 *   `{ id, status: valid | superseded | unknown | invalid, … }`; `GET /records/:id/record.jwt`: the signed record;
 * - `POST /api/v1/records/imports`: imports a learner record of another Socle as prior learning for a learner
 *   (an administrator's API token of the platform; src/coverage/imports.ts);
 * - `GET /.well-known/did.json`: the DID document (did:web) of the Ed25519 keys of Data Integrity proofs.
 */
export function recordsRouter(ctx: AppContext, sessions: SessionResolver): Router {
  const router = express.Router();
  const db = ctx.store.db;
  const { publicUrl } = ctx.config;

  router.get(
    '/api/v1/records',
    asyncHandler(async (req, res) => {
      const { platform, user } = await authorizedLearner(ctx, req, sessions);
      const records = await db.transaction((tx) => currentRecords(tx, ctx, { platformId: platform.id, userId: user.id }));
      res.json(records.map((r) => recordSummary(publicUrl, r.record, r.title)));
    }),
  );

  router.post(
    '/api/v1/records/imports',
    express.json({ limit: '3mb' }),
    asyncHandler(async (req, res) => {
      const principal = await resolvePrincipal(ctx, req, sessions);
      // the binding of the record to the learner is the importer's word: an administrator's API token only
      if (principal.kind !== 'api-token' || principal.role !== 'admin') throw forbidden('Importing a learner record needs an administrator’s API token.');
      const body = parseOr400(importBody, req.body ?? {}, 'body');
      const platform = await findPlatform(db, body.platform);
      if (!platform) throw notFound(`No platform ${body.platform}.`);
      await authorize(db, principal, { platformId: platform.id });
      const user = await findUser(db, platform.id, body.user);
      if (!user) throw notFound(`No user ${body.user} on ${platform.issuer}.`);
      const result = await importRecord(db, ctx, ctx, {
        platformId: platform.id,
        userId: user.id,
        record: body.record,
        actor: `api-token:${principal.name}`,
        ...(body.justification ? { justification: body.justification } : {}),
      });
      const { jwt: _jwt, ...summary } = result.import;
      res.status(result.created ? 201 : 200).json({ ...result, import: summary });
    }),
  );

  router.get(
    '/.well-known/did.json',
    asyncHandler(async (_req, res) => {
      res.set('Cache-Control', 'public, max-age=300').type('application/did+json').send(JSON.stringify(await didDocument(db, publicUrl)));
    }),
  );

  router.get(
    '/records/:id/record.jwt',
    asyncHandler(async (req, res) => {
      const row = await findRecord(db, req.params.id ?? '');
      if (!row) throw notFound(`No learner record ${req.params.id ?? ''}.`);
      res
        .type('application/vc+jwt')
        .set('Content-Disposition', `attachment; filename="releve-${row.id}.jwt"`)
        .send(row.jwt);
    }),
  );

  router.get(
    '/records/:id',
    asyncHandler(async (req, res) => {
      const id = req.params.id ?? '';
      const row = await findRecord(db, id);
      const verification = row ? await verifyRecord(db, publicUrl, row.jwt) : undefined;
      const body = statusBody(publicUrl, id, row, verification);
      res.vary('Accept').vary('Accept-Language').set('Cache-Control', 'no-cache');
      if (req.accepts(['html', 'json']) === 'json') {
        res.status(row ? 200 : 404).json(body);
        return;
      }
      const lang = req.acceptsLanguages('fr', 'en') === 'en' ? 'en' : 'fr';
      res
        .status(row ? 200 : 404)
        .type('html')
        .send(recordPage(lang, body));
    }),
  );
  return router;
}

export interface RecordStatusBody {
  id: string;
  status: 'valid' | 'superseded' | 'unknown' | 'invalid';
  referential?: { id: string; version: string };
  issuer?: string;
  issuedAt?: string;
  creditsEarnedMinutes?: number;
  credentials?: RecordVerification['credentials'];
  errors?: string[];
  jwt?: string;
  download?: string;
}

function statusBody(publicUrl: string, id: string, row: LearnerRecordRow | undefined, verification: RecordVerification | undefined): RecordStatusBody {
  if (!row || !verification) return { id: recordUrl(publicUrl, id), status: 'unknown' };
  const url = recordUrl(publicUrl, row.id);
  return {
    id: url,
    status: verification.status,
    referential: { id: row.referentialId, version: row.referentialVersion },
    issuer: `${publicUrl}/badges/issuer`,
    issuedAt: row.issuedAt.toISOString(),
    creditsEarnedMinutes: row.creditsEarnedMinutes,
    credentials: verification.credentials ?? [],
    ...(verification.status === 'valid' ? {} : { errors: verification.errors }),
    jwt: row.jwt,
    download: `${url}/record.jwt`,
  };
}

const TEXT = {
  fr: {
    title: 'Vérification de relevé de formation',
    valid: 'Relevé valide',
    superseded: 'Relevé remplacé',
    unknown: 'Relevé inconnu',
    invalid: 'Relevé invalide',
    validText: 'Ce relevé (Comprehensive Learner Record 2.0) a été délivré par Socle, sa signature est vérifiée et c’est le relevé en cours de l’apprenant.',
    supersededText: 'Ce relevé a bien été délivré par Socle, mais un relevé plus récent du même apprenant pour ce référentiel l’a remplacé.',
    unknownText: "Socle n'a délivré aucun relevé sous cet identifiant.",
    invalidText: 'La vérification de ce relevé a échoué.',
    referential: 'Référentiel',
    version: 'version',
    issuedAt: 'Délivré le',
    hours: 'Heures validées',
    issuer: 'Émetteur',
    content: 'Contenu',
    achievement: 'Domaine, compétence ou référentiel',
    credited: 'Heures',
    download: 'Télécharger le relevé signé (VC-JWT)',
    credential: 'Relevé signé (VC-JWT)',
    json: 'Version JSON',
  },
  en: {
    title: 'Learner record verification',
    valid: 'Valid record',
    superseded: 'Superseded record',
    unknown: 'Unknown record',
    invalid: 'Invalid record',
    validText: 'This record (Comprehensive Learner Record 2.0) was issued by Socle, its signature checks out and it is the learner’s current record.',
    supersededText: 'This record was issued by Socle, but a newer record of the same learner for this référentiel replaced it.',
    unknownText: 'Socle issued no record with this identifier.',
    invalidText: 'This record failed verification.',
    referential: 'Référentiel',
    version: 'version',
    issuedAt: 'Issued on',
    hours: 'Hours validated',
    issuer: 'Issuer',
    content: 'Content',
    achievement: 'Domain, competency or référentiel',
    credited: 'Hours',
    download: 'Download the signed record (VC-JWT)',
    credential: 'Signed record (VC-JWT)',
    json: 'JSON version',
  },
} as const;

function recordPage(lang: 'fr' | 'en', body: RecordStatusBody): string {
  const t = TEXT[lang];
  const e = escapeXml;
  const colon = lang === 'fr' ? '\u00a0:' : ':';
  const rows: string[] = [];
  if (body.referential) rows.push(`<dt>${t.referential}</dt><dd>${e(body.referential.id)} (${t.version} ${e(body.referential.version)})</dd>`);
  if (body.issuedAt) rows.push(`<dt>${t.issuedAt}</dt><dd>${e(formatDate(body.issuedAt, { locale: lang }))}</dd>`);
  if (body.creditsEarnedMinutes !== undefined) rows.push(`<dt>${t.hours}</dt><dd>${e(formatMinutes(body.creditsEarnedMinutes))}</dd>`);
  if (body.issuer) rows.push(`<dt>${t.issuer}</dt><dd><a href="${e(body.issuer)}">${e(body.issuer)}</a></dd>`);
  const text = { valid: t.validText, superseded: t.supersededText, unknown: t.unknownText, invalid: t.invalidText }[body.status];
  const content = body.credentials?.length
    ? `<h2>${t.content}</h2><table><thead><tr><th scope="col">${t.achievement}</th><th scope="col">${t.credited}</th></tr></thead><tbody>${body.credentials
        .map((c) => `<tr><td>${e(c.name)}</td><td>${c.creditsEarned === null ? '—' : e(formatMinutes(Math.round(c.creditsEarned * 60)))}</td></tr>`)
        .join('')}</tbody></table>`
    : '';
  return `<!doctype html>
<html lang="${lang}">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${e(t.title)}</title>
<link rel="stylesheet" href="${ASSETS}/verify.css"></head>
<body>
<main>
<h1>${e(t.title)}</h1>
<p class="status" data-status="${body.status === 'superseded' ? 'revoked' : body.status}"><strong>${e(t[body.status])}</strong><br>${e(text)}</p>
<dl>${rows.join('')}</dl>
${content}
${body.errors?.length && body.status === 'invalid' ? `<ul>${body.errors.map((x) => `<li>${e(x)}</li>`).join('')}</ul>` : ''}
${body.download ? `<p><a href="${e(body.download)}" download>${t.download}</a></p>` : ''}
${body.jwt ? `<details><summary>${t.credential}</summary><textarea readonly rows="8" aria-label="${t.credential}">${e(body.jwt)}</textarea></details>` : ''}
<p><a href="${e(body.id)}" type="application/json">${t.json}</a> (Accept${colon} application/json)</p>
</main>
</body>
</html>
`;
}
