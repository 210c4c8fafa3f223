import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { initWasm, Resvg } from '@resvg/resvg-wasm';
import { formatMinutes } from '../domain/format';

/**
 * The badge picture of an achievement: a round medal with the hours in large type, the domain's (or the
 * référentiel's) name in up to three lines, and a ribbon. SVG first; the PNG is the SVG rendered by resvg (WASM)
 * with the bundled DejaVu Sans Bold, so it looks the same on every machine and needs no system font.
 */

export interface BadgeImageInput {
  title: string;
  requiredMinutes: number | null;
  /** Domain code, or null for the whole référentiel (drawn in gold). */
  domainCode: string | null;
}

const FONT_FILE = path.join(__dirname, 'assets', 'DejaVuSans-Bold.ttf');
const FONT_FAMILY = 'DejaVu Sans';
const SIZE = 512;
/** Usable width of a text line inside the medal, in SVG units. */
const LINE_WIDTH = 372;
/** DejaVu Sans Bold's mean advance is about 0.66 em for French text: a safe estimate for wrapping. */
const ADVANCE = 0.66;

const PALETTE = ['#1f5f99', '#0f7b6c', '#7a3e9d', '#b5472d', '#2d6a2f', '#8a5a00'];
const GOLD = '#a67c00';

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] ?? c);
}

function colorOf(domainCode: string | null): string {
  if (domainCode === null) return GOLD;
  const digest = createHash('sha256').update(domainCode).digest();
  return PALETTE[(digest[0] ?? 0) % PALETTE.length] ?? PALETTE[0] ?? GOLD;
}

/** Splits `text` into at most `maxLines` lines of at most `perLine` characters (the last one ellipsised if needed). */
export function wrap(text: string, perLine: number, maxLines: number): string[] {
  const words = text.trim().split(/\s+/);
  const lines: string[] = [];
  let current = '';
  for (const word of words) {
    const candidate = current ? `${current} ${word}` : word;
    if (candidate.length <= perLine || !current) current = candidate;
    else {
      lines.push(current);
      current = word;
    }
  }
  if (current) lines.push(current);
  if (lines.length <= maxLines) return lines;
  const kept = lines.slice(0, maxLines);
  const last = lines.slice(maxLines - 1).join(' ');
  kept[maxLines - 1] = `${last.slice(0, Math.max(1, perLine - 1)).trimEnd()}…`;
  return kept;
}

/** The largest font size (≥ 30) at which the title fits inside the medal (up to three lines). */
export function layoutTitle(title: string): { fontSize: number; lines: string[] } {
  for (const fontSize of [54, 48, 42, 38, 34, 30]) {
    const perLine = Math.floor(LINE_WIDTH / (fontSize * ADVANCE));
    const lines = wrap(title, perLine, 3);
    // Three lines only at 42 px or less, so that they stay clear of the hours and the ribbon.
    const fits = lines.every((l) => l.length <= perLine) && !lines.some((l) => l.endsWith('…')) && (lines.length < 3 || fontSize <= 42);
    if (fits) return { fontSize, lines };
  }
  return { fontSize: 30, lines: wrap(title, Math.floor(LINE_WIDTH / (30 * ADVANCE)), 3) };
}

export function badgeSvg(input: BadgeImageInput): string {
  const color = colorOf(input.domainCode);
  const { fontSize, lines } = layoutTitle(input.title);
  const lineHeight = Math.round(fontSize * 1.15);
  // Centre the block (cap height to descenders) between the hours (bottom ≈ 175) and the ribbon (top 372).
  const blockHeight = (lines.length - 1) * lineHeight + fontSize * 0.97;
  const firstY = 272 - blockHeight / 2 + fontSize * 0.75;
  const hours = input.requiredMinutes === null ? '' : formatMinutes(input.requiredMinutes);
  const ribbon = input.domainCode === null ? 'SOCLE NUMÉRIQUE' : `DOMAINE ${input.domainCode}`.slice(0, 18);
  const font = `font-family="${FONT_FAMILY}, Verdana, sans-serif" font-weight="bold" text-anchor="middle"`;
  const titleLines = lines
    .map((line, i) => `<text x="256" y="${Math.round(firstY + i * lineHeight)}" font-size="${fontSize}" ${font} fill="#1b1b1b">${escapeXml(line)}</text>`)
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${SIZE}" height="${SIZE}" viewBox="0 0 ${SIZE} ${SIZE}" role="img" aria-label="${escapeXml(input.title)}${hours ? ` — ${hours}` : ''}">` +
    `<title>${escapeXml(input.title)}${hours ? ` — ${hours}` : ''}</title>` +
    `<circle cx="256" cy="256" r="250" fill="${color}"/>` +
    `<circle cx="256" cy="256" r="222" fill="#ffffff"/>` +
    `<circle cx="256" cy="256" r="210" fill="none" stroke="${color}" stroke-width="6"/>` +
    (hours ? `<text x="256" y="150" font-size="70" ${font} fill="${color}">${escapeXml(hours)}</text>` : '') +
    titleLines +
    `<path d="M40 372 H472 L452 402 L472 432 H40 L60 402 Z" fill="${color}"/>` +
    `<text x="256" y="415" font-size="34" ${font} fill="#ffffff">${escapeXml(ribbon)}</text>` +
    `</svg>`
  );
}

let ready: Promise<{ font: Uint8Array }> | undefined;

function init(): Promise<{ font: Uint8Array }> {
  ready ??= (async () => {
    const wasm = fs.readFileSync(require.resolve('@resvg/resvg-wasm/index_bg.wasm'));
    await initWasm(wasm);
    return { font: new Uint8Array(fs.readFileSync(FONT_FILE)) };
  })();
  return ready;
}

const cache = new Map<string, Buffer>();
const CACHE_LIMIT = 64;

/** Renders an SVG to PNG at `width` pixels with the bundled font (results cached by SVG and width). */
export async function renderPng(svg: string, width = 256): Promise<Buffer> {
  const key = `${width}:${createHash('sha256').update(svg).digest('hex')}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const { font } = await init();
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'width', value: width },
    font: { fontBuffers: [font], defaultFontFamily: FONT_FAMILY, sansSerifFamily: FONT_FAMILY },
  });
  try {
    const image = resvg.render();
    const png = Buffer.from(image.asPng());
    image.free();
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    cache.set(key, png);
    return png;
  } finally {
    resvg.free();
  }
}
