import { courseActivity, generic } from './generic';
import { languageValue, type SourcePlatform, type StatementSource } from './source';

function under(id: string, platform: SourcePlatform): boolean {
  return id === platform.issuer || id.startsWith(`${platform.issuer}/`);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
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
    const m = new RegExp(`^${escapeRegExp(platform.issuer)}/mod/(\\w+)/view\\.php\\?id=\\d+$`).exec(object.id);
    return m ? { iri: object.id, name: languageValue(object.definition?.name), moduleType: m[1] ?? null } : undefined;
  },
  course(statement, platform) {
    const item = courseActivity(statement);
    if (!item) return undefined;
    const m = new RegExp(`^${escapeRegExp(platform.issuer)}/course/view\\.php\\?id=(\\d+)$`).exec(item.id);
    return { contextId: m?.[1] ?? item.id, title: languageValue(item.definition?.name) };
  },
};
