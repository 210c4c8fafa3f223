// pdfmake 0.3 ships no types (@types/pdfmake describes 0.2's PdfPrinter): what Socle uses of its server API.
declare module 'pdfmake' {
  import type { Readable } from 'node:stream';

  /** A pdfmake document definition; its content nodes are plain objects (see pdfmake's documentation). */
  export type DocDefinition = Record<string, unknown>;

  interface PdfKitDocument extends Readable {
    end(): void;
  }

  interface OutputDocument {
    getStream(): Promise<PdfKitDocument>;
    getBuffer(): Promise<Buffer>;
  }

  interface FontDescriptor {
    normal: string;
    bold?: string;
    italics?: string;
    bolditalics?: string;
  }

  interface PdfMake {
    virtualfs: { writeFileSync(name: string, content: Buffer): void; existsSync(name: string): boolean };
    setFonts(fonts: Record<string, FontDescriptor>): void;
    setUrlAccessPolicy(policy: (url: string) => boolean): void;
    setLocalAccessPolicy(policy: (path: string) => boolean): void;
    createPdf(doc: DocDefinition, options?: Record<string, unknown>): OutputDocument;
  }

  const pdfmake: PdfMake;
  export = pdfmake;
}
