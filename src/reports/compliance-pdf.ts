import { createHash } from 'node:crypto';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import './font-cache';
import PDFDocument from 'pdfkit';
import { writeComplianceCsv } from './csv';
import { formatMinutes } from '../domain/format';
import { dejaVuSans, frDate, frDateTime } from './pdf';
import {
  type ComplianceRow,
  type ProgressCallback,
  referentialKey,
  referentialOf,
  type ReportMeta,
  type ReportReferential,
  reportTimeZone,
  statusLabelFr,
  dueDateFr,
  forecastLabelFr,
  yieldToEventLoop,
} from './rows';

export interface CompliancePdfOptions {
  onProgress?: ProgressCallback;
}

/**
 * The SHA-256 (hex) of the data rows: the digest of the same rows exported as RFC 4180 CSV
 * (`writeComplianceCsv(meta, rows, out, { variant: 'rfc4180' })`, header line included). The PDF prints it, so
 * a printed report can be checked against a CSV export of the same filters.
 */
export async function complianceDigest(meta: ReportMeta, rows: AsyncIterable<ComplianceRow>): Promise<string> {
  const hash = createHash('sha256');
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb();
    },
  });
  await writeComplianceCsv(meta, rows, sink, { variant: 'rfc4180' });
  return hash.digest('hex');
}

/**
 * pdfkit's fonts keep every text the document laid out until its end (`layoutCache`): a learner's name, id and dates
 * are laid out for one row and never again, about 1.5 kB a row kept for nothing (100 MB at 70,000 rows). They are
 * forgotten every 1,000 rows measured and every 25 pages; the texts repeated in between stay cached, and the
 * shaping of texts repeated across documents stays remembered per font, within a bound (src/reports/font-cache.ts).
 */
function forgetLayouts(doc: InstanceType<typeof PDFDocument>): void {
  const families = (doc as unknown as { _fontFamilies?: Record<string, { layoutCache?: Record<string, unknown> }> })._fontFamilies ?? {};
  for (const font of Object.values(families)) if (font.layoutCache) font.layoutCache = Object.create(null) as Record<string, unknown>;
}

// A4 landscape, in points, and the page's margins.
const PAGE = { width: 841.89, height: 595.28 };
const MARGIN = { left: 30, top: 40, right: 30, bottom: 44 };
const CONTENT_WIDTH = PAGE.width - MARGIN.left - MARGIN.right;
const BOTTOM = PAGE.height - MARGIN.bottom;
const SIZE = 9;
const CELL_PADDING = { x: 5, y: 2 };
const TITLE = 'Rapport de conformité horaire';

type Font = 'normal' | 'bold';
interface Column {
  x: number;
  /** Width of the text (the column without its padding). */
  width: number;
  font: Font;
  align: 'left' | 'right';
}

/** The table of one référentiel version: its columns, and the rows written aside until the report is laid out. */
interface Group {
  referential: ReportReferential;
  header: string[];
  columns: Column[];
  file: string;
  spill: fs.WriteStream;
  /** Lines of text of each row, in the source's order. */
  lines: number[];
}

/**
 * Lays out and draws the report with pdfkit (what pdfmake draws with). `draw: false` only moves down the pages,
 * so the first pass counts them ("page X / Y") with the very code that draws them.
 */
class Pages {
  page = 0;
  y = MARGIN.top;
  total = 0;
  footer = '';

  constructor(
    private readonly doc: PDFDocument,
    private readonly meta: ReportMeta,
    public draw: boolean,
  ) {}

  width(text: string, font: Font = 'normal', size = SIZE): number {
    return this.doc.font(font, size).widthOfString(text);
  }

  lineHeight(size = SIZE): number {
    return this.doc.font('normal', size).currentLineHeight(true);
  }

  /** Lines that `text` takes in `width` with `font` at `size`. */
  lines(text: string, width: number, font: Font = 'normal', size = SIZE): number {
    if (!text) return 1;
    this.doc.font(font, size);
    if (this.doc.widthOfString(text) <= width) return 1;
    return Math.max(1, Math.round(this.doc.heightOfString(text, { width }) / this.doc.currentLineHeight(true)));
  }

