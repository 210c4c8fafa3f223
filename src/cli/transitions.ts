import fs from 'node:fs';
import type { Command } from 'commander';
import type { AppContext } from '../context';
import { coverageDeps } from '../coverage/deps';
import { type Executor } from '../db/store';
import { invalid, notFound } from '../domain/errors';
import { formatMinutes, frenchSpacing } from '../domain/format';
import type { CorrespondenceEdit, TransitionReport } from '../domain/referential-transition';
import { findPlatform } from '../identity/records';
import { loadBundledReferentials } from '../referentials/catalogue';
import {
  applyTransition,
  editTransition,
  fromOf,
  getTransition,
  outlinesOf,
  parseVersionRef,
  previewTransition,
  proposeTransition,
  refText,
  reportCsv,
  reportLearners,
  toOf,
  type Transition,
} from '../transitions/service';
import { checkOutFile, output, toStdout, type WithContext } from './command';

interface Which {
  platform: string;
  from: string;
  to: string;
}

/** The platform and the two versions the options name, parsed before any work. */
function parseWhich(opts: Which) {
  return { issuer: opts.platform, from: parseVersionRef(opts.from, '--from'), to: parseVersionRef(opts.to, '--to') };
}

async function platformOf(ex: Executor, issuer: string) {
  const platform = await findPlatform(ex, issuer);
  if (!platform) throw notFound(`--platform: no platform ${issuer}`);
  return platform;
}

const REASONS: Record<string, string> = {
  same_key: 'même clé',
  same_code_and_title: 'même code et même intitulé',
  same_title: 'même intitulé',
  edited: 'modifié à la main',
  none: 'aucune correspondance proposée',
};

/** The table as people read it: old code and title → new code and title (or none), with why. */
async function showTable(ctx: AppContext, t: Transition) {
  const outlines = await outlinesOf(coverageDeps(ctx, ctx.store.db), fromOf(t), toOf(t));
  const competencies = (o: typeof outlines.from) => new Map(o.domains.flatMap((d) => d.competencies.map((c) => [c.key, c])));
  const olds = competencies(outlines.from);
  const news = competencies(outlines.to);
  const rows = t.correspondence.map((e) => ({ ...e, fromTitle: olds.get(e.from)?.title ?? '', toTitle: e.to === null ? null : (news.get(e.to)?.title ?? '') }));
  const human = () =>
    frenchSpacing(
      [
        `Transition ${t.id} : ${refText(fromOf(t))} → ${refText(toOf(t))} (${t.status === 'applied' ? `appliquée le ${t.appliedAt?.toISOString() ?? ''} par ${t.appliedBy ?? ''}` : 'brouillon'})`,
        ...rows.map((r) => `  ${r.from} ${r.fromTitle}\n      → ${r.to === null ? 'aucune (ses heures sont perdues)' : `${r.to} ${r.toTitle ?? ''}`} [${REASONS[r.reason] ?? r.reason}]`),
      ].join('\n'),
    );
  return { value: { id: t.id, platformId: t.platformId, from: refText(fromOf(t)), to: refText(toOf(t)), status: t.status, correspondence: rows }, human };
}

function showReport(report: TransitionReport, people: Awaited<ReturnType<typeof reportLearners>>): string {
  const lines = [
    `${report.learners} apprenant(s) concerné(s), ${report.changed.length} dont les heures changent, ${report.losses} qui perdent des heures.`,
    `Associations : ${report.mappings.moved} déplacée(s), ${report.mappings.merged} fusionnée(s), ${report.mappings.kept} déjà présente(s), ${report.mappings.dropped} supprimée(s).`,
    `Crédits manuels : ${report.credits.moved} déplacé(s), ${report.credits.revoked} révoqué(s).`,
    `Open Badges : ${report.badges.issued} délivré(s) sur la nouvelle version, ${report.badges.revoked} révoqué(s).`,
  ];
  for (const p of people) {
    const domains = p.domains.filter((d) => d.before !== d.after).map((d) => `domaine ${d.code} : ${formatMinutes(d.before)} → ${formatMinutes(d.after)}`);
    lines.push(`  ${p.lost ? 'PERTE ' : 'gain  '}${p.sub}${p.name ? ` (${p.name})` : ''} : ${formatMinutes(p.before)} → ${formatMinutes(p.after)}${domains.length ? ` ; ${domains.join(' ; ')}` : ''}`);
  }
  return frenchSpacing(lines.join('\n'));
}

/** `<old-key>=<new-key|none>` pairs. */
function parseEdits(pairs: string[]): CorrespondenceEdit[] {
  if (pairs.length === 0) throw invalid('set: give at least one <old-key>=<new-key|none>');
  return pairs.map((pair, i) => {
    const m = /^([^=]+)=([^=]+)$/.exec(pair);
    if (!m?.[1] || !m[2]) throw invalid(`set: expected <old-key>=<new-key|none>, got "${pair}"`, [{ path: `pairs[${i}]`, message: 'expected <old-key>=<new-key|none>' }]);
    // the keys are checked against the two versions by the service
    return { from: m[1], to: m[2] === 'none' ? null : m[2] };
  });
}

