/**
 * The bulk attestations' ZIP as the export writes it: rendered by worker threads, in the source's order, pulling
 * no more from the source than it has room for when the output is slow, and failing whole when one render fails.
 */
import { PassThrough, Writable } from 'node:stream';
import { type Attestation, attestationFileName, writeAttestationsZip } from '../../src/reports/attestation';
import { workerRenderer, writeAttestationsZipInThreads } from '../../src/reports/attestation-render';
import { attestationOf, generatedRows, must } from '../support/compliance-rows';
import { pdfText } from '../support/pdf';
import { unzip } from '../support/zip';

const attestations: Attestation[] = generatedRows(9).map((r) => attestationOf(r));

function collect(): { out: PassThrough; bytes: () => Buffer } {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  return { out, bytes: () => Buffer.concat(chunks) };
}


async function* counted(list: Attestation[], pulled: { n: number }) {
  for (const a of list) {
    pulled.n++;
    yield a;
  }
}

describe('attestations ZIP rendered by worker threads', () => {
  it('holds the same PDFs, in the same order, as rendered in this thread', async () => {
    const threaded = collect();
    const progress: number[] = [];
    expect(await writeAttestationsZipInThreads(counted(attestations, { n: 0 }), threaded.out, { threads: 2, onProgress: (n) => progress.push(n) })).toBe(9);
    expect(progress).toEqual(Array.from({ length: 9 }, (_, i) => i + 1));
    const here = collect();
    expect(await writeAttestationsZip(counted(attestations, { n: 0 }), here.out)).toBe(9);
    const [a, b] = [await unzip(threaded.bytes()), await unzip(here.bytes())];
    expect([...a.keys()]).toEqual(attestations.map(attestationFileName));
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const name of a.keys()) expect(await pdfText(must(a.get(name)))).toEqual(await pdfText(must(b.get(name))));
  });

  it('pulls from the source only as far as the output takes: a slow output holds the source back', async () => {
    let received = 0;
    const chunks: Buffer[] = [];
    // a slow output (each write takes 20 ms) with a small buffer
    const out = new Writable({
      highWaterMark: 1024,
      write(chunk: Buffer, _encoding, callback) {
        chunks.push(chunk);
        received += chunk.length;
        setTimeout(callback, 20);
      },
    });
    /** How many bytes the output had received when each attestation was pulled. */
    const atPull: number[] = [];
    async function* watched() {
      for (const a of attestations) {
        atPull.push(received);
        yield a;
      }
    }
    const renderer = workerRenderer(1);
    try {
      expect(await writeAttestationsZip(watched(), out, { renderer })).toBe(9);
    } finally {
      await renderer.close();
    }
    const entries = await unzip(Buffer.concat(chunks));
    expect(entries.size).toBe(9);
    const smallest = Math.min(...[...entries.values()].map((b) => b.length));
    // the k-th attestation (from 0) is pulled once the output has all but the last few PDFs before it: two renders
    // in flight for one thread, two PDFs queued in the ZIP, one being written
    const slack = 2 * renderer.parallelism + 3;
    atPull.forEach((bytes, k) => expect(bytes).toBeGreaterThanOrEqual(Math.max(0, k - slack) * smallest));
    expect(atPull.at(-1)).toBeGreaterThan(0);
  });

  it('fails whole, with the render’s reason, when one attestation cannot be rendered', async () => {
    const bad = attestations.map((a, i) => (i === 4 ? { ...a, verificationUrl: 'javascript:alert(1)' } : a));
    const { out } = collect();
    await expect(writeAttestationsZipInThreads(counted(bad, { n: 0 }), out, { threads: 2 })).rejects.toThrow(/verificationUrl/);
  });
});