  text(text: string, x: number, y: number, width: number, font: Font, size: number, align: 'left' | 'right' = 'left', lines = 1): void {
    if (!this.draw || !text) return;
    this.doc.font(font, size);
    if (lines > 1) {
      this.doc.text(text, x, y, { width, align });
      return;
    }
    const dx = align === 'right' ? width - this.doc.widthOfString(text) : 0;
    this.doc.text(text, x + dx, y, { lineBreak: false });
  }

  newPage(): void {
    this.page++;
    this.y = MARGIN.top;
    if (this.page % 25 === 0) forgetLayouts(this.doc);
    if (!this.draw) return;
    const doc = this.doc;
    doc.addPage({ size: 'A4', layout: 'landscape', margin: 0 });
    const half = CONTENT_WIDTH / 2;
    const institutionLines = this.lines(this.meta.institution, half, 'bold', 8);
    this.text(this.meta.institution, MARGIN.left, 16, half, 'bold', 8, 'left', institutionLines);
    this.text(TITLE, MARGIN.left + half, 16, half, 'normal', 8, 'right');
    const pageLabel = `page ${this.page} / ${this.total}`;
    const y = BOTTOM + 12;
    const labelWidth = this.width(pageLabel, 'normal', 7);
    this.text(this.footer, MARGIN.left, y, CONTENT_WIDTH - labelWidth - 8, 'normal', 7, 'left', this.lines(this.footer, CONTENT_WIDTH - labelWidth - 8, 'normal', 7));
    this.text(pageLabel, PAGE.width - MARGIN.right - labelWidth, y, labelWidth, 'normal', 7);
  }

  /** Starts a page when `height` does not fit on this one; says whether it did. */
  room(height: number): boolean {
    if (this.y + height <= BOTTOM) return false;
    this.newPage();
    return true;
  }

  /** A horizontal line across the table at `y`. */
  rule(y: number, width: number, color: string): void {
    if (!this.draw) return;
    this.doc.moveTo(MARGIN.left, y).lineTo(MARGIN.left + CONTENT_WIDTH, y).lineWidth(width).strokeColor(color).stroke();
  }

  /** One row of a table, `lines` high, after a rule of `rule` points. */
  row(columns: Column[], cells: string[], lines: number, header = false): void {
    const lh = this.lineHeight();
    const height = lines * lh + 2 * CELL_PADDING.y;
    if (header && this.draw) {
      this.doc.rect(MARGIN.left, this.y, CONTENT_WIDTH, height).fill('#eeeeee');
      this.doc.fillColor('black');
    }
    columns.forEach((c, i) => {
      const cell = cells[i] ?? '';
      const cellLines = lines > 1 ? this.lines(cell, c.width, header ? 'bold' : c.font) : 1;
      this.text(cell, c.x, this.y + CELL_PADDING.y, c.width, header ? 'bold' : c.font, SIZE, c.align, cellLines);
    });
    this.y += height;
  }
}

/** A domain's column head: its code, full title and required hours, "D2 Cybersécurité en santé (5 h)" (wrapped over lines). */
export const domainHead = (d: { code: string; title: string; requiredMinutes: number }) => `${d.code} ${d.title} (${formatMinutes(d.requiredMinutes)})`;

/**
 * A domain's (or the total's) cell: the validated hours as people read them ("4 h 30"), out of the column's required
 * hours; "4 h 30 / 6 h" should a row require other hours than its column.
 */
const hoursCell = (validated: number, required: number, columnRequired: number) =>
  required === columnRequired ? formatMinutes(validated) : `${formatMinutes(validated)} / ${formatMinutes(required)}`;

/**
 * The columns of a référentiel's table: fixed before the rows are read (so rows stream), the name taking the rest.
 * A header is as wide as its cells' widest content or its longest word (it wraps over lines between words).
 */
