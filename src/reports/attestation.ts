import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PassThrough } from 'node:stream';
import yazl from 'yazl';
import { z } from 'zod';
import { titledReferentialRefSchema } from '../domain/referential';
import { elision, formatDate, formatMinutes } from '../domain/format';
import { pdfDefaultStyle, renderPdf, writePdf } from './pdf';
import { complianceStatus, domainFigures, drained, type ProgressCallback, yieldToEventLoop } from './rows';

export const ATTESTATION_TITLE = 'Attestation de suivi de la formation socle au numérique en santé';

/** What one learner's attestation states; the verification URL is served by Socle and confirms these figures. */
/** What the institution prints besides its name: logo (PNG data), signatory, city and the time zone of its dates. */
export const attestationIssuer = z.object({
  /** The logo as PNG bytes (an SVG logo is rendered once per batch), with its aspect; a Buffer, or the Uint8Array it becomes in a render thread. */
  logo: z.object({ png: z.custom<Uint8Array>((v) => v instanceof Uint8Array, 'PNG bytes'), width: z.number().positive(), height: z.number().positive() }).nullable(),
  signatory: z.object({ name: z.string().min(1), title: z.string().nullable() }).nullable(),
  city: z.string().nullable(),
  /** UAI and SIRET, printed under the name when set. */
  identifiers: z.array(z.object({ label: z.string(), value: z.string() })),
  timeZone: z.string().min(1),
});
export type AttestationIssuer = z.infer<typeof attestationIssuer>;

/**
 * An attestation for a period: the hours validated between `from` and `to` (dates of the credits, in the
 * institution's time zone) and those cumulated since the start of the training up to `to`. The attestation's
 * figures (domains, validated minutes) are then as of `to`.
 */
export const attestationPeriod = z.object({
  from: z.iso.date().nullable(),
  to: z.iso.date().nullable(),
  periodMinutes: z.number().int().min(0),
  cumulatedMinutes: z.number().int().min(0),
});
export type AttestationPeriod = z.infer<typeof attestationPeriod>;

/** What one learner's attestation states; the verification URL is served by Socle and confirms these figures. */
export const attestation = z.object({
  learner: z.object({ sub: z.string().min(1), name: z.string().nullable() }),
  referential: titledReferentialRefSchema,
  domains: z.array(domainFigures).min(1),
  validatedMinutes: z.number().int().min(0),
  requiredMinutes: z.number().int().min(0),
  status: complianceStatus,
  completedAt: z.date().nullable(),
  activities: z.array(
    z.object({
      title: z.string().min(1),
      domainCode: z.string().nullable(),
      /** The competency credited, with its full title. */
      competency: z.object({ code: z.string(), title: z.string() }).nullable().optional(),
      minutes: z.number().int().min(0),
      date: z.date(),
      /** Hours credited by hand (recognition of prior learning, an activity outside the LMS), flagged as such. */
      manual: z.boolean(),
    }),
  ),
  institution: z.string().min(1),
  /** The rest of the institution's profile; without it, the institution's name alone, dates in the default time zone. */
  issuer: attestationIssuer.optional(),
  period: attestationPeriod.optional(),
  issuedAt: z.date(),
  verificationUrl: z.url({ protocol: /^https?$/ }),
  /** The learner's verifiable record of this référentiel (CLR 2.0, `/records/<id>`), when Socle issues them. */
  recordUrl: z.url({ protocol: /^https?$/ }).optional(),
});
export type Attestation = z.infer<typeof attestation>;

/** A day of a period (`YYYY-MM-DD`) as French readers expect it: "1 septembre 2026". */
const periodDay = (day: string) => formatDate(`${day}T12:00:00Z`, { locale: 'fr', style: 'long', timeZone: 'UTC' });

