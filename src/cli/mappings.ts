import fs from 'node:fs';
import type { Command } from 'commander';
import { z } from 'zod';
import type { AppContext } from '../context';
import { platformSettings } from '../db/schema';
import { type Course, ensureCourse, ensurePlatform, findCourse, findPlatform, normalizeIssuer } from '../identity/records';
import { courseReferential, exportMapping, findReferentialChoice, importMapping, setCourseReferential, setPlatformDefaults } from '../mapping/course';
import { refreshActivities } from '../mapping/service';
import { loadBundledReferentials } from '../referentials/catalogue';
import { sealSecret } from '../secrets';
import { invalid, notFound, SocleError } from '../domain/errors';
import { checkOutFile, output, toStdout, type WithContext } from './command';

const issuer = z
  .string({ error: '--issuer is required' })
  .refine((v) => URL.canParse(v) && /^https?:$/.test(new URL(v).protocol), 'expected an http(s) URL (the Moodle wwwroot)');

function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw invalid(result.error.issues.map((i) => `${i.path.length ? `--${String(i.path[0]).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ` : ''}${i.message}`).join('; '));
  return result.data;
}

async function existingCourse(ctx: AppContext, platform: string, context: string): Promise<Course> {
  const p = await findPlatform(ctx.store.db, platform);
  if (!p) throw notFound(`No platform ${normalizeIssuer(platform)} (socle platforms list shows them).`);
  const course = await findCourse(ctx.store.db, p.id, context);
  if (!course) throw notFound(`No course with context id ${context} on ${p.issuer}: launch Socle from it or run socle courses set-referential first.`);
  return course;
}

async function referentialOf(ctx: AppContext, course: Course) {
  await loadBundledReferentials(ctx.store.db);
  const { referential, missing } = await courseReferential(ctx.store.db, course);
  if (!referential) {
    throw new SocleError(
      'no_referential',
      missing
        ? `The course's référentiel ${missing} is not in the catalogue.`
        : `Course ${course.contextId} has no référentiel: socle courses set-referential --platform … --context ${course.contextId} --referential <id>`,
    );
  }
  return referential;
}

const courseOptions = z.object({ platform: issuer, context: z.string({ error: '--context is required' }).min(1, 'required') });

/**
 * `socle platforms set-webservice`, `socle courses set-referential`, `socle mappings import|export`: the admin side
 * of the teacher's mapping screen.
 */
