import { coverageDeps } from '../../src/coverage/deps';
import { drainDirty } from '../../src/coverage/freshness';
import type { Referential } from '../../src/domain/referential';
import { type Course, ensurePlatform, findCourse, type Platform } from '../../src/identity/records';
import { setCoursePolicy } from '../../src/mapping/course';
import { saveMapping } from '../../src/mapping/service';
import { addProgramme } from '../../src/programmes/service';
import { getReferential } from '../../src/referentials/catalogue';
import { prepareStatements, storeStatements } from '../../src/xapi/ingest';
import type { RunningServer } from '../../src/app/server';
import { completionStatement, pageIri, uuidOf } from '../coverage/support';
import { MOODLE } from '../xapi/support';

export const REF = 'socle-sante-niveaux-4-8';

export interface SeededProgramme {
  platform: Platform;
  course: Course;
  ref: Referential;
  /** Completions of pages (cmids) of course 2 by `sub`, credited (or not, when failed) before it resolves. */
  complete(sub: string, cmids: number[], success: boolean): Promise<void>;
}

/**
 * Moodle course 2 (launched once already) in a programme of the bundled 28 h référentiel: page 11+i credits all of
 * domain i, page 16 one more hour of domain 1; only successful completions credit (a failed page is done with and
 * credits nothing: its domain can then run short).
 */
export async function seedProgramme(server: RunningServer, programme: { intakeYear: number; dueDate?: string } = { intakeYear: 2025 }): Promise<SeededProgramme> {
  const db = server.ctx.store.db;
  const platform = await ensurePlatform(db, MOODLE);
  const course = await findCourse(db, platform.id, '2');
  if (!course) throw new Error('no course 2: launch it first');
  const ref = (await getReferential(db, REF)) as Referential;
  const entries = ref.domains.map((d, i) => ({ activityIri: pageIri(11 + i), competencyKey: d.competencies[0]?.key as string, minutes: d.requiredMinutes ?? 0 }));
  entries.push({ activityIri: pageIri(16), competencyKey: ref.domains[0]?.competencies[1]?.key as string, minutes: 60 });
  await saveMapping(db, server.ctx, { courseId: course.id, referential: ref, activityIris: new Set(entries.map((e) => e.activityIri)), entries, actor: 'test' });
  await setCoursePolicy(db, server.ctx, { course, policy: { requireSuccess: true, capToMeasuredDuration: false }, actor: 'test' });
  await addProgramme(db, platform, { name: `IFSI promotion ${programme.intakeYear}`, referential: REF, courses: ['2'], ...programme }, 'test');
  let n = 0;
  return {
    platform,
    course,
    ref,
    async complete(sub, cmids, success) {
      const body = cmids.map((cmid) => completionStatement({ id: uuidOf(++n + 1000 * Number(sub)), sub, cmid, course: 2, kind: 'completed', success, at: new Date(Date.UTC(2026, 10, 1, 10, n)) }));
      await storeStatements(db, platform, prepareStatements(body, platform, { objectType: 'Agent', account: { homePage: MOODLE, name: 'test' } }, new Date()));
      while ((await drainDirty(db, coverageDeps(server.ctx, db), 50)) > 0);
    },
  };
}
