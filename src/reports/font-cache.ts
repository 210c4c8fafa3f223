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
 * positions, which pdfkit scales in place. Must be imported before `pdfmake` and `pdfkit`.
 */
type Fontkit = { create(buffer: Uint8Array, postscriptName?: string): unknown } & Record<string, unknown>;
interface GlyphRun {
  glyphs: unknown[];
  positions: Record<string, number>[];
}
type Layout = (text: string, ...rest: unknown[]) => GlyphRun;

const LAYOUTS_KEPT = 20_000;

/** `font.layout`, remembered per text when called without features, script, language or direction. */
function rememberLayouts(font: { layout: Layout }): void {
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
      parsed.set(buffer, font);
    }
    return font;
  };
  wrapper.socleCached = true;
  cached.exports = wrapper;
}
