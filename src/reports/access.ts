import type { Locale } from '../domain/locale';
import { forbidden } from '../domain/errors';
import type { ExportJob } from './jobs';
import { canonicalFormat } from './kinds/kind';
import { type ReportFilters, reportFilters } from './source';

/** Who asks for a report, and which part of one platform they may see. */
export interface ReportPrincipal {
  /** Audit identity (`lti:<issuer>#<sub>`, `api-token:<name>`). */
  actor: string;
  platformId: number;
  issuer: string;
  /** `all` for administrators; otherwise the context ids of the courses they teach. */
  courses: 'all' | string[];
  locale: Locale;
}


/** Narrows filters to what the principal may see: 403 when they name a course outside it. */
export function scopeFilters(p: ReportPrincipal, filters: ReportFilters): ReportFilters {
  if (p.courses === 'all') return filters;
  const allowed = p.courses;
  const outside = (filters.courses ?? []).filter((c) => !allowed.includes(c));
  if (outside.length) throw forbidden(`You may only report on your own course (not ${outside.join(', ')}).`);
  return { ...filters, courses: filters.courses?.length ? filters.courses : allowed };
}

/** Whether the principal may see an export job: its platform, and for an instructor only jobs on their courses. */
export function canSeeJob(p: ReportPrincipal, job: ExportJob): boolean {
  if (job.platformId !== p.platformId) return false;
  if (p.courses === 'all') return true;
  const parsed = reportFilters.safeParse(job.filters);
  const jobCourses = parsed.success ? (parsed.data.courses ?? []) : [];
  const allowed = p.courses;
  return jobCourses.length > 0 && jobCourses.every((c) => allowed.includes(c));
}

/** An export job as the API and the pages show it. */
export function jobView(job: ExportJob, base: string, ltik?: string) {
  const percent =
    job.status === 'done' ? 100 : job.rowsTotal ? Math.min(99, Math.floor((job.rowsDone / Math.max(1, job.rowsTotal)) * 100)) : 0;
  return {
    id: job.id,
    kind: job.kind,
    // jobs stored under an older name of their format show its name of today
    format: canonicalFormat(job.format, 'api') ?? job.format,
    status: job.status,
    rowsDone: job.rowsDone,
    rowsTotal: job.rowsTotal,
    percent,
    requestedBy: job.requestedBy,
    createdAt: job.createdAt.toISOString(),
    finishedAt: job.finishedAt?.toISOString() ?? null,
    fileName: job.fileName,
    byteSize: job.byteSize,
    sha256: job.sha256,
    error: job.error,
    url: `${base}/exports/${job.id}`,
    downloadUrl: job.status === 'done' ? `${base}/exports/${job.id}/file${ltik ? `?ltik=${encodeURIComponent(ltik)}` : ''}` : null,
  };
}