function columnsOf(pages: Pages, referential: ReportReferential): { header: string[]; columns: Column[] } {
  const total = totalOf(referential);
  const header = ['Nom', 'Identifiant', ...referential.domains.map(domainHead), `Total (${formatMinutes(total)})`, 'Statut', 'Complété le', 'Crédits manuels', 'Prévision (échéance)'];
  const widest = (font: Font, ...texts: string[]) => Math.max(...texts.map((t) => pages.width(t, font)));
  // a header wraps between words: as wide as its longest word with the space after it (pdfkit cuts a word whose
  // width with that space exceeds the line)
  const head = (text: string) => widest('bold', ...text.split(' ').map((w) => `${w} `)) + 0.5;
  // the widest figure of a column: every digit of DejaVu Sans has the same width, validated hours never exceed required
  const figure = (required: number) => formatMinutes(Math.floor(required / 60) * 60 + 59).replace(/\d/g, '0');
  const widths: { width: number; font: Font; align: 'left' | 'right' }[] = [
    { width: 0, font: 'normal', align: 'left' },
    { width: Math.max(head('Identifiant'), widest('normal', '0000000000')), font: 'normal', align: 'left' },
    ...referential.domains.map((d) => ({
      width: Math.max(head(domainHead(d)), widest('normal', figure(d.requiredMinutes))),
      font: 'normal' as const,
      align: 'right' as const,
    })),
    { width: Math.max(head(`Total (${formatMinutes(total)})`), widest('bold', figure(total))), font: 'bold', align: 'right' },
    { width: Math.max(head('Statut'), widest('normal', ...Object.values(statusLabelFr))), font: 'normal', align: 'left' },
    { width: Math.max(head('Complété le'), widest('normal', '00/00/0000')), font: 'normal', align: 'left' },
    { width: head('Crédits manuels'), font: 'normal', align: 'left' },
    // the status over the due date, on two lines (as wide as the widest with the space after it: see `head`)
    { width: Math.max(head('Prévision (échéance)'), widest('normal', '00/00/0000 ', ...Object.values(forecastLabelFr).map((l) => `${l} `)) + 0.5), font: 'normal', align: 'left' },
  ];
  const last = widths.length - 1;
  const padding = (i: number) => (i === 0 ? 0 : CELL_PADDING.x) + (i === last ? 0 : CELL_PADDING.x);
  const fixed = widths.slice(1).reduce((s, w, i) => s + w.width + padding(i + 1), 0);
  widths[0] = { width: Math.max(60, CONTENT_WIDTH - fixed - padding(0)), font: 'normal', align: 'left' };
  let x = MARGIN.left;
  const columns = widths.map((w, i) => {
    const column = { x: x + (i === 0 ? 0 : CELL_PADDING.x), width: w.width, font: w.font, align: w.align };
    x += w.width + padding(i);
    return column;
  });
  return { header, columns };
}

const totalOf = (referential: ReportReferential) => referential.domains.reduce((s, d) => s + d.requiredMinutes, 0);

function cellsOf(referential: ReportReferential, row: ComplianceRow, timeZone: string): string[] {
  const byCode = new Map(row.domains.map((d) => [d.code, d]));
  return [
    row.learner.name ?? '—',
    row.learner.sub,
    ...referential.domains.map((d) => {
      const f = byCode.get(d.code);
      return f ? hoursCell(f.validatedMinutes, f.requiredMinutes, d.requiredMinutes) : '—';
    }),
    hoursCell(row.validatedMinutes, row.requiredMinutes, totalOf(referential)),
    statusLabelFr[row.status],
    row.completedAt ? frDate(row.completedAt, timeZone) : '',
    row.hasManualCredits ? 'oui' : '',
    row.forecast ? `${forecastLabelFr[row.forecast.status]}\n${dueDateFr(row.forecast.dueDate)}` : '',
  ];
}

const rowLines = (pages: Pages, group: Group, cells: string[]) =>
  Math.max(...group.columns.map((c, i) => pages.lines(cells[i] ?? '', c.width, c.font)));

