import { createHash } from 'node:crypto';
import { z } from 'zod';
import { invalidReferential } from '../errors';
import {
  competencySchema,
  domainFieldsSchema,
  type Referential,
  referentialFieldsSchema,
  uniqueKey,
} from '../../domain/referential';
import { formatMinutes } from '../../domain/format';
import { defineFormat, issueDetails, looksLikeJson, parseJson, validReferential } from './format';

/**
 * 1EdTech CASE 1.1 JSON (a CFPackage: CFDocument, CFItems, CFAssociations of type isChildOf).
 *
 * The document is the référentiel version; its CFItems are the domains (children of the document) and the
 * competencies (children of their domain), `fullStatement` = title, `humanCodingScheme` = printed code, order in
 * `sequenceNumber`. Identifiers are UUIDs derived from `<id>@<version>` and the domain code / competency key, so
 * exporting twice gives the same identifiers.
 *
 * What CASE has no field for (hours, capacities, activities, evaluation, notes, competency key, kind, source) is
 * carried in the CASE 1.1 `extensions` object of each entity under the key `socle` (`SOCLE_EXTENSION`), and repeated
 * in readable form in `notes` ("Heures : 6 h", the capacities). Import reads the extension when present, so an
 * export re-imports to the same référentiel; a package from elsewhere (no extension) imports with codes, titles
 * and order only.
 */
export const SOCLE_EXTENSION = 'socle';

const LAST_CHANGE = '2024-09-01T00:00:00+00:00';

