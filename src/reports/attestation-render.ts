/**
 * Renderers of attestation PDFs for bulk exports: laying out a PDF is CPU work of the main thread (pdfmake), so a
 * ZIP of thousands is rendered by a few worker threads, each a whole pdfmake with its fonts parsed once, while the
 * main thread reads the learners, records the attestations and writes the ZIP. `inThread` renders in the calling
 * thread (one at a time), for a single attestation or where threads are not wanted.
 */
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { Attestation } from './attestation';
import type { RenderReply, RenderRequest } from './attestation-worker';
import type { ProgressCallback } from './rows';

export interface AttestationRenderer {
  /** How many renders it can run at once: the ZIP keeps that many (and as many more queued) in flight. */
  readonly parallelism: number;
  render(a: Attestation): Promise<Buffer>;
  close(): Promise<void>;
}

/** In the calling thread. */
export async function inThread(): Promise<AttestationRenderer> {
  const { renderAttestationPdf } = await import('./attestation');
  return { parallelism: 1, render: renderAttestationPdf, close: async () => undefined };
}

/**
 * A renderer's heap: what one attestation needs and the fonts' caches, with room. A small old generation makes V8
 * collect before the process grows (the export's memory budget is the whole process's, threads included).
 */
const LIMITS = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 };

/** Two worker threads at most: a machine's other cores serve PostgreSQL and the requests. */
export const defaultThreads = () => Math.max(1, Math.min(2, os.availableParallelism()));

/**
 * `threads` worker threads rendering attestations, each one at a time. Run from the TypeScript sources (tests,
 * benchmarks, `tsx`), a worker loads its file through tsx's CommonJS hook.
 */
export function workerRenderer(threads = defaultThreads()): AttestationRenderer {
  const fromSources = __filename.endsWith('.ts');
  const file = path.join(__dirname, `attestation-worker${fromSources ? '.ts' : '.js'}`);
  const pending = new Map<number, { resolve: (pdf: Buffer) => void; reject: (error: Error) => void }>();
  const idle: Worker[] = [];
  const waiting: { request: RenderRequest }[] = [];
  let next = 0;
  let failed: Error | undefined;
  const dispatch = () => {
    while (idle.length && waiting.length) {
      const worker = idle.pop() as Worker;
      worker.postMessage((waiting.shift() as { request: RenderRequest }).request);
    }
  };
  const workers = Array.from({ length: threads }, () => {
    const worker = fromSources
      ? new Worker(`require(${JSON.stringify(require.resolve('tsx/cjs'))}); require(${JSON.stringify(file)});`, { eval: true, resourceLimits: LIMITS })
      : new Worker(file, { resourceLimits: LIMITS });
    worker.on('message', (reply: RenderReply) => {
      const p = pending.get(reply.id);
      pending.delete(reply.id);
      idle.push(worker);
      dispatch();
      if (!p) return;
      if ('error' in reply) p.reject(new Error(reply.error));
      else p.resolve(Buffer.from(reply.pdf.buffer, reply.pdf.byteOffset, reply.pdf.byteLength));
    });
    worker.on('error', (error) => {
      failed = error;
      for (const p of pending.values()) p.reject(error);
      pending.clear();
    });
    idle.push(worker);
    return worker;
  });
  return {
    parallelism: threads,
    render(a) {
      if (failed) return Promise.reject(failed);
      const id = next++;
      return new Promise<Buffer>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        waiting.push({ request: { id, attestation: a } });
        dispatch();
      });
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}

/**
 * The bulk export's ZIP (`writeAttestationsZip`) rendered by `threads` worker threads, started for it and ended
 * after, whatever happened.
 */
export async function writeAttestationsZipInThreads(
  source: AsyncIterable<Attestation>,
  out: Writable,
  options: { onProgress?: ProgressCallback; threads?: number } = {},
): Promise<number> {
  const { writeAttestationsZip } = await import('./attestation');
  const renderer = workerRenderer(options.threads);
  try {
    return await writeAttestationsZip(source, out, { renderer, ...(options.onProgress ? { onProgress: options.onProgress } : {}) });
  } finally {
    await renderer.close();
  }
}
