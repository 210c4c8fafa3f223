import path from 'node:path';

/**
 * pdfkit parses the TrueType font again for every document (fontkit.create), which costs more than laying out
 * an attestation. Before pdfkit is loaded, this replaces the `fontkit` module it will require with one whose
 * `create` remembers the parsed font per buffer (pdfmake hands pdfkit the same buffer from its virtual file
 * system each time). A parsed font is read-only for pdfkit: each document still makes its own subset.
 *
 * pdfkit also shapes every word again in every document (its layout cache lives and dies with the document), and
 * shaping (fontkit's GSUB/GPOS lookups) was the largest part of laying out an attestation, whose words are
 * mostly the same from one learner to the next. The parsed font's `layout` therefore remembers the shaped run of
 * each text (up to LAYOUTS_KEPT texts per font, then starts again) and hands each caller its own copy of the
 * positions, which pdfkit scales in place.
 *
 * Each document embeds its own subset of the font, and fontkit's TrueType subset decodes every glyph it copies
 * (outline points included) only to learn whether it is composite. The parsed font's subsets therefore take each
 * glyph's bytes, components and metrics from a per-font cache (composite glyphs still get their components'
 * new ids written into a copy), so a subset's bytes stay what fontkit would write. Must be imported before
 * `pdfmake` and `pdfkit`.
 */
type Fontkit = { create(buffer: Uint8Array, postscriptName?: string): unknown } & Record<string, unknown>;
interface GlyphRun {
  glyphs: unknown[];
  positions: Record<string, number>[];
}
type Layout = (text: string, ...rest: unknown[]) => GlyphRun;

const LAYOUTS_KEPT = 20_000;

/** `font.layout`, remembered per text when called without features, script, language or direction. */
export function rememberLayouts(font: { layout: Layout }): void {
  const layout = font.layout.bind(font);
  const runs = new Map<string, GlyphRun>();
  font.layout = (text: string, ...rest: unknown[]) => {
    if (rest.some((x) => x !== undefined)) return layout(text, ...rest);
    let run = runs.get(text);
    if (!run) {
      if (runs.size >= LAYOUTS_KEPT) runs.clear();
      run = layout(text);
      run.positions = run.positions.map((p) => ({ ...p }));
      runs.set(text, run);
    }
    const copy = Object.create(Object.getPrototypeOf(run) as object) as GlyphRun;
    Object.assign(copy, run);
    copy.positions = run.positions.map((p) => ({ ...p }));
    return copy;
  };
}

interface Glyf {
  numberOfContours: number;
  components?: { glyphID: number; pos: number }[];
}
export interface TrueTypeFont {
  createSubset(): unknown;
  getGlyph(gid: number): { advanceWidth: number; _decode(): Glyf | null; _getMetrics(): { leftBearing: number } };
  loca?: { offsets: number[] };
  _getTableStream(tag: string): { pos: number; readBuffer(length: number): Uint8Array };
  _variationProcessor?: unknown;
}
interface TrueTypeSubset {
  glyf: Uint8Array[];
  loca: { offsets: number[] };
  hmtx: { metrics: { advance: number; bearing: number }[] };
  offset: number;
  includeGlyph(gid: number): number;
  _addGlyph?: (gid: number) => number;
}
interface CachedGlyph {
  bytes: Uint8Array;
  components: { glyphID: number; pos: number }[] | null;
  advance: number;
  bearing: number;
}

/** Subsets of a TrueType font whose glyphs are read once per font (what fontkit's `_addGlyph` does, cached). */
export function rememberGlyphs(font: TrueTypeFont): void {
  const create = font.createSubset.bind(font);
  const glyphs = new Map<number, CachedGlyph>();
  const read = (gid: number): CachedGlyph => {
    let cached = glyphs.get(gid);
    if (!cached) {
      const glyph = font.getGlyph(gid);
      const glyf = glyph._decode();
      const offsets = (font.loca as { offsets: number[] }).offsets;
      const start = offsets[gid] ?? 0;
      const stream = font._getTableStream('glyf');
      stream.pos += start;
      const bytes = new Uint8Array(stream.readBuffer((offsets[gid + 1] ?? start) - start));
      const components = glyf && glyf.numberOfContours < 0 ? (glyf.components ?? []).map((c) => ({ glyphID: c.glyphID, pos: c.pos })) : null;
      cached = { bytes, components, advance: glyph.advanceWidth, bearing: glyph._getMetrics().leftBearing };
      glyphs.set(gid, cached);
    }
    return cached;
  };
  font.createSubset = () => {
    const subset = create() as TrueTypeSubset;
    if (typeof subset._addGlyph !== 'function') return subset;
    subset._addGlyph = function addGlyph(this: TrueTypeSubset, gid: number): number {
      const glyph = read(gid);
      let bytes = glyph.bytes;
      if (glyph.components) {
        bytes = new Uint8Array(glyph.bytes);
        const view = new DataView(bytes.buffer);
        for (const c of glyph.components) view.setUint16(c.pos, this.includeGlyph(c.glyphID));
      }
      this.glyf.push(bytes);
      this.loca.offsets.push(this.offset);
      this.hmtx.metrics.push({ advance: glyph.advance, bearing: glyph.bearing });
      this.offset += bytes.length;
      return this.glyf.length - 1;
    };
    return subset;
  };
}

const fontkitPath = require.resolve('fontkit', { paths: [path.dirname(require.resolve('pdfkit'))] });
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fontkit = require(fontkitPath) as Fontkit;
const cached = require.cache[fontkitPath];
if (cached && !(fontkit as { socleCached?: boolean }).socleCached) {
  const parsed = new WeakMap<Uint8Array, unknown>();
  const wrapper: Fontkit = Object.create(null);
  for (const key of Object.keys(fontkit)) wrapper[key] = fontkit[key];
  wrapper.create = (buffer: Uint8Array, postscriptName?: string) => {
    if (postscriptName !== undefined) return fontkit.create(buffer, postscriptName);
    let font = parsed.get(buffer);
    if (!font) {
      font = fontkit.create(buffer);
      if (typeof (font as { layout?: unknown }).layout === 'function') rememberLayouts(font as { layout: Layout });
      const ttf = font as Partial<TrueTypeFont>;
      if (ttf.loca && !ttf._variationProcessor && typeof ttf.createSubset === 'function') rememberGlyphs(font as TrueTypeFont);
      parsed.set(buffer, font);
    }
    return font;
  };
  wrapper.socleCached = true;
  cached.exports = wrapper;
}