export function stableUuid(name: string): string {
  const hex = createHash('sha1').update(`socle:${name}`).digest('hex').slice(0, 32).split('');
  hex[12] = '5';
  hex[16] = ((parseInt(hex[16] ?? '0', 16) & 0x3) | 0x8).toString(16);
  const h = hex.join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * The Socle extensions: the fields of the référentiel, a domain, a competency that CASE has no field for (title,
 * code and version are CASE's). Read back without their `level`, they are fields of the référentiel as they are.
 */
const documentExtension = referentialFieldsSchema.omit({ version: true, title: true });
const domainExtension = domainFieldsSchema
  .omit({ code: true, title: true })
  .extend({ level: z.literal('domain') })
  .transform(({ level: _level, ...fields }) => fields);
const competencyExtension = competencySchema
  .omit({ code: true, title: true })
  .strip()
  .extend({ level: z.literal('competency') })
  .transform(({ level: _level, ...fields }) => fields);

const linkURI = z.object({ title: z.string(), identifier: z.string().min(1), uri: z.string() });
const extensions = z.record(z.string(), z.unknown()).optional();

/** The part of CASE 1.1 that Socle reads; other fields are allowed and ignored. */
export const casePackageSchema = z.object({
  CFDocument: z.object({
    identifier: z.string().min(1),
    uri: z.string(),
    creator: z.string(),
    title: z.string().min(1),
    version: z.string().optional(),
    lastChangeDateTime: z.string(),
    extensions,
  }),
  CFItems: z
    .array(
      z.object({
        identifier: z.string().min(1),
        uri: z.string(),
        fullStatement: z.string().min(1),
        humanCodingScheme: z.string().optional(),
        CFItemType: z.string().optional(),
        lastChangeDateTime: z.string(),
        extensions,
      }),
    )
    .min(1),
  CFAssociations: z.array(
    z.object({
      identifier: z.string().min(1),
      associationType: z.string(),
      originNodeURI: linkURI,
      destinationNodeURI: linkURI,
      sequenceNumber: z.number().int().optional(),
    }),
  ),
});
export type CasePackage = z.infer<typeof casePackageSchema>;

function itemType(ref: Referential, level: 'domain' | 'competency'): string {
  if (level === 'competency') return 'Compétence';
  return ref.kind === 'certification' ? 'Bloc de compétences' : ref.kind === 'modules' ? 'Module' : 'Domaine';
}

function readable(minutes: number | null, capacities: string[] = []): string | undefined {
  const lines: string[] = [];
  if (minutes !== null) lines.push(`Heures : ${formatMinutes(minutes)}`);
  if (capacities.length) lines.push('Capacités :', ...capacities.map((c) => `- ${c}`));
  return lines.length ? lines.join('\n') : undefined;
}

/** The CFPackage of a référentiel version. `baseUrl` prefixes the `uri` of every entity (Socle's public URL). */
export function toCase(ref: Referential, baseUrl: string): Record<string, unknown> {
  const name = `${ref.id}@${ref.version}`;
  const base = baseUrl.replace(/\/$/, '');
  const uri = (identifier: string) => `${base}/api/v1/case/${identifier}`;
  const docId = stableUuid(name);
  const docLink = { title: ref.title, identifier: docId, uri: uri(docId) };
  const items: Record<string, unknown>[] = [];
  const associations: Record<string, unknown>[] = [];
  const child = (origin: typeof docLink, destination: typeof docLink, sequenceNumber: number) => {
    const identifier = stableUuid(`${name}/assoc/${origin.identifier}`);
    associations.push({
      identifier,
      uri: uri(identifier),
      associationType: 'isChildOf',
      CFDocumentURI: docLink,
      sequenceNumber,
      originNodeURI: origin,
      destinationNodeURI: destination,
      lastChangeDateTime: LAST_CHANGE,
    });
  };
  ref.domains.forEach((domain, d) => {
    const identifier = stableUuid(`${name}/domain/${domain.code}`);
    const link = { title: domain.title, identifier, uri: uri(identifier) };
    items.push({
      identifier,
      uri: uri(identifier),
      CFDocumentURI: docLink,
      fullStatement: domain.title,
      humanCodingScheme: domain.code,
      CFItemType: itemType(ref, 'domain'),
      language: 'fr',
      notes: readable(domain.requiredMinutes),
      lastChangeDateTime: LAST_CHANGE,
      extensions: {
        [SOCLE_EXTENSION]: {
          level: 'domain',
          requiredMinutes: domain.requiredMinutes,
          activities: domain.activities,
          evaluation: domain.evaluation,
          notes: domain.notes,
        },
      },
    });
    child(link, docLink, d + 1);
    domain.competencies.forEach((competency, c) => {
      const cid = stableUuid(`${name}/competency/${competency.key}`);
      items.push({
        identifier: cid,
        uri: uri(cid),
        CFDocumentURI: docLink,
        fullStatement: competency.title,
        humanCodingScheme: competency.code,
        CFItemType: itemType(ref, 'competency'),
        language: 'fr',
        notes: readable(competency.requiredMinutes, competency.capacities),
        lastChangeDateTime: LAST_CHANGE,
        extensions: {
          [SOCLE_EXTENSION]: {
            level: 'competency',
            key: competency.key,
            requiredMinutes: competency.requiredMinutes,
            capacities: competency.capacities,
            activity: competency.activity,
            evaluation: competency.evaluation,
            notes: competency.notes,
          },
        },
      });
      child({ title: competency.title, identifier: cid, uri: uri(cid) }, link, c + 1);
    });
  });
  return {
    CFDocument: {
      identifier: docId,
      uri: uri(docId),
      creator: ref.publisher ?? 'Socle',
      title: ref.title,
      version: ref.version,
      lastChangeDateTime: LAST_CHANGE,
      language: 'fr',
      adoptionStatus: 'Adopted',
      notes: readable(ref.requiredMinutes),
      CFPackageURI: { title: ref.title, identifier: docId, uri: `${base}/api/v1/referentials/${ref.id}?version=${encodeURIComponent(ref.version)}&format=case` },
      extensions: {
        [SOCLE_EXTENSION]: {
          id: ref.id,
          publisher: ref.publisher,
          kind: ref.kind,
          appliesTo: ref.appliesTo,
          source: ref.source,
          requiredMinutes: ref.requiredMinutes,
          notes: ref.notes,
        },
      },
    },
    CFItems: items,
    CFAssociations: associations,
  };
}

function extension<S extends z.ZodType>(schema: S, value: Record<string, unknown> | undefined, path: string): z.infer<S> | undefined {
  const raw = value?.[SOCLE_EXTENSION];
  if (raw === undefined) return undefined;
  const result = schema.safeParse(raw);
  if (!result.success) throw invalidReferential('Invalid CASE package', issueDetails(result.error, `${path}.extensions.${SOCLE_EXTENSION}`));
  return result.data;
}

function slug(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 60)
    .replace(/-$/, '');
}

/** Reads a CFPackage back into a référentiel; an `invalid_request` error names the JSON path of every problem. */
export function fromCase(input: unknown): Referential {
  const parsed = casePackageSchema.safeParse(input);
  if (!parsed.success) throw invalidReferential('Invalid CASE package', issueDetails(parsed.error));
  const pkg = parsed.data;
  const doc = pkg.CFDocument;
  const docExt = extension(documentExtension, doc.extensions, 'CFDocument');
  const items = new Map(pkg.CFItems.map((item, i) => [item.identifier, { item, i }]));
  const children = new Map<string, { id: string; seq: number }[]>();
  pkg.CFAssociations.forEach((a, i) => {
    if (a.associationType !== 'isChildOf') return;
    if (!items.has(a.originNodeURI.identifier)) {
      throw invalidReferential('Invalid CASE package', [
        { path: `CFAssociations[${i}].originNodeURI.identifier`, message: `no CFItem has identifier ${a.originNodeURI.identifier}` },
      ]);
    }
    const list = children.get(a.destinationNodeURI.identifier) ?? [];
    list.push({ id: a.originNodeURI.identifier, seq: a.sequenceNumber ?? list.length + 1 });
    children.set(a.destinationNodeURI.identifier, list);
  });
  const usedKeys = new Set<string>();
  const ordered = (parent: string) => (children.get(parent) ?? []).sort((a, b) => a.seq - b.seq);
  const domainIds = ordered(doc.identifier);
  if (!domainIds.length) {
    throw invalidReferential('Invalid CASE package', [
      { path: 'CFAssociations', message: `no CFItem isChildOf the CFDocument ${doc.identifier}` },
    ]);
  }
  // Without the extensions, the référentiel's defaults (no hours, no notes…) apply.
  const candidate = {
    ...docExt,
    id: docExt?.id ?? slug(doc.title),
    version: doc.version ?? 'sans-version',
    title: doc.title,
    publisher: docExt ? docExt.publisher : doc.creator,
    kind: docExt?.kind ?? 'modules',
    domains: domainIds.map(({ id }) => {
      const entry = items.get(id);
      if (!entry) throw invalidReferential('Invalid CASE package', [{ path: 'CFAssociations', message: `unknown item ${id}` }]);
      const { item, i } = entry;
      const ext = extension(domainExtension, item.extensions, `CFItems[${i}]`);
      return {
        ...ext,
        code: item.humanCodingScheme ?? String(i + 1),
        title: item.fullStatement,
        competencies: ordered(id).map(({ id: cid }) => {
          const centry = items.get(cid);
          if (!centry) throw invalidReferential('Invalid CASE package', [{ path: 'CFAssociations', message: `unknown item ${cid}` }]);
          if (ordered(cid).length) {
            throw invalidReferential('Invalid CASE package', [
              { path: `CFItems[${centry.i}]`, message: 'Socle reads two levels (domains → competencies); this competency has children' },
            ]);
          }
          const cext = extension(competencyExtension, centry.item.extensions, `CFItems[${centry.i}]`);
          const code = centry.item.humanCodingScheme ?? String(centry.i + 1);
          return { ...cext, key: cext?.key ?? uniqueKey(code, usedKeys), code, title: centry.item.fullStatement };
        }),
      };
    }),
  };
  return validReferential(candidate, 'The CASE package is not a valid référentiel');
}

export const caseFormat = defineFormat({
  name: 'case',
  description: 'a 1EdTech CASE 1.1 package (JSON)',
  extension: '.case.json',
  contentType: 'application/json; charset=utf-8',
  export: (ref, baseUrl) => `${JSON.stringify(toCase(ref, baseUrl), null, 2)}\n`,
  accepts: looksLikeJson,
  import: (text) => fromCase(parseJson(text)),
});