async function* spilled(group: Group): AsyncGenerator<string[]> {
  const lines = readline.createInterface({ input: fs.createReadStream(group.file, 'utf8'), crlfDelay: Infinity });
  for await (const line of lines) yield JSON.parse(line) as string[];
}

/**
 * Lays out (`pages.draw` false: counts the pages) or draws the whole report. `rows(group)` gives each
 * référentiel's rows as cells with their number of lines, in the source's order.
 */
async function layout(
  pages: Pages,
  meta: ReportMeta,
  groups: Group[],
  count: number,
  rows: (group: Group) => AsyncIterable<{ cells: string[]; lines: number }>,
  afterPage: () => Promise<void>,
): Promise<void> {
  const lh = pages.lineHeight();
  pages.newPage();
  pages.text(TITLE, MARGIN.left, pages.y, CONTENT_WIDTH, 'bold', 15);
  pages.y += pages.lineHeight(15);
  pages.text('Formation socle au numérique en santé', MARGIN.left, pages.y, CONTENT_WIDTH, 'normal', SIZE);
  pages.y += lh + 6;
  const summary = [
    ['Établissement', meta.institution],
    ['Plateforme', meta.platform.name ? `${meta.platform.name} (${meta.platform.issuer})` : meta.platform.issuer],
    ['Généré le', `${frDateTime(meta.generatedAt, reportTimeZone(meta))} (${reportTimeZone(meta)})`],
    ['Apprenants', String(count)],
    ...meta.filters.map((f) => [f.label, f.value]),
  ] as [string, string][];
  const labels = Math.max(...summary.map(([label]) => pages.width(label, 'bold')));
  const valueX = MARGIN.left + labels + CELL_PADDING.x;
  const valueWidth = CONTENT_WIDTH - labels - CELL_PADDING.x;
  for (const [label, value] of summary) {
    const lines = pages.lines(value, valueWidth);
    pages.room(lines * lh + 2 * CELL_PADDING.y);
    pages.text(label, MARGIN.left, pages.y + CELL_PADDING.y, labels, 'bold', SIZE);
    pages.text(value, valueX, pages.y + CELL_PADDING.y, valueWidth, 'normal', SIZE, 'left', lines);
    pages.y += lines * lh + 2 * CELL_PADDING.y;
  }
  pages.y += 10;

  const headingSize = 11;
  for (const group of groups) {
    const r = group.referential;
    const learners = group.lines.length;
    const heading = `${r.title} — ${r.id} version ${r.version} (${learners} apprenant${learners > 1 ? 's' : ''})`;
    const headingLines = pages.lines(heading, CONTENT_WIDTH, 'bold', headingSize);
    const headingHeight = 6 + headingLines * pages.lineHeight(headingSize) + 4;
    const headerLines = Math.max(...group.columns.map((c, i) => pages.lines(group.header[i] ?? '', c.width, 'bold')));
    const headerHeight = headerLines * lh + 2 * CELL_PADDING.y + 2;
    const firstRow = group.lines.length ? (group.lines[0] ?? 1) * lh + 2 * CELL_PADDING.y + 1 : 0;
    if (pages.room(headingHeight + (group.lines.length ? headerHeight + firstRow : 0))) await afterPage();
    pages.text(heading, MARGIN.left, pages.y + 6, CONTENT_WIDTH, 'bold', headingSize, 'left', headingLines);
    pages.y += headingHeight;
    if (!group.lines.length) continue;
    const header = () => {
      pages.row(group.columns, group.header, headerLines, true);
      pages.rule(pages.y + 1, 2, 'black');
      pages.y += 2;
    };
    header();
    let first = true;
    for await (const { cells, lines } of rows(group)) {
      const height = 1 + lines * lh + 2 * CELL_PADDING.y;
      if (pages.room(height)) {
        await afterPage();
        header();
        first = true;
      }
      if (!first) pages.rule(pages.y + 0.5, 1, '#aaaaaa');
      first = false;
      pages.y += 1;
      pages.row(group.columns, cells, lines);
    }
    pages.y += 12;
  }
}

