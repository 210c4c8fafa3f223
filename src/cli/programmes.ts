import type { Command } from 'commander';
import { invalid, notFound, SocleError } from '../domain/errors';
import { type ForecastStatus, isoDateSchema, RISK_ORDER } from '../domain/forecast';
import { formatMinutes } from '../domain/format';
import { findPlatform } from '../identity/records';
import { forecastDay, type LearnerForecast, programmeForecasts } from '../programmes/forecasts';
import { addProgramme, listProgrammes, type ProgrammeDetail, setProgramme, showProgramme } from '../programmes/service';
import { coverageDeps } from '../coverage/deps';
import { output, type WithContext } from './command';

/** The option of each field (errors name the option the user typed). */
const OPTIONS: Record<string, string> = {
  name: '--name',
  referential: '--referential',
  courses: '--courses',
  category: '--category',
  intakeYear: '--intake',
  dueDate: '--due',
};

/** A SocleError whose details name options rather than fields. */
function byOption(error: unknown): unknown {
  if (!(error instanceof SocleError)) return error;
  const option = (path: string) => OPTIONS[path.split('.')[0] ?? ''] ?? path;
  const details = error.details.map((d) => ({ path: option(d.path), message: d.message }));
  return new SocleError(error.code, `${[...new Set(details.map((d) => d.path))].join(', ') || 'programme'}: ${error.message}`, details);
}

const courseList = (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean);

function year(value: string): number {
  if (!/^\d{4}$/.test(value)) throw invalid(`--intake: expected a year such as 2025, got "${value}"`, [{ path: '--intake', message: 'a year AAAA' }]);
  return Number(value);
}

function programmeId(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw invalid(`--id: expected a programme number, got "${value}"`, [{ path: '--id', message: 'a number' }]);
  return Number(value);
}

export const STATUS_TEXT: Record<ForecastStatus, string> = { on_track: 'on track', behind: 'behind', at_risk: 'at risk', done: 'done' };

function human(p: ProgrammeDetail): string {
  const line = (label: string, value: string | null) => `${label.padEnd(14)}${value ?? '—'}`;
  return [
    line('programme', `${p.id} ${p.name}`),
    line('référentiel', `${p.referential.id}@${p.referential.version}`),
    line('intake', String(p.intakeYear)),
    line('due', p.dueDate),
    line('category', p.category),
    line('courses', p.courses.map((c) => (c.title ? `${c.contextId} (${c.title})` : c.contextId)).join(', ')),
  ].join('\n');
}

function forecastLines(today: string, forecasts: LearnerForecast[]): string {
  const counts = RISK_ORDER.map((s) => `${forecasts.filter((f) => f.status === s).length} ${STATUS_TEXT[s]}`).join(', ');
  const rows = [...forecasts]
    .sort((a, b) => RISK_ORDER.indexOf(a.status) - RISK_ORDER.indexOf(b.status) || a.userId - b.userId)
    .map((f) => `  ${(f.user.name ?? f.user.sub).padEnd(24)} ${STATUS_TEXT[f.status].padEnd(9)} ${formatMinutes(f.validatedMinutes)} validated, ${formatMinutes(f.missingMinutes)} missing, ${formatMinutes(f.mappableMinutes)} still offered`);
  return [`learners on ${today}: ${forecasts.length} (${counts})`, ...rows].join('\n');
}

interface CommonOptions {
  platform: string;
  json?: boolean;
}

