/**
 * docs/attestation-1.png: the first page of an attestation of an institution with its profile set (logo, UAI,
 * signatory, city, time zone), as `socle report attestations` prints it, rendered with `pdftoppm -r 70`.
 * Run: npx tsx test/screenshots/attestation.ts [out.png]
 * Needs poppler-utils (pdftoppm).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { renderAttestationPdf } from '../../src/reports/attestation';
import { attestationIssuerOf } from '../../src/reports/institution';
import { attestationOf, generatedRows, must } from '../support/compliance-rows';

const LOGO = Buffer.from(
  '<svg xmlns="http://www.w3.org/2000/svg" width="240" height="96" viewBox="0 0 240 96">' +
    '<rect width="96" height="96" rx="18" fill="#1a4f9c"/><path d="M22 70 L48 22 L74 70 Z" fill="#ffffff"/>' +
    '<rect x="108" y="30" width="120" height="14" fill="#1a4f9c"/><rect x="108" y="54" width="88" height="10" fill="#0f7b6c"/></svg>',
);

async function main() {
  const out = process.argv[2] ?? path.join(__dirname, '..', '..', 'docs', 'attestation-1.png');
  const row = must(generatedRows(6).find((r) => r.status === 'complete') ?? generatedRows(6)[0]);
  const issuer = await attestationIssuerOf({
    name: 'Université de La Réunion',
    timeZone: 'Indian/Reunion',
    profile: {
      platformId: 1, legalName: 'Université de La Réunion', shortName: 'UR', uai: '9740478B', siret: null,
      signatoryName: 'Camille Hoarau', signatoryTitle: 'Directrice de l’UFR Santé', city: 'Saint-Denis', timeZone: 'Indian/Reunion',
      url: null, email: null, logo: LOGO, logoType: 'image/svg+xml', logoWidth: 240, logoHeight: 96, updatedAt: new Date(),
    },
  });
  const pdf = await renderAttestationPdf({
    ...attestationOf({ ...row, learner: { sub: '17', name: 'Inès Payet' } }),
    institution: 'Université de La Réunion',
    issuer,
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-attestation-'));
  try {
    fs.writeFileSync(path.join(dir, 'a.pdf'), pdf);
    execFileSync('pdftoppm', ['-r', '70', '-png', '-f', '1', '-l', '1', '-singlefile', path.join(dir, 'a.pdf'), path.join(dir, 'page')]);
    fs.copyFileSync(path.join(dir, 'page.png'), out);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`${out}\n`);
}

void main();