/** `socle referentials transition propose|show|set|preview|apply|report`: a platform's change of référentiel version. */
export function registerTransitions(group: Command, withContext: WithContext): void {
  const transition = group
    .command('transition')
    .description("move a platform's mappings and manual credits from one référentiel version to another, through a reviewed correspondence table");
  const which = (c: Command) =>
    c
      .requiredOption('--platform <issuer>', 'the LTI issuer of the platform')
      .requiredOption('--from <id@version>', 'the version the platform uses now, e.g. socle-ambulanciers@V1.1.2023')
      .requiredOption('--to <id@version>', 'the new version (stored: bundled or imported)');
  /** Runs `run` with the platform's transition between the two versions. */
  const withTransition = <T>(opts: Which, run: (ctx: AppContext, t: Transition) => Promise<T>) => {
    const w = parseWhich(opts);
    return withContext(async (ctx) => {
      const platform = await platformOf(ctx.store.db, w.issuer);
      return run(ctx, await getTransition(ctx.store.db, platform.id, w));
    });
  };

  which(transition.command('propose'))
    .description('propose the correspondence (same key; else same code and title; else same title; else none) and keep it as a draft')
    .option('--json', 'print JSON')
    .action(async (opts: Which & { json?: boolean }) => {
      const w = parseWhich(opts);
      await withContext(async (ctx) => {
        await loadBundledReferentials(ctx.store.db, ctx.logger);
        const platform = await platformOf(ctx.store.db, w.issuer);
        const t = await ctx.store.db.transaction((tx) => proposeTransition(tx, coverageDeps(ctx, tx), { platformId: platform.id, from: w.from, to: w.to, actor: 'cli' }));
        const shown = await showTable(ctx, t);
        output(shown.value, opts.json ?? false, shown.human);
      });
    });

  which(transition.command('show'))
    .description('show the correspondence table with the reason of each row')
    .option('--json', 'print JSON')
    .action(async (opts: Which & { json?: boolean }) => {
      await withTransition(opts, async (ctx, t) => {
        const shown = await showTable(ctx, t);
        output(shown.value, opts.json ?? false, shown.human);
      });
    });

  which(transition.command('set <pairs...>'))
    .description('change rows of the table: <old-key>=<new-key> or <old-key>=none (its hours would drop)')
    .option('--json', 'print JSON')
    .action(async (pairs: string[], opts: Which & { json?: boolean }) => {
      const edits = parseEdits(pairs);
      await withTransition(opts, async (ctx, t) => {
        const edited = await ctx.store.db.transaction((tx) => editTransition(tx, coverageDeps(ctx, tx), t, edits, 'cli'));
        const shown = await showTable(ctx, edited);
        output(shown.value, opts.json ?? false, shown.human);
      });
    });

  which(transition.command('preview'))
    .description("what applying would change for whom (validated hours per domain before and after): computed with the coverage rules, nothing written")
    .option('--json', 'print JSON')
    .action(async (opts: Which & { json?: boolean }) => {
      await withTransition(opts, async (ctx, t) => {
        const report = await previewTransition(ctx.store.db, coverageDeps(ctx, ctx.store.db), t);
        const people = await reportLearners(ctx.store.db, t.platformId, report);
        output({ ...report, changed: people }, opts.json ?? false, () => showReport(report, people));
      });
    });

  which(transition.command('apply'))
    .description('apply the table in one transaction: mappings and credits move, learners are recomputed, the report is kept (audited)')
    .option('--accept-losses', 'apply even though some learners lose validated hours (the preview lists them)')
    .option('--json', 'print JSON')
    .action(async (opts: Which & { acceptLosses?: boolean; json?: boolean }) => {
      await withTransition(opts, async (ctx, t) => {
        const result = await applyTransition(ctx.store.db, ctx, { platformId: t.platformId, id: t.id, actor: 'cli', acceptLosses: opts.acceptLosses ?? false });
        const people = await reportLearners(ctx.store.db, t.platformId, result.report);
        output({ ...result, report: { ...result.report, changed: people } }, opts.json ?? false, () =>
          frenchSpacing(
            `Transition ${t.id} appliquée : ${refText(fromOf(t))} → ${refText(toOf(t))}. ${result.coverage.deferred ? `${result.coverage.learners} apprenant(s) seront recalculés en arrière-plan.` : `${result.coverage.learners} apprenant(s) recalculé(s).`}\n${showReport(result.report, people)}`,
          ),
        );
      });
    });

  which(transition.command('report'))
    .description('the difference report of an applied transition (who lost or gained what)')
    .option('--format <format>', 'text, json or csv', 'text')
    .option('--out <file>', 'write to this file instead of stdout (-)')
    .action(async (opts: Which & { format: string; out?: string }) => {
      if (!['text', 'json', 'csv'].includes(opts.format)) throw invalid(`--format must be text, json or csv, not "${opts.format}"`);
      checkOutFile(opts.out);
      await withTransition(opts, async (ctx, t) => {
        if (t.status !== 'applied' || !t.report) throw notFound(`the transition from ${refText(fromOf(t))} to ${refText(toOf(t))} is not applied yet: see its preview`);
        const people = await reportLearners(ctx.store.db, t.platformId, t.report);
        const text =
          opts.format === 'csv'
            ? reportCsv(t, people)
            : opts.format === 'json'
              ? `${JSON.stringify({ ...t.report, changed: people }, null, 2)}\n`
              : `${showReport(t.report, people)}\n`;
        if (opts.out && !toStdout(opts.out)) fs.writeFileSync(opts.out, text);
        else process.stdout.write(text);
      });
    });
}
