import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import {
  ATTESTATION_TITLE,
  type Attestation,
  attestationFileName,
  renderAttestationPdf,
  writeAttestationsZip,
} from '../../src/reports/attestation';
import { complianceDigest, writeCompliancePdf } from '../../src/reports/compliance-pdf';
import { writeComplianceCsv } from '../../src/reports/csv';
import { elide, formatMinutes as hoursWithNbsp } from '../../src/domain/format';

/** Hours as the PDF's text reads back: pdf.js gives no-break spaces as spaces. */
const formatMinutes = (minutes: number) => hoursWithNbsp(minutes).replace(/\u00a0/g, ' ');
import { type ComplianceRow, forecastLabelFr, statusLabelFr } from '../../src/reports/rows';
import { attestationOf, fromArray, generatedRows, socle12, socle28, testMeta, must } from '../support/compliance-rows';
import { pdfText } from '../support/pdf';
import { unzip } from '../support/zip';

function collect(): { out: PassThrough; bytes: () => Buffer } {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on('data', (c: Buffer) => chunks.push(c));
  return { out, bytes: () => Buffer.concat(chunks) };
}

/** Validated hours as "4 h 30" (the required ones head the column). */
const figures = (r: ComplianceRow, domains = socle28.domains) => domains.map((d) => formatMinutes(must(r.domains.find((x) => x.code === d.code)).validatedMinutes));
/** Spaces of any kind (the no-break ones of "4 h 30", line breaks of a wrapped header) as one space. */
const spaced = (text: string) => text.replace(/\s+/g, ' ');

describe('compliance PDF', () => {
  const rows = generatedRows(60);
  let pages: string[];
  beforeAll(async () => {
    const { out, bytes } = collect();
    const progress: number[] = [];
    expect(await writeCompliancePdf(testMeta(), fromArray(rows), out, { onProgress: (n) => progress.push(n) })).toBe(60);
    expect(progress).toEqual([60]);
    expect(bytes().subarray(0, 5).toString()).toBe('%PDF-');
    pages = await pdfText(bytes());
  });

  it('shows every row with the same figures as the input, hours written "15 h 30"', () => {
    // the text layer gives the no-break spaces as spaces: compare with spaces made alike
    const all = spaced(pages.join(' '));
    for (const r of rows) {
      const domains = r.referential.id === socle28.id ? socle28.domains : socle12.domains;
      const expected = [
        r.learner.name ?? '—',
        r.learner.sub,
        ...figures(r, domains),
        formatMinutes(r.validatedMinutes),
        statusLabelFr[r.status],
      ].join(' ');
      expect(all).toContain(spaced(expected));
      // then the completion date and manual credits when there are, and the forecast with its due date
      const [y, m, d] = (r.forecast?.dueDate ?? '--').split('-');
      const tail = [
        statusLabelFr[r.status],
        ...(r.completedAt ? [r.completedAt.toLocaleDateString('fr-FR', { timeZone: 'Europe/Paris' })] : []),
        ...(r.hasManualCredits ? ['oui'] : []),
        ...(r.forecast ? [forecastLabelFr[r.forecast.status], `${d}/${m}/${y}`] : []),
      ].join(' ');
      expect(all).toContain(spaced(`${r.learner.sub} ${figures(r, domains).join(' ')} ${formatMinutes(r.validatedMinutes)} ${tail}`));
    }
    expect(all).toMatch(/ \d+ h [1-5]0 /);
    expect(all).not.toMatch(/\d,\d/);
  });

  it('has the institution, filters, repeated table headers, page X / Y, generated-at and the data digest', async () => {
    expect(pages.length).toBeGreaterThan(1);
    const digest = await complianceDigest(testMeta(), fromArray(rows));
    const csv = collect();
    await writeComplianceCsv(testMeta(), fromArray(rows), csv.out, { variant: 'rfc4180' });
    expect(digest).toBe(createHash('sha256').update(csv.bytes()).digest('hex'));
    pages.forEach((text, i) => {
      expect(text).toContain(`page ${i + 1} / ${pages.length}`);
      expect(text).toContain('Université de Test — Faculté de santé');
      expect(spaced(text)).toContain(`Généré le 14/03/2026 11:20 — SHA-256 des données : ${digest}`);
    });
    // every table's header names its domains in full, with their required hours
    const heads = (r: typeof socle28) =>
      ['Nom Identifiant', ...r.domains.map((d) => `${d.code} ${d.title} (${formatMinutes(d.requiredMinutes)})`), `Total (${formatMinutes(r.domains.reduce((s, d) => s + d.requiredMinutes, 0))})`, 'Statut Complété le Crédits manuels Prévision (échéance)'].join(' ');
    expect(spaced(heads(socle28))).toBe('Nom Identifiant D1 Données de santé (6 h) D2 Cybersécurité en santé (5 h) D3 Communication en santé (5 h) D4 Outils numériques en santé (6 h) D5 Télésanté (6 h) Total (28 h) Statut Complété le Crédits manuels Prévision (échéance)');
    pages.forEach((text) => {
      const page = spaced(text);
      expect(page.includes(spaced(heads(socle28))) || page.includes(spaced(heads(socle12)))).toBe(true);
    });
    expect(pages[0]).toContain('Cours Tous Période 01/09/2025 – 30/06/2026');
    expect(pages[0]).toContain('Plateforme Moodle Santé (https://moodle.univ-test.fr)');
  });

  it('writes its dates in the report\'s time zone', async () => {
    const late = { ...must(rows.find((r) => r.referential.id === socle28.id)), status: 'complete' as const, completedAt: new Date('2026-10-22T21:30:00Z') };
    const { out, bytes } = collect();
    await writeCompliancePdf(testMeta({ timeZone: 'Indian/Reunion' }), fromArray([late]), out);
    const text = spaced((await pdfText(bytes())).join(' '));
    expect(text).toContain('Généré le 14/03/2026 14:20 (Indian/Reunion)');
    expect(text).toContain(spaced(`${formatMinutes(late.validatedMinutes)} Complet 23/10/2026`));
    expect(text).toContain(`${socle28.id} version ${socle28.version} (1 apprenant)`);
  });

  it('prints a report of any size, page after page, each référentiel in its own table', async () => {
    const many = generatedRows(10_500, 7); // more than pdfmake could lay out (it was capped at 10,000)
    const { out, bytes } = collect();
    const progress: number[] = [];
    expect(await writeCompliancePdf(testMeta(), fromArray(many), out, { onProgress: (n) => progress.push(n) })).toBe(10_500);
    expect(progress.slice(0, 3)).toEqual([1000, 2000, 3000]);
    expect(progress[progress.length - 1]).toBe(10_500);
    const text = await pdfText(bytes());
    expect(text.length).toBeGreaterThan(300);
    const digest = await complianceDigest(testMeta(), fromArray(many));
    text.forEach((page, i) => {
      expect(page).toContain(`page ${i + 1} / ${text.length}`);
      expect(page).toContain(`SHA-256 des données : ${digest}`);
    });
    const small = many.filter((r) => r.referential.id === socle12.id);
    const all = text.join(' ');
    expect(all).toContain(`${socle12.title} — ${socle12.id} version ${socle12.version} (${small.length} apprenants)`);
    expect(all).toContain(`${socle28.title} — ${socle28.id} version ${socle28.version} (${many.length - small.length} apprenants)`);
    // the last learner of each table, where the source put it
    const lastOf = (list: ComplianceRow[]) => must(list[list.length - 1]).learner.sub;
    expect(all.indexOf(` ${lastOf(many.filter((r) => r.referential.id === socle28.id))} `)).toBeLessThan(all.indexOf(socle12.title));
    expect(all.lastIndexOf(` ${lastOf(small)} `)).toBeGreaterThan(all.indexOf(socle12.title));
  });
});

