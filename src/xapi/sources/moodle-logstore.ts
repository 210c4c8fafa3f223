import { courseActivity, generic } from './generic';
import { languageValue, type SourcePlatform, type StatementSource } from './source';

function under(id: string, platform: SourcePlatform): boolean {
  return id === platform.issuer || id.startsWith(`${platform.issuer}/`);
}

/** What follows the wwwroot in the id of a course module and of a course. */
const MODULE = /^\/mod\/(\w+)\/view\.php\?id=\d+$/;
const COURSE = /^\/course\/view\.php\?id=(\d+)$/;

/** The part of `id` after the platform's wwwroot (`under` it), matched by `pattern`. */
function afterRoot(id: string, platform: SourcePlatform, pattern: RegExp): RegExpExecArray | null {
  return id.startsWith(platform.issuer) ? pattern.exec(id.slice(platform.issuer.length)) : null;
}

/**
 * Moodle's logstore_xapi (test/fixtures/moodle-4.3/): activity and course ids are URLs under the platform's
 * wwwroot (its issuer). It reads the statements whose object or course is under the wwwroot. Only course
 * modules (`<wwwroot>/mod/<mod>/view.php?id=<cmid>`) are mappable, not Moodle's other pages (site, course,
 * section, book chapter, quiz attempt, question…); an object from elsewhere in a Moodle course is read as any
 * xAPI activity. The course `<wwwroot>/course/view.php?id=<n>` is context id `n`, Moodle's LTI context id.
 */
export const moodleLogstore: StatementSource = {
  name: 'moodle-logstore',
  accepts(statement, platform) {
    const object = statement.object as { id?: unknown } | undefined;
    if (typeof object?.id === 'string' && under(object.id, platform)) return true;
    const course = courseActivity(statement);
    return course !== undefined && under(course.id, platform);
  },
  activity(object, platform) {
    if (!under(object.id, platform)) return generic.activity(object, platform);
    const m = afterRoot(object.id, platform, MODULE);
    return m ? { iri: object.id, name: languageValue(object.definition?.name), moduleType: m[1] ?? null } : undefined;
  },
  course(statement, platform) {
    const item = courseActivity(statement);
    if (!item) return undefined;
    const m = afterRoot(item.id, platform, COURSE);
    return { contextId: m?.[1] ?? item.id, title: languageValue(item.definition?.name) };
  },
};
