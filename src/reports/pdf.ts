import fs from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import './font-cache';
import pdfmake, { type DocDefinition } from 'pdfmake';
import { formatDate } from '../domain/format';

const files = {
  normal: 'DejaVuSans.ttf',
  bold: 'DejaVuSans-Bold.ttf',
  italics: 'DejaVuSans-Oblique.ttf',
  bolditalics: 'DejaVuSans-BoldOblique.ttf',
};
type FontStyle = keyof typeof files;
let fonts: Record<FontStyle, Buffer> | undefined;
/** The DejaVu Sans files, read once per process (the same buffers each time: the parsed fonts are kept per buffer). */
export function dejaVuSans(): Record<FontStyle, Buffer> {
  if (!fonts) {
    const dir = path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf');
    const read = (file: string) => fs.readFileSync(path.join(dir, file));
    fonts = { normal: read(files.normal), bold: read(files.bold), italics: read(files.italics), bolditalics: read(files.bolditalics) };
  }
  return fonts;
}

/**
 * pdfmake, configured once per process: DejaVu Sans (shipped by the `dejavu-fonts-ttf` package; fr-FR number
 * formatting uses U+202F, which pdfmake's default Roboto lacks) from its virtual file system, and no access to
 * URLs or local files from document definitions (learner names and titles end up in them).
 */
let configured = false;
function configure(): void {
  if (configured) return;
  const buffers = dejaVuSans();
  for (const [style, file] of Object.entries(files)) {
    if (!pdfmake.virtualfs.existsSync(file)) pdfmake.virtualfs.writeFileSync(file, buffers[style as FontStyle]);
  }
  pdfmake.setFonts({ DejaVuSans: files });
  pdfmake.setUrlAccessPolicy(() => false);
  pdfmake.setLocalAccessPolicy(() => false);
  configured = true;
}

export const pdfDefaultStyle = { font: 'DejaVuSans', fontSize: 9 };

/** Renders a document definition into `out` and ends it. */
export async function writePdf(doc: DocDefinition, out: Writable): Promise<void> {
  configure();
  const stream = await pdfmake.createPdf(doc).getStream();
  const done = pipeline(stream, out);
  stream.end();
  await done;
}

export async function renderPdf(doc: DocDefinition): Promise<Buffer> {
  configure();
  return pdfmake.createPdf(doc).getBuffer();
}

/** As French readers expect, in the institution's time zone: `14/03/2025 11:20`. */
export const frDateTime = (d: Date, timeZone?: string) => formatDate(d, { locale: 'fr', style: 'dateTime', timeZone });
export const frDate = (d: Date, timeZone?: string) => formatDate(d, { locale: 'fr', style: 'short', timeZone });
