// pdfkit 0.19 (pdfmake's own PDF writer) ships no types: what Socle uses of it.
declare module 'pdfkit' {
  import { Readable } from 'node:stream';

  interface TextOptions {
    width?: number;
    height?: number;
    align?: 'left' | 'center' | 'right' | 'justify';
    lineBreak?: boolean;
    lineGap?: number;
    continued?: boolean;
  }

  class PDFDocument extends Readable {
    constructor(options?: {
      size?: string | [number, number];
      layout?: 'portrait' | 'landscape';
      margin?: number;
      autoFirstPage?: boolean;
      bufferPages?: boolean;
      compress?: boolean;
      info?: Record<string, string>;
      pdfVersion?: string;
    });
    page: { width: number; height: number };
    registerFont(name: string, src: Buffer): this;
    font(name: string, size?: number): this;
    fontSize(size: number): this;
    currentLineHeight(includeGap?: boolean): number;
    widthOfString(text: string, options?: TextOptions): number;
    heightOfString(text: string, options?: TextOptions): number;
    text(text: string, x?: number, y?: number, options?: TextOptions): this;
    addPage(options?: { size?: string | [number, number]; layout?: 'portrait' | 'landscape'; margin?: number }): this;
    rect(x: number, y: number, w: number, h: number): this;
    moveTo(x: number, y: number): this;
    lineTo(x: number, y: number): this;
    lineWidth(w: number): this;
    fillColor(color: string): this;
    strokeColor(color: string): this;
    fill(color?: string): this;
    stroke(color?: string): this;
    end(): void;
  }
  export = PDFDocument;
}
