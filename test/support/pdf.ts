import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The text of each page of a PDF, extracted by pdfjs-dist (legacy build) in a child process. */
export async function pdfText(pdf: Buffer): Promise<string[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-pdf-'));
  const file = path.join(dir, 'doc.pdf');
  fs.writeFileSync(file, pdf);
  try {
    const { stdout } = await run(process.execPath, [path.join(__dirname, 'pdf-text.mjs'), file], { maxBuffer: 64 * 1024 * 1024 });
    return JSON.parse(stdout) as string[];
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