/** "entre le 1 septembre 2026 et le 31 octobre 2026", "depuis le …", "jusqu’au …". */
function periodWords(p: AttestationPeriod): string {
  if (p.from && p.to) return `entre le ${periodDay(p.from)} et le ${periodDay(p.to)}`;
  if (p.from) return `depuis le ${periodDay(p.from)}`;
  return p.to ? `jusqu’au ${periodDay(p.to)}` : '';
}

/** The header: the logo (when set) beside the institution's name and identifiers. */
function header(a: Attestation): Record<string, unknown> {
  const name = {
    stack: [
      { text: a.institution, bold: true, fontSize: 12 },
      ...(a.issuer?.identifiers.length ? [{ text: a.issuer.identifiers.map((i) => `${i.label} ${i.value}`).join(' · '), fontSize: 8, color: '#444444' }] : []),
    ],
  };
  const logo = a.issuer?.logo;
  if (!logo) return { ...name, margin: [0, 0, 0, 18] };
  return {
    columns: [
      { image: `data:image/png;base64,${Buffer.from(logo.png).toString('base64')}`, fit: [140, 64], width: 'auto' },
      { ...name, width: '*', margin: [12, 0, 0, 0] },
    ],
    columnGap: 0,
    margin: [0, 0, 0, 18],
  };
}

/** The sentence: "<institution> atteste qu’Inès … a validé …". */
function statement(a: Attestation, learner: string): unknown[] {
  const complete = a.status === 'complete';
  const tz = a.issuer?.timeZone;
  const hours = a.period
    ? [
        { text: formatMinutes(a.period.periodMinutes), bold: true },
        ` ${periodWords(a.period)}, soit `,
        { text: formatMinutes(a.period.cumulatedMinutes), bold: true },
        ` cumulées depuis le début de la formation, sur les ${formatMinutes(a.requiredMinutes)} requises par ce référentiel`,
      ]
    : [{ text: formatMinutes(a.validatedMinutes), bold: true }, ` sur les ${formatMinutes(a.requiredMinutes)} requises par ce référentiel`];
  return [
    `${a.institution} atteste ${elision('que', learner)}`,
    { text: learner, bold: true },
    ` (identifiant ${a.learner.sub}) a validé `,
    ...hours,
    complete && a.completedAt
      ? `, et a achevé la formation le ${formatDate(a.completedAt, { locale: 'fr', timeZone: tz })}.`
      : complete
        ? ', et a achevé la formation.'
        : ' : la formation n’est pas achevée à ce jour.',
  ];
}

/** "Fait à Lyon, le 23 octobre 2026", the signatory's name and title. */
function signature(a: Attestation): Record<string, unknown> {
  const tz = a.issuer?.timeZone;
  const day = formatDate(a.issuedAt, { locale: 'fr', timeZone: tz });
  const city = a.issuer?.city;
  const signatory = a.issuer?.signatory;
  return {
    margin: [0, 20, 0, 0],
    columns: [
      { text: '', width: '*' },
      {
        width: 220,
        stack: [
          city ? `Fait à ${city}, le ${day}` : `Fait le ${day}`,
          ...(signatory
            ? [{ text: signatory.name, bold: true, margin: [0, 28, 0, 0] }, ...(signatory.title ? [{ text: signatory.title }] : [])]
            : []),
        ],
      },
    ],
  };
}

