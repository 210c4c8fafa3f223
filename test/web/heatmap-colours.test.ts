/**
 * The cohort heatmap's five colours, read from the stylesheet: each step clearly apart from the next (WCAG relative
 * luminance ratio between neighbouring backgrounds ≥ 1.4, lighter to darker), and each cell's text readable on its
 * background (contrast ≥ 4.5:1, WCAG 1.4.3).
 */
import fs from 'node:fs';
import path from 'node:path';

const css = fs.readFileSync(path.join(__dirname, '../../src/web/assets/socle.css'), 'utf8');

function luminance(hex: string): number {
  const full = hex.length === 4 ? `#${[...hex.slice(1)].map((c) => c + c).join('')}` : hex;
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(full.slice(i, i + 2), 16) / 255).map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
  return 0.2126 * (r as number) + 0.7152 * (g as number) + 0.0722 * (b as number);
}
const contrast = (a: string, b: string) => {
  const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p) as [number, number];
  return (x + 0.05) / (y + 0.05);
};

const levels = [0, 1, 2, 3, 4].map((l) => {
  const rule = new RegExp(`\\.lv${l} \\{ background: (#[0-9a-f]{3,6}); color: (#[0-9a-f]{3,6}); \\}`, 'i').exec(css);
  if (!rule) throw new Error(`no .lv${l} rule with a background and a colour in socle.css`);
  return { level: l, background: rule[1] as string, text: rule[2] as string };
});

describe('cohort heatmap colours', () => {
  it.each(levels)('level $level: its text reads at 4.5:1 or more on its background', ({ background, text }) => {
    expect(contrast(background, text)).toBeGreaterThanOrEqual(4.5);
  });

  it('goes from light to dark in clearly different steps', () => {
    for (let i = 1; i < levels.length; i++) {
      const [lighter, darker] = [levels[i - 1], levels[i]] as [(typeof levels)[number], (typeof levels)[number]];
      expect(luminance(darker.background)).toBeLessThan(luminance(lighter.background));
      expect(contrast(lighter.background, darker.background)).toBeGreaterThanOrEqual(1.4);
    }
  });
});

describe('forecast badges', () => {
  it.each(['at_risk', 'behind', 'on_track', 'done'])('%s: its word reads at 4.5:1 or more on its ground', (status) => {
    const rule = new RegExp(`\\.fc-${status} \\{ background: (#[0-9a-f]{3,6}); color: (#[0-9a-f]{3,6}); \\}`, 'i').exec(css);
    if (!rule) throw new Error(`no .fc-${status} rule with a background and a colour in socle.css`);
    expect(contrast(rule[1] as string, rule[2] as string)).toBeGreaterThanOrEqual(4.5);
  });
});
