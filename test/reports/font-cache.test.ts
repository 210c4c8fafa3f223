import fs from 'node:fs';
import path from 'node:path';
import { rememberGlyphs, rememberLayouts, type TrueTypeFont } from '../../src/reports/font-cache';

// the fontkit that pdfkit loads, and the font the reports embed
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fontkit = require(require.resolve('fontkit', { paths: [path.dirname(require.resolve('pdfkit'))] })) as {
  create(buffer: Buffer): TrueTypeFont & { layout(text: string): { glyphs: { id: number }[]; positions: Record<string, number>[] } };
};
const ttf = fs.readFileSync(path.join(path.dirname(require.resolve('dejavu-fonts-ttf/package.json')), 'ttf', 'DejaVuSans.ttf'));
// accented letters are composite glyphs in DejaVu Sans; U+202F is what fr-FR number formatting puts in 1 234
const text = 'Éloïse Gaëlle Chloé — 1\u202f234,5 h « reçue » l’attestation ŒUVRE ñ';

type Subset = { includeGlyph(gid: number): number; encode(): Uint8Array };

function subsetBytes(font: TrueTypeFont & { layout(t: string): { glyphs: { id: number }[] } }, order: string): Buffer {
  const subset = font.createSubset() as Subset;
  for (const glyph of font.layout(order).glyphs) subset.includeGlyph(glyph.id);
  return Buffer.from(subset.encode());
}

describe('font cache', () => {
  it('makes subsets byte for byte as fontkit does, composite glyphs and any glyph order included', () => {
    const plain = fontkit.create(ttf);
    const cached = fontkit.create(ttf);
    rememberGlyphs(cached);
    for (const order of [text, [...text].reverse().join(''), 'Camille Martin', text]) {
      expect(subsetBytes(cached, order).equals(subsetBytes(plain, order))).toBe(true);
    }
  });

  it('hands every caller its own copy of a remembered layout', () => {
    const plain = fontkit.create(ttf);
    const cached = fontkit.create(ttf);
    rememberLayouts(cached as unknown as Parameters<typeof rememberLayouts>[0]);
    const first = cached.layout(text);
    const expected = plain.layout(text);
    expect(first.glyphs.map((g) => g.id)).toEqual(expected.glyphs.map((g) => g.id));
    expect(first.positions).toEqual(expected.positions.map((p) => ({ ...p })));
    for (const p of first.positions) p.xAdvance = (p.xAdvance ?? 0) * 1000; // what pdfkit does to the run it gets
    const again = cached.layout(text) as unknown as { positions: Record<string, number>[]; advanceWidth: number };
    expect(again.positions).toEqual(expected.positions.map((p) => ({ ...p })));
    expect(again.advanceWidth).toBe((expected as unknown as { advanceWidth: number }).advanceWidth);
  });
});