function definition(a: Attestation): Record<string, unknown> {
  const learner = a.learner.name ?? `identifiant ${a.learner.sub}`;
  const tz = a.issuer?.timeZone;
  const day = (d: Date) => formatDate(d, { locale: 'fr', style: 'short', timeZone: tz });
  const hasManual = a.activities.some((x) => x.manual);
  const title = a.period ? `${ATTESTATION_TITLE} pour une période` : ATTESTATION_TITLE;
  return {
    pageSize: 'A4',
    pageMargins: [48, 48, 48, 56],
    info: { title, creator: 'Socle', author: a.institution, subject: `${a.learner.sub}` },
    defaultStyle: { ...pdfDefaultStyle, fontSize: 10 },
    styles: {
      title: { fontSize: 16, bold: true, alignment: 'center', margin: [0, 0, 0, 4] },
      heading: { fontSize: 11, bold: true, margin: [0, 12, 0, 4] },
      th: { bold: true, fillColor: '#eeeeee' },
    },
    content: [
      header(a),
      { text: title, style: 'title' },
      ...(a.period ? [{ text: `Période : ${periodWords(a.period)}`, alignment: 'center', margin: [0, 0, 0, 4] }] : []),
      {
        text: `Référentiel : ${a.referential.title} (${a.referential.id}, version ${a.referential.version})`,
        alignment: 'center',
        margin: [0, 0, 0, 16],
      },
      { text: statement(a, learner) },
      { text: a.period?.to ? `Heures par domaine au ${periodDay(a.period.to)}` : 'Heures par domaine', style: 'heading' },
      {
        table: {
          headerRows: 1,
          widths: ['auto', '*', 'auto', 'auto'],
          body: [
            ['Domaine', 'Intitulé', 'Validées', 'Requises'].map((text) => ({ text, style: 'th' })),
            ...a.domains.map((d) => [
              d.code,
              d.title,
              { text: formatMinutes(d.validatedMinutes), alignment: 'right', noWrap: true },
              { text: formatMinutes(d.requiredMinutes), alignment: 'right', noWrap: true },
            ]),
            [
              { text: 'Total', bold: true, colSpan: 2 },
              '',
              { text: formatMinutes(a.validatedMinutes), alignment: 'right', bold: true, noWrap: true },
              { text: formatMinutes(a.requiredMinutes), alignment: 'right', bold: true, noWrap: true },
            ],
          ],
        },
        layout: 'lightHorizontalLines',
      },
      { text: a.period ? 'Activités de la période' : 'Activités', style: 'heading' },
      a.activities.length
        ? {
            table: {
              headerRows: 1,
              widths: ['auto', '*', '*', 'auto', 'auto'],
              body: [
                ['Date', 'Activité', 'Compétence', 'Heures', 'Crédit'].map((text) => ({ text, style: 'th' })),
                ...a.activities.map((x) => [
                  { text: day(x.date), noWrap: true },
                  x.title,
                  x.competency ? `${x.competency.code} ${x.competency.title}` : (x.domainCode ?? '—'),
                  { text: formatMinutes(x.minutes), alignment: 'right', noWrap: true },
                  x.manual ? { text: 'manuel *', italics: true } : 'activité',
                ]),
              ],
            },
            layout: 'lightHorizontalLines',
          }
        : { text: a.period ? 'Aucune activité validée sur la période.' : 'Aucune activité validée.', italics: true },
      hasManual
        ? {
            text: '* Crédit manuel : heures attribuées par un responsable pédagogique, hors activité suivie dans la plateforme.',
            fontSize: 8,
            italics: true,
            margin: [0, 4, 0, 0],
          }
        : '',
      signature(a),
      {
        margin: [0, 24, 0, 0],
        columns: [
          { qr: a.verificationUrl, fit: 90, width: 'auto' },
          {
            width: '*',
            margin: [12, 0, 0, 0],
            stack: [
              `Délivrée le ${formatDate(a.issuedAt, { locale: 'fr', style: 'dateTime', timeZone: tz })} par ${a.institution}.`,
              { text: 'Vérifier cette attestation :', margin: [0, 6, 0, 0] },
              { text: a.verificationUrl, link: a.verificationUrl, color: '#1a4f9c' },
              {
                text: 'Cette adresse, servie par l’outil Socle de l’établissement, confirme les heures ci-dessus.',
                fontSize: 8,
                margin: [0, 4, 0, 0],
              },
              ...(a.recordUrl
                ? [
                    { text: 'Relevé de formation numérique vérifiable (CLR 2.0) :', margin: [0, 6, 0, 0] },
                    { text: a.recordUrl, link: a.recordUrl, color: '#1a4f9c' },
                  ]
                : []),
            ],
          },
        ],
      },
    ],
    footer: (currentPage: number, pageCount: number) => ({
      text: `${title} — ${learner} — page ${currentPage} / ${pageCount}`,
      alignment: 'center',
      fontSize: 7,
      margin: [48, 20, 48, 0],
    }),
  };
}