describe('attestations', () => {
  const rows = generatedRows(6);

  it('states the référentiel, the hours per domain, the activities with dates, manual credits and the verification URL', async () => {
    const row = rows.find((r) => r.hasManualCredits && r.status === 'in_progress') ?? must(rows[3]);
    const a: Attestation = attestationOf({ ...row, hasManualCredits: true });
    const [text, ...more] = await pdfText(await renderAttestationPdf(a));
    expect(more).toEqual([]);
    expect(text).toContain(ATTESTATION_TITLE);
    expect(text).toContain(`(${socle28.id}, version ${socle28.version})`);
    const name = must(a.learner.name);
    expect(text).toContain(`${a.institution} atteste ${elide('que', name)} (identifiant ${a.learner.sub}) a validé ${formatMinutes(a.validatedMinutes)} sur les 28 h requises`);
    for (const d of a.domains) expect(text).toContain(`${d.code} ${d.title} ${formatMinutes(d.validatedMinutes)} ${formatMinutes(d.requiredMinutes)}`);
    const [first, ...others] = a.activities;
    expect(text).toContain(`01/10/2025 ${must(first).title} ${must(first).domainCode} ${formatMinutes(must(first).minutes)} manuel *`);
    for (const x of others) expect(text).toContain(`${x.title} ${x.domainCode} ${formatMinutes(x.minutes)} activité`);
    expect(text).toContain('* Crédit manuel');
    expect(text).toContain(`Vérifier cette attestation : ${a.verificationUrl}`);
    expect(text).toContain('Délivrée le 14/03/2026 11:20');
  });

  it('rejects an attestation with a verification URL that is not http(s)', async () => {
    const a = { ...attestationOf(must(rows[0])), verificationUrl: 'javascript:alert(1)' };
    await expect(renderAttestationPdf(a)).rejects.toThrow(/verificationUrl/);
  });

  it('writes many attestations as one ZIP, one PDF per learner', async () => {
    const attestations = rows.map((r) => attestationOf(r));
    const { out, bytes } = collect();
    const progress: number[] = [];
    expect(await writeAttestationsZip(fromArray(attestations), out, { onProgress: (n) => progress.push(n) })).toBe(6);
    expect(progress).toEqual(Array.from({ length: 6 }, (_, i) => i + 1));
    const entries = await unzip(bytes());
    expect([...entries.keys()]).toEqual(attestations.map(attestationFileName));
    const [name, pdf] = must([...entries][4]);
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    const [text] = await pdfText(pdf);
    expect(name).toContain(must(attestations[4]).learner.sub);
    expect(text).toContain(`(identifiant ${must(attestations[4]).learner.sub})`);
  });
});
