import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { PassThrough } from 'node:stream';
import yazl from 'yazl';
import { z } from 'zod';
import { titledReferentialRefSchema } from '../domain/referential';
import { frDate, frDateTime, frHours, pdfDefaultStyle, renderPdf, writePdf } from './pdf';
import { complianceStatus, domainFigures, drained, type ProgressCallback, yieldToEventLoop } from './rows';

export const ATTESTATION_TITLE = 'Attestation de suivi de la formation socle au numérique en santé';

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
      minutes: z.number().int().min(0),
      date: z.date(),
      /** Hours credited by hand (recognition of prior learning, an activity outside the LMS), flagged as such. */
      manual: z.boolean(),
    }),
  ),
  institution: z.string().min(1),
  issuedAt: z.date(),
  verificationUrl: z.url({ protocol: /^https?$/ }),
});
export type Attestation = z.infer<typeof attestation>;

function definition(a: Attestation): Record<string, unknown> {
  const learner = a.learner.name ?? `identifiant ${a.learner.sub}`;
  const complete = a.status === 'complete';
  const hasManual = a.activities.some((x) => x.manual);
  return {
    pageSize: 'A4',
    pageMargins: [48, 48, 48, 56],
    info: { title: ATTESTATION_TITLE, creator: 'Socle', subject: `${a.learner.sub}` },
    defaultStyle: { ...pdfDefaultStyle, fontSize: 10 },
    styles: {
      title: { fontSize: 16, bold: true, alignment: 'center', margin: [0, 0, 0, 4] },
      heading: { fontSize: 11, bold: true, margin: [0, 12, 0, 4] },
      th: { bold: true, fillColor: '#eeeeee' },
    },
    content: [
      { text: a.institution, bold: true, fontSize: 12, margin: [0, 0, 0, 18] },
      { text: ATTESTATION_TITLE, style: 'title' },
      {
        text: `Référentiel : ${a.referential.title} (${a.referential.id}, version ${a.referential.version})`,
        alignment: 'center',
        margin: [0, 0, 0, 16],
      },
      {
        text: [
          `${a.institution} atteste que `,
          { text: learner, bold: true },
          ` (identifiant ${a.learner.sub}) a validé `,
          { text: `${frHours(a.validatedMinutes)} h`, bold: true },
          ` sur les ${frHours(a.requiredMinutes)} h requises par ce référentiel`,
          complete && a.completedAt
            ? `, et a achevé la formation le ${frDate(a.completedAt)}.`
            : complete
              ? ', et a achevé la formation.'
              : ' : la formation n’est pas achevée à ce jour.',
        ],
      },
      { text: 'Heures par domaine', style: 'heading' },
      {
        table: {
          headerRows: 1,
          widths: ['auto', '*', 'auto', 'auto'],
          body: [
            ['Domaine', 'Intitulé', 'Validées (h)', 'Requises (h)'].map((text) => ({ text, style: 'th' })),
            ...a.domains.map((d) => [
              d.code,
              d.title,
              { text: frHours(d.validatedMinutes), alignment: 'right' },
              { text: frHours(d.requiredMinutes), alignment: 'right' },
            ]),
            [
              { text: 'Total', bold: true, colSpan: 2 },
              '',
              { text: frHours(a.validatedMinutes), alignment: 'right', bold: true },
              { text: frHours(a.requiredMinutes), alignment: 'right', bold: true },
            ],
          ],
        },
        layout: 'lightHorizontalLines',
      },
      { text: 'Activités', style: 'heading' },
      a.activities.length
        ? {
            table: {
              headerRows: 1,
              widths: ['auto', '*', 'auto', 'auto', 'auto'],
              body: [
                ['Date', 'Activité', 'Domaine', 'Heures', 'Crédit'].map((text) => ({ text, style: 'th' })),
                ...a.activities.map((x) => [
                  frDate(x.date),
                  x.title,
                  x.domainCode ?? '—',
                  { text: frHours(x.minutes), alignment: 'right' },
                  x.manual ? { text: 'manuel *', italics: true } : 'activité',
                ]),
              ],
            },
            layout: 'lightHorizontalLines',
          }
        : { text: 'Aucune activité validée.', italics: true },
      hasManual
        ? {
            text: '* Crédit manuel : heures attribuées par un responsable pédagogique, hors activité suivie dans la plateforme.',
            fontSize: 8,
            italics: true,
            margin: [0, 4, 0, 0],
          }
        : '',
      {
        margin: [0, 24, 0, 0],
        columns: [
          { qr: a.verificationUrl, fit: 90, width: 'auto' },
          {
            width: '*',
            margin: [12, 0, 0, 0],
            stack: [
              `Délivrée le ${frDateTime(a.issuedAt)} par ${a.institution}.`,
              { text: 'Vérifier cette attestation :', margin: [0, 6, 0, 0] },
              { text: a.verificationUrl, link: a.verificationUrl, color: '#1a4f9c' },
              {
                text: 'Cette adresse, servie par l’outil Socle de l’établissement, confirme les heures ci-dessus.',
                fontSize: 8,
                margin: [0, 4, 0, 0],
              },
            ],
          },
        ],
      },
    ],
    footer: (currentPage: number, pageCount: number) => ({
      text: `${ATTESTATION_TITLE} — ${learner} — page ${currentPage} / ${pageCount}`,
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
