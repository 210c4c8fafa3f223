/* global process */
// Prints the text of a PDF (path in argv[2]) as JSON: one string per page, line ends as spaces, runs of
// white space as one space.
// Runs in its own process: pdfjs-dist is an ES module, which jest's CommonJS transform does not load.
import fs from 'node:fs';
import { getDocument } from 'pdfjs-dist/legacy/build/pdf.mjs';

const data = new Uint8Array(fs.readFileSync(process.argv[2]));
const doc = await getDocument({ data, useSystemFonts: false, isEvalSupported: false, verbosity: 0 }).promise;
const pages = [];
for (let p = 1; p <= doc.numPages; p++) {
  const page = await doc.getPage(p);
  const content = await page.getTextContent();
  const text = content.items.map((item) => ('str' in item ? item.str + (item.hasEOL ? ' ' : '') : '')).join('');
  pages.push(text.replace(/\s+/g, ' ').trim());
}
process.stdout.write(JSON.stringify(pages));