export function registerMappings(program: Command, withContext: WithContext): void {
  const platforms =
    program.commands.find((c) => c.name() === 'platforms') ?? program.command('platforms').description('LTI 1.3 platforms (Moodle sites)');
  platforms
    .command('set-webservice')
    .description("give Socle a Moodle web-service token (core_course_get_contents) to list courses' activities; sealed at rest")
    .option('--issuer <url>', 'the platform (Moodle wwwroot)')
    .option('--token <token>', 'the web-service token (Site administration › Server › Web services › Manage tokens)')
    .action(async (raw: unknown) => {
      const o = parse(z.object({ issuer, token: z.string({ error: '--token is required' }).regex(/^\S{8,256}$/, 'expected a token of 8 to 256 characters without spaces') }), raw);
      const saved = await withContext(async (ctx) => {
        const platform = await ensurePlatform(ctx.store.db, o.issuer);
        const webserviceToken = sealSecret(ctx.config.ltiKey, 'webservice-token', o.token);
        await ctx.store.db
          .insert(platformSettings)
          .values({ platformId: platform.id, webserviceToken })
          .onConflictDoUpdate({ target: platformSettings.platformId, set: { webserviceToken, updatedAt: new Date() } });
        return platform.issuer;
      });
      process.stdout.write(`${saved}: web-service token saved (sealed); teachers' pages now list the course activities from Moodle\n`);
    });

  platforms
    .command('set-defaults')
    .description("the platform's defaults for its courses: référentiel version and crediting policy (a course may override them)")
    .option('--issuer <url>', 'the platform (Moodle wwwroot)')
    .option('--referential <id>', 'default référentiel id (socle referentials list)')
    .option('--version <version>', 'its version (default: the latest)')
    .option('--require-success', 'credit a completion only when its statement says success (when it carries success)')
    .option('--cap-to-duration', 'credit the lesser of the mapped hours and the measured result.duration')
    .option('--json', 'print JSON')
    .action(async (raw: unknown) => {
      const o = parse(
        z.object({
          issuer,
          referential: z.string().min(1).optional(),
          version: z.string().min(1).optional(),
          requireSuccess: z.boolean().optional(),
          capToDuration: z.boolean().optional(),
          json: z.boolean().optional(),
        }),
        raw,
      );
      const result = await withContext(async (ctx) => {
        let ref;
        if (o.referential) {
          await loadBundledReferentials(ctx.store.db);
          ref = await findReferentialChoice(ctx.store.db, o.referential, o.version);
        }
        const platform = await ensurePlatform(ctx.store.db, o.issuer);
        const set = await setPlatformDefaults(ctx.store.db, ctx, {
          platformId: platform.id,
          ...(ref ? { referential: { id: ref.id, version: ref.version } } : {}),
          policy: { requireSuccess: Boolean(o.requireSuccess), capToMeasuredDuration: Boolean(o.capToDuration) },
          actor: 'cli',
        });
        return { issuer: platform.issuer, referential: ref ? `${ref.id}@${ref.version}` : null, requireSuccess: set.requireSuccess, capToMeasuredDuration: set.capToMeasuredDuration };
      });
      output(result, Boolean(o.json), () =>
        `${result.issuer}: ${result.referential ? `default référentiel ${result.referential}; ` : ''}credit ${result.requireSuccess ? 'on success only' : 'on completion'}${result.capToMeasuredDuration ? ', capped to the measured duration' : ''}`,
      );
    });

  const courses = program.command('courses').description("courses' settings");
  courses
    .command('set-referential')
    .description('the référentiel version a course maps its activities to (the mapping of a previous version is kept under it)')
    .option('--platform <issuer>', 'the platform (Moodle wwwroot)')
    .option('--context <id>', 'the LTI context id (Moodle course id)')
    .option('--referential <id>', 'référentiel id (socle referentials list)')
    .option('--version <version>', 'référentiel version (default: the latest)')
    .option('--json', 'print JSON')
    .action(async (raw: unknown) => {
      const o = parse(courseOptions.extend({ referential: z.string({ error: '--referential is required' }).min(1), version: z.string().min(1).optional(), json: z.boolean().optional() }), raw);
      const result = await withContext(async (ctx) => {
        // An unknown référentiel is refused before anything is created.
        await loadBundledReferentials(ctx.store.db);
        await findReferentialChoice(ctx.store.db, o.referential, o.version);
        const platform = await ensurePlatform(ctx.store.db, o.platform);
        const real = await ensureCourse(ctx.store.db, platform.id, o.context);
        const ref = await setCourseReferential(ctx.store.db, { course: real, referentialId: o.referential, version: o.version, actor: 'cli' });
        return { platform: platform.issuer, context: o.context, courseId: real.id, referential: ref.id, version: ref.version };
      });
      output(result, Boolean(o.json), () => `course ${result.context} of ${result.platform}: référentiel ${result.referential} ${result.version}`);
    });

  const mappings = program.command('mappings').description("a course's mapping of activities to competencies and hours, as CSV");
  mappings
    .command('export')
    .description('write the course mapping as CSV (activity_id;activity_name;competency_code;hours)')
    .option('--platform <issuer>', 'the platform (Moodle wwwroot)')
    .option('--context <id>', 'the LTI context id (Moodle course id)')
    .option('--out <file>', 'write to this file instead of stdout (-)')
    .action(async (raw: unknown) => {
      const o = parse(courseOptions.extend({ out: z.string().min(1).optional() }), raw);
      checkOutFile(o.out);
      const { csv, rows } = await withContext(async (ctx) => {
        const course = await existingCourse(ctx, o.platform, o.context);
        return exportMapping(ctx.store.db, course, await referentialOf(ctx, course));
      });
      if (o.out && !toStdout(o.out)) {
        fs.writeFileSync(o.out, csv);
        process.stderr.write(`${rows} pair(s) written to ${o.out}\n`);
      } else process.stdout.write(csv);
    });

  mappings
    .command('import <file>')
    .description("replace the course mapping with a CSV file's (the whole file is refused, with line numbers, if any row is wrong)")
    .option('--platform <issuer>', 'the platform (Moodle wwwroot)')
    .option('--context <id>', 'the LTI context id (Moodle course id)')
    .option('--json', 'print JSON')
    .action(async (file: string, raw: unknown) => {
      const o = parse(courseOptions.extend({ json: z.boolean().optional() }), raw);
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (error) {
        throw invalid(`Cannot read ${file}: ${(error as Error).message}`);
      }
      const saved = await withContext(async (ctx) => {
        const course = await existingCourse(ctx, o.platform, o.context);
        const referential = await referentialOf(ctx, course);
        // The file's activities must be the course's: read them from Moodle first when Socle has a token.
        const refreshed = await refreshActivities(ctx.store.db, { course, issuer: normalizeIssuer(o.platform), ltiKey: ctx.config.ltiKey });
        if (refreshed.warning) process.stderr.write(`warning: activities not refreshed from Moodle: ${refreshed.warning}\n`);
        return importMapping(ctx.store.db, ctx, { course, referential, text, actor: 'cli' });
      });
      output(
        { imported: saved.entries.length, changedActivities: saved.changedActivities, summary: saved.summary },
        Boolean(o.json),
        () => `${saved.entries.length} pair(s) imported; ${saved.changedActivities.length} activit(y/ies) changed`,
      );
    });
}
