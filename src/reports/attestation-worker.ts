/**
 * A worker thread of the attestation renderers (attestation-render.ts): renders each attestation it is sent with
 * `renderAttestationPdf` (fonts parsed and layouts remembered once per thread) and sends the PDF back, its bytes
 * transferred, not copied.
 */
import { parentPort } from 'node:worker_threads';
import { type Attestation, renderAttestationPdf } from './attestation';

export interface RenderRequest {
  id: number;
  attestation: Attestation;
}
export type RenderReply = { id: number; pdf: Uint8Array } | { id: number; error: string };

const port = parentPort;
if (port) {
  port.on('message', (request: RenderRequest) => {
    renderAttestationPdf(request.attestation).then(
      (pdf) => {
        const bytes = new Uint8Array(pdf.buffer, pdf.byteOffset, pdf.byteLength);
        // a Buffer may share its ArrayBuffer with others (the pool): transfer only a buffer of its own
        const own = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
        port.postMessage({ id: request.id, pdf: own } satisfies RenderReply, [own.buffer as ArrayBuffer]);
      },
      (error: unknown) => port.postMessage({ id: request.id, error: error instanceof Error ? error.message : String(error) } satisfies RenderReply),
    );
  });
}
