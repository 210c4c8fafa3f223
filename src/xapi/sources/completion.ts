import { VERBS } from '../../domain/xapi';
import type { CompletionFact, ReceivedStatement } from './source';

/** ISO 8601 duration (`PT1H2M3.5S`, `P1DT2H`) → whole seconds, or null. */
export function durationSeconds(value: unknown): number | null {
  if (typeof value !== 'string') return null;
  const m = /^P(?:(\d+(?:\.\d+)?)Y)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)W)?(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/.exec(
    value,
  );
  if (!m) return null;
  const [, y, mo, w, d, h, mi, s] = m.map((x) => (x === undefined ? 0 : Number(x)));
  return Math.round(
    (y ?? 0) * 365 * 86400 + (mo ?? 0) * 30 * 86400 + (w ?? 0) * 7 * 86400 + (d ?? 0) * 86400 + (h ?? 0) * 3600 + (mi ?? 0) * 60 + (s ?? 0),
  );
}

/**
 * The completion fact a verb carries, the same for every source (common xAPI): `completed` (or `uncompleted`
 * when `result.completion` is false), `passed` (completed, success true unless told), `uncompleted`.
 */
export function completionOf(statement: ReceivedStatement, verb: string): CompletionFact | undefined {
  const result = statement.result as { completion?: unknown; success?: unknown; duration?: unknown } | undefined;
  const success = typeof result?.success === 'boolean' ? result.success : null;
  const duration = durationSeconds(result?.duration);
  if (verb === VERBS.uncompleted) return { kind: 'uncompleted', success, durationSeconds: duration };
  if (verb === VERBS.completed) {
    return { kind: result?.completion === false ? 'uncompleted' : 'completed', success, durationSeconds: duration };
  }
  if (verb === VERBS.passed) return { kind: 'completed', success: success ?? true, durationSeconds: duration };
  return undefined;
}
