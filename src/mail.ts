import nodemailer from 'nodemailer';
import type { Config } from './config';

/** One message: plain text and simple HTML, with extra headers (List-Unsubscribe). */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
  html: string;
  headers?: Record<string, string>;
}

/** How Socle sends e-mail: the context's `mail` (undefined without SMTP_URL: nothing is sent). */
export interface MailTransport {
  send(message: MailMessage): Promise<void>;
  close(): void;
}

/**
 * The SMTP transport of SMTP_URL (nodemailer; `smtps://` is TLS from the start, `smtp://` upgrades with STARTTLS
 * when the server offers it). The URL is never logged: errors are reported by their code and SMTP response code.
 */
export function smtpTransport(mail: NonNullable<Config['mail']>): MailTransport {
  const transport = nodemailer.createTransport(mail.url);
  return {
    async send(message) {
      try {
        await transport.sendMail({ from: mail.from, ...message });
      } catch (error) {
        const e = error as { code?: unknown; responseCode?: unknown };
        // nodemailer's messages may quote the server's greeting or the envelope: keep only the codes
        throw new Error(`SMTP delivery failed (${typeof e.code === 'string' ? e.code : 'error'}${typeof e.responseCode === 'number' ? ` ${e.responseCode}` : ''})`);
      }
    },
    close: () => transport.close(),
  };
}
