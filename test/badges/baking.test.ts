import fc from 'fast-check';
import { SocleError } from '../../src/domain/errors';
import {
  bakePng,
  bakeSvg,
  extractCredential,
  extractPng,
  extractSvg,
  readPngChunks,
} from '../../src/badges/baking';
import { badgeSvg, layoutTitle, renderPng } from '../../src/badges/image';

const jwt = 'eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.eyJpZCI6Imh0dHBzOi8veCJ9.c2lnbmF0dXJl';

describe('badge images and baking', () => {
  let png: Buffer;
  let svg: string;
  beforeAll(async () => {
    svg = badgeSvg({ title: 'Cybersécurité en santé', requiredMinutes: 300, domainCode: '2' });
    png = await renderPng(svg, 256);
  });

  it('renders the SVG to a PNG of the asked width with the name and hours in it', async () => {
    const chunks = readPngChunks(png);
    expect(chunks[0]?.type).toBe('IHDR');
    expect(chunks[0]?.data.readUInt32BE(0)).toBe(256);
    expect(chunks[0]?.data.readUInt32BE(4)).toBe(256);
    expect(svg).toContain('>Cybersécurité<');
    expect(svg).toContain('>5\u00a0h<');
    expect(svg).toContain('DOMAINE 2');
    const small = await renderPng(svg, 96);
    expect(readPngChunks(small)[0]?.data.readUInt32BE(0)).toBe(96);
  });

  it('keeps long names in at most three lines at a readable size', () => {
    const { fontSize, lines } = layoutTitle('Communication en santé et télésanté, relations avec les patients et les aidants');
    expect(lines.length).toBeLessThanOrEqual(3);
    expect(fontSize).toBeGreaterThanOrEqual(30);
    expect(layoutTitle('Télesanté')).toEqual({ fontSize: 54, lines: ['Télesanté'] });
  });

  it('bakes one uncompressed iTXt openbadgecredential chunk before IEND, and extracts the same JWT', () => {
    const baked = bakePng(png, jwt);
    const chunks = readPngChunks(baked);
    const itxt = chunks.filter((c) => c.type === 'iTXt');
    expect(itxt).toHaveLength(1);
    expect(chunks.at(-2)?.type).toBe('iTXt');
    // keyword \0, compression flag 0, method 0, empty language \0, empty translated keyword \0, text
    expect(itxt[0]?.data.subarray(0, 24)).toEqual(Buffer.from('openbadgecredential\0\0\0\0\0', 'latin1'));
    expect(extractPng(baked)).toBe(jwt);
    expect(extractCredential(baked)).toBe(jwt);
    // Baking again replaces the credential instead of adding a second one.
    const rebaked = bakePng(baked, `${jwt}x`);
    expect(readPngChunks(rebaked).filter((c) => c.type === 'iTXt')).toHaveLength(1);
    expect(extractPng(rebaked)).toBe(`${jwt}x`);
    expect(extractPng(png)).toBeUndefined();
  });

  it('refuses an altered PNG (CRC), a truncated one and a non-PNG', () => {
    const baked = bakePng(png, jwt);
    const at = baked.indexOf(Buffer.from(jwt.slice(-10)));
    const altered = Buffer.from(baked);
    altered[at] = altered[at] === 0x41 ? 0x42 : 0x41;
    expect(() => extractPng(altered)).toThrow(/fails its CRC check/);
    expect(() => extractPng(baked.subarray(0, baked.length - 20))).toThrow(SocleError);
    expect(() => extractCredential(Buffer.from('GIF89a…'))).toThrow(/not a baked PNG, a baked SVG or a JWT/);
  });

  it('bakes SVG as <openbadges:credential> right after <svg> with the OB 3.0 namespace, and extracts the same JWT', () => {
    const baked = bakeSvg(svg, jwt);
    expect(baked).toMatch(/^<svg xmlns:openbadges="https:\/\/purl\.imsglobal\.org\/ob\/v3p0" [^>]*><openbadges:credential><!\[CDATA\[/);
    expect(extractSvg(baked)).toBe(jwt);
    expect(extractCredential(Buffer.from(`<?xml version="1.0"?>\n${baked}`))).toBe(jwt);
    expect(extractSvg(bakeSvg(baked, 'a.b.c'))).toBe('a.b.c');
    expect(extractSvg(svg)).toBeUndefined();
    expect(extractSvg('<svg xmlns:openbadges="x"><openbadges:credential verify="a.b.c"/></svg>')).toBe('a.b.c');
    expect(extractCredential(Buffer.from(` ${jwt}\n`))).toBe(jwt);
  });

  it('round-trips any text through PNG and SVG baking', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 200, unit: 'grapheme' }).filter((s) => s.trim() === s && !s.includes(']]>')), (text) => {
        expect(extractPng(bakePng(png, text))).toBe(text);
        expect(extractSvg(bakeSvg(svg, text))).toBe(text);
      }),
      { numRuns: 50 },
    );
  });
});
