import path from 'node:path';

/**
 * pdfkit parses the TrueType font again for every document (fontkit.create), which costs more than laying out
 * an attestation. Before pdfkit is loaded, this replaces the `fontkit` module it will require with one whose
 * `create` remembers the parsed font per buffer (pdfmake hands pdfkit the same buffer from its virtual file
 * system each time). A parsed font is read-only for pdfkit: each document still makes its own subset.
 * Must be imported before `pdfmake`.
 */
type Fontkit = { create(buffer: Uint8Array, postscriptName?: string): unknown } & Record<string, unknown>;

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
      parsed.set(buffer, font);
    }
    return font;
  };
  wrapper.socleCached = true;
  cached.exports = wrapper;
}
