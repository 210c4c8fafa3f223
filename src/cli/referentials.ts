import fs from 'node:fs';
import type { Command } from 'commander';
import {
  getReferential,
  listReferentials,
  listVersions,
  loadBundledReferentials,
  saveReferential,
} from '../referentials/catalogue';
import { formatMinutes, frenchSpacing } from '../domain/format';
import type { Referential } from '../domain/referential';
import type { AppContext } from '../context';
import { FORMAT_NAMES, FORMATS, type FormatName } from '../referentials/formats';
import { exportReferential, parseReferentialFile } from '../referentials/transfer';
import { invalid, notFound, SocleError } from '../domain/errors';
import { checkOutFile, output, toStdout, type WithContext } from './command';
import { registerTransitions } from './transitions';

function showHuman(ref: Referential, versions: string[]): string {
  const lines = [
    `${ref.title}`,
    `${ref.id} — version ${ref.version}${versions.length > 1 ? ` (versions : ${versions.join(', ')})` : ''} — ${ref.kind}`,
    `Heures : ${formatMinutes(ref.requiredMinutes)}`,
  ];
  if (ref.appliesTo.length) lines.push(`Public : ${ref.appliesTo.join(' ; ')}`);
  for (const domain of ref.domains) {
    lines.push('', `${domain.code}. ${domain.title} — ${formatMinutes(domain.requiredMinutes)}`);
    for (const competency of domain.competencies) {
      const key = competency.key === competency.code ? '' : ` [clé ${competency.key}]`;
      const hours = competency.requiredMinutes === null ? '' : ` — ${formatMinutes(competency.requiredMinutes)}`;
      lines.push(`  ${competency.code}${key} ${competency.title}${hours}`);
      for (const capacity of competency.capacities) lines.push(`      - ${capacity}`);
    }
  }
  if (ref.notes.length) {
    lines.push('', 'Notes :');
    for (const note of ref.notes) lines.push(`  - ${note.text} (${note.location})`);
  }
  // a French text: no-break spaces before « : », « ; »…
  return frenchSpacing(lines.join('\n'));
}

async function find(ctx: AppContext, id: string, version?: string) {
  const ref = await getReferential(ctx.store.db, id, version);
  if (!ref) {
    const versions = await listVersions(ctx.store.db, id);
    throw notFound(
      versions.length
        ? `référentiel ${id} has no version ${version} (versions: ${versions.join(', ')})`
        : `no référentiel ${id} (see: socle referentials list)`,
    );
  }
  return ref;
}

/** The registered formats for help texts: "Socle JSON (…), a CASE 1.1 package (JSON) or a Moodle … CSV (…)". */
const descriptions = FORMATS.map((f) => f.description);
const formatList = `${descriptions.slice(0, -1).join(', ')} or ${descriptions.at(-1) ?? ''}`;

export function registerReferentials(program: Command, withContext: WithContext): void {
  const group = program.command('referentials').description('the référentiels of competencies and hours (list, show, export, import, transition)');

  group
    .command('list')
    .description('list every stored référentiel version with its total hours')
    .option('--json', 'print JSON')
    .action(async (options: { json?: boolean }) => {
      await withContext(async (ctx) => {
        await loadBundledReferentials(ctx.store.db, ctx.logger);
        const list = await listReferentials(ctx.store.db);
        const rows = list.map((r) => ({ ...r, hours: r.requiredMinutes === null ? null : r.requiredMinutes / 60 }));
        output(rows, options.json ?? false, () =>
          rows.map((r) => `${r.id}  ${r.version}  ${formatMinutes(r.requiredMinutes)}  ${r.domains} domaines, ${r.competencies} compétences  ${r.title}`).join('\n'),
        );
      });
    });

  group
    .command('show <id>')
    .description('show a référentiel version (the latest unless --version) with its domains and competencies')
    .option('--version <version>', 'a stored version')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { version?: string; json?: boolean }) => {
      await withContext(async (ctx) => {
        await loadBundledReferentials(ctx.store.db, ctx.logger);
        const ref = await find(ctx, id, options.version);
        const versions = await listVersions(ctx.store.db, id);
        output(ref, options.json ?? false, () => showHuman(ref, versions));
      });
    });

  group
    .command('export <id>')
    .description(`export a référentiel version as ${formatList}`)
    .requiredOption('--format <format>', `one of ${FORMAT_NAMES.join(', ')}`)
    .option('--version <version>', 'a stored version (default: the latest)')
    .option('--out <file>', 'write to this file instead of stdout (-)')
    .action(async (id: string, options: { format: string; version?: string; out?: string }) => {
      if (!(FORMAT_NAMES as readonly string[]).includes(options.format)) {
        throw invalid(`--format must be one of ${FORMAT_NAMES.join(', ')}, not "${options.format}"`);
      }
      checkOutFile(options.out);
      await withContext(async (ctx) => {
        await loadBundledReferentials(ctx.store.db, ctx.logger);
        const ref = await find(ctx, id, options.version);
        const { text } = exportReferential(ref, options.format as FormatName, ctx.config.publicUrl);
        if (options.out && !toStdout(options.out)) fs.writeFileSync(options.out, text);
        else process.stdout.write(text);
      });
    });

  group
    .command('import <file>')
    .description(`import a référentiel version from ${formatList} (recognised from the content)`)
    .option('--json', 'print JSON')
    .action(async (file: string, options: { json?: boolean }) => {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (error) {
        throw invalid(`cannot read ${file}: ${(error as Error).message}`);
      }
      let parsed: ReturnType<typeof parseReferentialFile>;
      try {
        parsed = parseReferentialFile(text);
      } catch (error) {
        if (SocleError.is(error, 'invalid_request')) throw invalid(`${file}: ${error.message}`);
        throw error;
      }
      const ref = parsed.referential;
      await withContext(async (ctx) => {
        await loadBundledReferentials(ctx.store.db, ctx.logger);
        const outcome = await saveReferential(ctx.store.db, ref, 'import');
        const result = { id: ref.id, version: ref.version, format: parsed.format, outcome };
        output(result, options.json ?? false, () =>
          outcome === 'added'
            ? `imported ${ref.id} version ${ref.version} (${parsed.format})`
            : `${ref.id} version ${ref.version} is already stored with the same content: nothing changed`,
        );
      });
    });

  registerTransitions(group, withContext);
}
