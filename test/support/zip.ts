import fs from 'node:fs';
import yauzl from 'yauzl';

/** The files of a ZIP (its bytes, or the path of one), by name. */
export function unzip(zip: Buffer | string): Promise<Map<string, Buffer>> {
  const bytes = typeof zip === 'string' ? fs.readFileSync(zip) : zip;
  return new Promise((resolve, reject) => {
    const files = new Map<string, Buffer>();
    yauzl.fromBuffer(bytes, { lazyEntries: true }, (error, archive) => {
      if (error || !archive) return reject(error ?? new Error('not a ZIP'));
      archive.on('entry', (entry: yauzl.Entry) => {
        archive.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e ?? new Error('no stream'));
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            files.set(entry.fileName, Buffer.concat(chunks));
            archive.readEntry();
          });
        });
      });
      archive.on('end', () => resolve(files));
      archive.on('error', reject);
      archive.readEntry();
    });
  });
}
