import { crc32, inflateSync } from 'node:zlib';
import { invalid } from '../domain/errors';

/**
 * Open Badges 3.0 baking: the VC-JWT goes into the image itself.
 * - PNG: one uncompressed `iTXt` chunk with keyword `openbadgecredential`, before `IEND`.
 * - SVG: an `<openbadges:credential>` element (namespace https://purl.imsglobal.org/ob/v3p0) right after `<svg …>`.
 */

export const PNG_KEYWORD = 'openbadgecredential';
export const OB3_SVG_NAMESPACE = 'https://purl.imsglobal.org/ob/v3p0';
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

interface Chunk {
  type: string;
  data: Buffer;
}

export function isPng(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && Buffer.from(bytes.subarray(0, 8)).equals(PNG_SIGNATURE);
}

/** The chunks of a PNG, each CRC checked; throws an `invalid_request` error naming the first problem. */
export function readPngChunks(png: Uint8Array): Chunk[] {
  const buf = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  if (!isPng(buf)) throw invalid('not a PNG file (bad signature)');
  const chunks: Chunk[] = [];
  let offset = 8;
  while (offset < buf.length) {
    if (offset + 12 > buf.length) throw invalid(`truncated PNG chunk at byte ${offset}`);
    const length = buf.readUInt32BE(offset);
    const type = buf.toString('latin1', offset + 4, offset + 8);
    const end = offset + 12 + length;
    if (end > buf.length) throw invalid(`truncated PNG chunk ${type} at byte ${offset}`);
    const data = buf.subarray(offset + 8, offset + 8 + length);
    const crc = buf.readUInt32BE(offset + 8 + length);
    if (crc32(buf.subarray(offset + 4, offset + 8 + length)) !== crc) {
      throw invalid(`PNG chunk ${type} at byte ${offset} fails its CRC check (the file was altered)`);
    }
    chunks.push({ type, data });
    offset = end;
    if (type === 'IEND') break;
  }
  if (chunks.at(-1)?.type !== 'IEND') throw invalid('PNG without IEND chunk');
  if (chunks[0]?.type !== 'IHDR') throw invalid('PNG without IHDR first');
  return chunks;
}

export function writePngChunks(chunks: Chunk[]): Buffer {
  const parts: Buffer[] = [PNG_SIGNATURE];
  for (const { type, data } of chunks) {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(type, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    parts.push(head, data, crc);
  }
  return Buffer.concat(parts);
}

interface ITxt {
  keyword: string;
  compressed: boolean;
  text: string;
}

function parseITxt(data: Buffer): ITxt {
  const k = data.indexOf(0);
  if (k < 1) throw invalid('malformed iTXt chunk (no keyword)');
  const keyword = data.toString('latin1', 0, k);
  const compressed = data[k + 1] === 1;
  const lang = data.indexOf(0, k + 3);
  const translated = lang < 0 ? -1 : data.indexOf(0, lang + 1);
  if (lang < 0 || translated < 0) throw invalid(`malformed iTXt chunk ${keyword}`);
  const raw = data.subarray(translated + 1);
  const text = (compressed ? inflateSync(raw) : raw).toString('utf8');
  return { keyword, compressed, text };
}

function iTxtChunk(keyword: string, text: string): Chunk {
  const data = Buffer.concat([
    Buffer.from(keyword, 'latin1'),
    Buffer.from([0, 0, 0]), // null separator, compression flag 0 (uncompressed), compression method 0
    Buffer.from([0]), // empty language tag
    Buffer.from([0]), // empty translated keyword
    Buffer.from(text, 'utf8'),
  ]);
  return { type: 'iTXt', data };
}

/** The PNG with `jwt` baked in (an existing credential chunk is replaced, never duplicated). */
export function bakePng(png: Uint8Array, jwt: string): Buffer {
  const chunks = readPngChunks(png).filter((c) => !(c.type === 'iTXt' && parseITxt(c.data).keyword === PNG_KEYWORD));
  chunks.splice(chunks.length - 1, 0, iTxtChunk(PNG_KEYWORD, jwt));
  return writePngChunks(chunks);
}

/** The credential baked into a PNG, or undefined when it holds none. Throws on a damaged or altered file. */
export function extractPng(png: Uint8Array): string | undefined {
  const found = readPngChunks(png)
    .filter((c) => c.type === 'iTXt')
    .map((c) => parseITxt(c.data))
    .filter((t) => t.keyword === PNG_KEYWORD);
  if (found.length > 1) throw invalid(`the PNG holds ${found.length} ${PNG_KEYWORD} chunks, expected one`);
  return found[0]?.text.trim();
}

const SVG_OPEN = /<svg\b[^>]*>/;
const SVG_CREDENTIAL = /<openbadges:credential\b([^>]*?)(?:\/>|>([\s\S]*?)<\/openbadges:credential>)/g;

/** The SVG with `jwt` baked in as `<openbadges:credential>` right after the root element's start tag. */
export function bakeSvg(svg: string, jwt: string): string {
  const cleaned = svg.replace(SVG_CREDENTIAL, '');
  const open = SVG_OPEN.exec(cleaned);
  if (!open) throw invalid('not an SVG document (no <svg> element)');
  let tag = open[0];
  if (!/\sxmlns:openbadges=/.test(tag)) tag = tag.replace(/^<svg\b/, `<svg xmlns:openbadges="${OB3_SVG_NAMESPACE}"`);
  const at = open.index;
  return `${cleaned.slice(0, at)}${tag}<openbadges:credential><![CDATA[${jwt}]]></openbadges:credential>${cleaned.slice(at + open[0].length)}`;
}

/** The credential baked into an SVG, or undefined when it holds none. */
export function extractSvg(svg: string): string | undefined {
  if (!SVG_OPEN.test(svg)) throw invalid('not an SVG document (no <svg> element)');
  const found = [...svg.matchAll(SVG_CREDENTIAL)];
  if (found.length > 1) throw invalid(`the SVG holds ${found.length} <openbadges:credential> elements, expected one`);
  const [match] = found;
  if (!match) return undefined;
  const body = match[2];
  if (body !== undefined && body.trim()) {
    const cdata = /^\s*<!\[CDATA\[([\s\S]*?)\]\]>\s*$/.exec(body);
    return (cdata ? cdata[1] ?? '' : body).trim();
  }
  // OB 2.0 style: the value in a `verify` attribute.
  const attr = /\bverify="([^"]*)"/.exec(match[1] ?? '');
  return attr?.[1]?.trim();
}

/** The JWT inside a file: a baked PNG, a baked SVG, or the JWT itself as text. */
export function extractCredential(bytes: Uint8Array): string {
  if (isPng(bytes)) {
    const jwt = extractPng(bytes);
    if (!jwt) throw invalid(`the PNG holds no ${PNG_KEYWORD} chunk`);
    return jwt;
  }
  const text = Buffer.from(bytes).toString('utf8').replace(/^\uFEFF/, '').trim();
  if (/^(<\?xml[\s\S]*?\?>\s*)?(<!--[\s\S]*?-->\s*)*(<!DOCTYPE[^>]*>\s*)?<svg\b/i.test(text) || text.startsWith('<')) {
    const jwt = extractSvg(text);
    if (!jwt) throw invalid('the SVG holds no <openbadges:credential> element');
    return jwt;
  }
  if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(text)) throw invalid('not a baked PNG, a baked SVG or a JWT');
  return text;
}
