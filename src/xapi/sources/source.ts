import type { Platform } from '../../identity/records';

/**
 * A statement source: how Socle reads the statements of one kind of producer (Moodle's logstore_xapi, any
 * activity provider…). A source is a plain object of pure functions; the registry (`index.ts`) picks the
 * first that accepts a statement. How completion is read from the verb is common xAPI (`completion.ts`).
 */
export interface StatementSource {
  /** Short stable name (shown in the golden files of test/fixtures/golden/xapi-sources/). */
  readonly name: string;
  /** Whether this source reads the statement (already structurally valid, from the platform's actor). */
  accepts(statement: ReceivedStatement, platform: SourcePlatform): boolean;
  /** The mappable activity the object is, or undefined when a teacher would not map it (a page, an attempt…). */
  activity(object: ActivityObject, platform: SourcePlatform): ActivityFact | undefined;
  /** The course the statement's context names, if any. */
  course(statement: ReceivedStatement, platform: SourcePlatform): CourseFact | undefined;
}

/** A statement as received (structurally valid xAPI 1.0.3). */
export type ReceivedStatement = Record<string, unknown>;

/** What a source needs of the platform: its issuer, which for Moodle is the wwwroot (no trailing slash). */
export type SourcePlatform = Pick<Platform, 'issuer'>;

/** An xAPI Activity (a statement's object or a context activity), as received. */
export interface XapiActivity {
  id?: unknown;
  objectType?: unknown;
  definition?: { type?: unknown; name?: Record<string, unknown> };
}

/** A statement object that is an Activity with its id. */
export type ActivityObject = XapiActivity & { id: string };

/** An activity teachers map (`xapi_activities`): its IRI, name and type (Moodle module name or xAPI activity type). */
export interface ActivityFact {
  iri: string;
  name: string | null;
  moduleType: string | null;
}

/** The course a statement belongs to: the platform's context id (Moodle's course id = the LTI context id) and title. */
export interface CourseFact {
  contextId: string;
  title: string | null;
}

/** A completion fact (`completion_events`): completed or uncompleted, with the success and duration reported. */
export interface CompletionFact {
  kind: 'completed' | 'uncompleted';
  success: boolean | null;
  durationSeconds: number | null;
}

/** The value of an xAPI language map, French first, then English, then any. */
export function languageValue(map: Record<string, unknown> | undefined): string | null {
  if (!map) return null;
  for (const lang of ['fr', 'fr-FR', 'en', 'en-US', 'en-GB']) if (typeof map[lang] === 'string') return map[lang] as string;
  const first = Object.values(map).find((v) => typeof v === 'string');
  return (first as string | undefined) ?? null;
}