/** One attestation as a PDF into `out` (ended after). */
export async function writeAttestationPdf(a: Attestation, out: Writable): Promise<void> {
  await writePdf(definition(attestation.parse(a)), out);
}

export async function renderAttestationPdf(a: Attestation): Promise<Buffer> {
  return renderPdf(definition(attestation.parse(a)));
}

const safe = (s: string) =>
  s
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[^A-Za-z0-9_-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 60) || 'x';

/** The file name of an attestation in a bulk ZIP: `attestation-<name>-<sub>.pdf`, ASCII only. */
export const attestationFileName = (a: Attestation) =>
  `attestation-${a.learner.name ? `${safe(a.learner.name)}-` : ''}${safe(a.learner.sub)}.pdf`;

/** What renders the PDFs of a bulk ZIP (attestation-render.ts: worker threads); by default, this thread. */
export interface ZipRenderer {
  /** How many renders run at once: the ZIP keeps twice as many in flight, and pulls no more from the source. */
  readonly parallelism: number;
  render(a: Attestation): Promise<Buffer>;
}

/**
 * Writes a ZIP of one PDF per attestation and ends `out`, entries in the source's order. Streaming with bounded
 * memory: at most `2 × parallelism` attestations are pulled from the source and rendering, and the next waits
 * until the ZIP has taken all but two of the rendered PDFs and `out` has room. Each PDF is handed to the ZIP as a
 * stream read once, so that nothing keeps it once written (a buffer given to yazl's `addBuffer` stays referenced
 * by its entry until the ZIP ends: every PDF of the export was held in memory).
 */
export async function writeAttestationsZip(
  source: AsyncIterable<Attestation>,
  out: Writable,
  options: { onProgress?: ProgressCallback; renderer?: ZipRenderer } = {},
): Promise<number> {
  const renderer: ZipRenderer = options.renderer ?? { parallelism: 1, render: renderAttestationPdf };
  const zip = new yazl.ZipFile();
  const piped = pipeline(zip.outputStream, out);
  const names = new Set<string>();
  const rendering: Promise<{ a: Attestation; pdf: Buffer }>[] = [];
  let queued = 0;
  let taken: (() => void) | undefined;
  let count = 0;
  const add = async (a: Attestation, pdf: Buffer) => {
    let name = attestationFileName(a);
    for (let i = 2; names.has(name); i++) name = attestationFileName(a).replace(/\.pdf$/, `-${i}.pdf`);
    names.add(name);
    let held: Buffer | null = pdf;
    queued++;
    // PDFs are already compressed: store them.
    zip.addReadStreamLazy(name, { mtime: a.issuedAt, compress: false, size: pdf.length }, (cb) => {
      const stream = new PassThrough();
      stream.end(held);
      held = null;
      queued--;
      taken?.();
      cb(null, stream);
    });
    count++;
    options.onProgress?.(count);
    while (queued > 2) await new Promise<void>((resolve) => (taken = resolve));
    await drained(out);
  };
  try {
    for await (const a of source) {
      const job = renderer.render(a).then((pdf) => ({ a, pdf }));
      job.catch(() => undefined); // awaited below, in order
      rendering.push(job);
      if (rendering.length >= 2 * renderer.parallelism) {
        const done = await (rendering.shift() as (typeof rendering)[number]);
        await add(done.a, done.pdf);
      }
      await yieldToEventLoop();
    }
    while (rendering.length) {
      const done = await (rendering.shift() as (typeof rendering)[number]);
      await add(done.a, done.pdf);
    }
  } catch (error) {
    (zip.outputStream as Readable).destroy(error as Error);
    await piped.catch(() => undefined);
    throw error;
  }
  zip.end();
  await piped;
  return count;
}