export function registerProgrammes(program: Command, withContext: WithContext): void {
  const programmes = program
    .command('programmes')
    .description('programmes (formations): a référentiel version, its courses, an intake year and a due date; the forecast of each learner');
  const platformOf = async (db: Parameters<typeof findPlatform>[0], issuer: string) => {
    const platform = await findPlatform(db, issuer);
    if (!platform) throw notFound(`--platform: no platform ${issuer} (see socle platforms list)`);
    return platform;
  };

  programmes
    .command('add')
    .description('add a programme (the due date defaults to 31 August of the intake year + 3: the end of the third academic year)')
    .requiredOption('--platform <issuer>', "the platform's issuer (Moodle wwwroot)")
    .requiredOption('--name <name>', 'the name of the programme (unique on the platform)')
    .requiredOption('--referential <id[@version]>', 'the référentiel (its latest version when none is given)')
    .requiredOption('--courses <ids,…>', "the platform's course ids (Moodle course ids), comma-separated")
    .option('--category <id>', 'the Moodle course category the programme stands for')
    .requiredOption('--intake <year>', 'the intake year (the programme starts on 1 September of that year)')
    .option('--due <AAAA-MM-JJ>', 'the due date')
    .option('--json', 'print the programme as JSON')
    .action(async (opts: CommonOptions & { name: string; referential: string; courses: string; category?: string; intake: string; due?: string }) => {
      const input = {
        name: opts.name,
        referential: opts.referential,
        courses: courseList(opts.courses),
        ...(opts.category !== undefined ? { category: opts.category } : {}),
        intakeYear: year(opts.intake),
        ...(opts.due !== undefined ? { dueDate: opts.due } : {}),
      };
      const added = await withContext(async ({ store }) => {
        const platform = await platformOf(store.db, opts.platform);
        return addProgramme(store.db, platform, input, 'cli').catch((e: unknown) => {
          throw byOption(e);
        });
      });
      output(added, Boolean(opts.json), () => `Programme ${added.id} added.\n${human(added)}`);
    });

  programmes
    .command('list')
    .description('the programmes of a platform')
    .requiredOption('--platform <issuer>', "the platform's issuer (Moodle wwwroot)")
    .option('--json', 'print JSON')
    .action(async (opts: CommonOptions) => {
      const list = await withContext(async ({ store }) => listProgrammes(store.db, (await platformOf(store.db, opts.platform)).id));
      output(list, Boolean(opts.json), () =>
        list.length
          ? list.map((p) => `${String(p.id).padEnd(5)} ${p.name}  ${p.referential.id}@${p.referential.version}  intake ${p.intakeYear}  due ${p.dueDate}  ${p.courses.length} course(s)`).join('\n')
          : 'No programme on this platform (socle programmes add).',
      );
    });

  programmes
    .command('show')
    .description('a programme and the forecast of each of its learners')
    .requiredOption('--platform <issuer>', "the platform's issuer (Moodle wwwroot)")
    .requiredOption('--id <id>', 'the programme (see socle programmes list)')
    .option('--today <AAAA-MM-JJ>', "the day the forecasts are counted at (default: today in the institution's time zone)")
    .option('--json', 'print JSON')
    .action(async (opts: CommonOptions & { id: string; today?: string }) => {
      const id = programmeId(opts.id);
      if (opts.today !== undefined && !isoDateSchema.safeParse(opts.today).success) {
        throw invalid(`--today: expected a date AAAA-MM-JJ, got "${opts.today}"`, [{ path: '--today', message: 'a date AAAA-MM-JJ' }]);
      }
      const shown = await withContext(async (ctx) => {
        const db = ctx.store.db;
        const platform = await platformOf(db, opts.platform);
        const detail = await showProgramme(db, platform.id, id);
        const today = opts.today ?? (await forecastDay(db, platform.id, ctx.clock()));
        return { ...detail, today, forecasts: await programmeForecasts(db, platform.id, id, today, coverageDeps(ctx, db)) };
      });
      output(shown, Boolean(opts.json), () => `${human(shown)}\n${forecastLines(shown.today, shown.forecasts)}`);
    });

  programmes
    .command('set')
    .description('change a programme (options not given are kept; --category "" clears the category)')
    .requiredOption('--platform <issuer>', "the platform's issuer (Moodle wwwroot)")
    .requiredOption('--id <id>', 'the programme (see socle programmes list)')
    .option('--name <name>', 'the name')
    .option('--referential <id[@version]>', 'the référentiel (its latest version when none is given)')
    .option('--courses <ids,…>', 'the courses (replace the current ones)')
    .option('--category <id>', 'the Moodle course category')
    .option('--intake <year>', 'the intake year (a due date left at its default follows it)')
    .option('--due <AAAA-MM-JJ>', 'the due date')
    .option('--json', 'print the programme as JSON')
    .action(async (opts: CommonOptions & { id: string; name?: string; referential?: string; courses?: string; category?: string; intake?: string; due?: string }) => {
      const id = programmeId(opts.id);
      const change = {
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        ...(opts.referential !== undefined ? { referential: opts.referential } : {}),
        ...(opts.courses !== undefined ? { courses: courseList(opts.courses) } : {}),
        ...(opts.category !== undefined ? { category: opts.category.trim() === '' ? null : opts.category } : {}),
        ...(opts.intake !== undefined ? { intakeYear: year(opts.intake) } : {}),
        ...(opts.due !== undefined ? { dueDate: opts.due } : {}),
      };
      const changed = await withContext(async ({ store }) => {
        const platform = await platformOf(store.db, opts.platform);
        return setProgramme(store.db, platform, id, change, 'cli').catch((e: unknown) => {
          throw byOption(e);
        });
      });
      output(changed, Boolean(opts.json), () => `Programme ${changed.id} saved.\n${human(changed)}`);
    });
}