/**
 * Writes the printable compliance report (A4 landscape) and ends `out`: institution header, filters, one table
 * per référentiel version with its header row repeated on every page, "page X / Y", the generation time and
 * the digest of the data rows in every footer. Rows keep the source's order (non-compliant learners first).
 *
 * Streamed, without a cap on rows: a first pass reads the source once, hashes the rows (the digest), writes each
 * row's cells to a temporary file of its référentiel and measures its height; the pages are then counted and the
 * report drawn from those files with pdfkit, page after page (each page leaves memory once the next starts,
 * and drawing waits while `out` is full).
 */
export async function writeCompliancePdf(
  meta: ReportMeta,
  rows: AsyncIterable<ComplianceRow>,
  out: Writable,
  options: CompliancePdfOptions = {},
): Promise<number> {
  const fonts = dejaVuSans();
  const timeZone = reportTimeZone(meta);
  const doc = new PDFDocument({
    size: 'A4',
    layout: 'landscape',
    autoFirstPage: false,
    margin: 0,
    info: { Title: TITLE, Creator: 'Socle', Producer: 'Socle', Subject: meta.institution },
  });
  doc.registerFont('normal', fonts.normal).registerFont('bold', fonts.bold);
  const piped = pipeline(doc, out);
  const dir = await fs.promises.mkdtemp(path.join(os.tmpdir(), 'socle-report-'));
  try {
    const measuring = new Pages(doc, meta, false);
    const groups: Group[] = meta.referentials.map((referential, i) => {
      const file = path.join(dir, `${i}.jsonl`);
      return { referential, ...columnsOf(measuring, referential), file, spill: fs.createWriteStream(file), lines: [] };
    });
    const byKey = new Map(groups.map((g) => [referentialKey(g.referential), g]));
    let count = 0;
    async function* aside(): AsyncGenerator<ComplianceRow> {
      for await (const row of rows) {
        const group = byKey.get(referentialKey(referentialOf(meta, row)));
        if (group) {
          const cells = cellsOf(group.referential, row, timeZone);
          group.lines.push(rowLines(measuring, group, cells));
          if (!group.spill.write(`${JSON.stringify(cells)}\n`)) await once(group.spill, 'drain');
        }
        count++;
        if (count % 1000 === 0) {
          forgetLayouts(doc);
          options.onProgress?.(count);
        }
        yield row;
      }
    }
    const digest = await complianceDigest(meta, aside());
    await Promise.all(groups.map((g) => new Promise<void>((resolve, reject) => g.spill.end((e?: Error | null) => (e ? reject(e) : resolve())))));

    // count the pages, then draw them
    const footer = `Généré le ${frDateTime(meta.generatedAt, timeZone)} — SHA-256 des données\u00a0: ${digest}`;
    measuring.footer = footer;
    const heights = (group: Group) => (async function* () {
      for (const lines of group.lines) yield { cells: [], lines };
    })();
    await layout(measuring, meta, groups, count, heights, async () => undefined);
    const drawing = new Pages(doc, meta, true);
    drawing.total = measuring.page;
    drawing.footer = footer;
    const cellsAndLines = (group: Group) => (async function* () {
      let i = 0;
      for await (const cells of spilled(group)) yield { cells, lines: group.lines[i++] ?? 1 };
    })();
    await layout(drawing, meta, groups, count, cellsAndLines, async () => {
      while (doc.readableLength > 1 << 20) {
        if (out.writableNeedDrain) await once(out, 'drain');
        else await yieldToEventLoop();
      }
      await yieldToEventLoop();
    });
    doc.end();
    await piped;
    options.onProgress?.(count);
    return count;
  } catch (error) {
    doc.destroy(error as Error);
    await piped.catch(() => undefined);
    throw error;
  } finally {
    await fs.promises.rm(dir, { recursive: true, force: true });
  }
}
