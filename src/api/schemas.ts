/**
 * What the JSON API answers, as zod schemas (and the query parameter type its routes share): the OpenAPI
 * document (./openapi.ts) is generated from them and the tests parse real responses with them. The routes' own
 * request schemas (query, params, body) stay beside each route, which exports them for the document.
 * Schemas with a `meta({ id })` become `#/components/schemas/<id>`.
 */
import { z } from 'zod';
import { exportJobs } from '../db/schema';
import { reportKinds } from '../reports/kinds';
import { errorCode, errorDetail } from '../domain/errors';
import { KINDS, referentialSchema } from '../domain/referential';
import { forecastStatusSchema } from '../domain/forecast';

/**
 * A whole number written in a query string (`"25"`), parsed to a number; documented as an integer (query
 * parameters travel as text, the pattern is what the route checks).
 */
export const queryInteger = (message: string) =>
  z.string().regex(/^\d+$/, message).transform(Number).meta({ type: 'integer', minimum: 0 });

/** Every 4xx/5xx body (src/web/http.ts `errorBody`). */
export const errorResponse = z
  .object({
    error: z.object({
      status: z.number().int().describe('the HTTP status'),
      code: errorCode.describe('what went wrong, one of the error codes (src/domain/errors.ts)'),
      message: z.string(),
      details: z.array(errorDetail).optional().describe('what is wrong, field by field'),
      requestId: z.string().optional().describe('the X-Request-Id of the request, as in the logs'),
    }),
  })
  .meta({ id: 'Error' });

const hours = z.number().min(0).describe('hours (minutes / 60, 2 decimals)');
const nullableHours = z.number().min(0).nullable().describe('hours, null when the référentiel has none');
const status = z.enum(['not_started', 'in_progress', 'complete']);
const referential = z.object({ id: z.string(), version: z.string(), title: z.string().optional() });
const person = z.object({ sub: z.string(), name: z.string().nullable() });
const dateTime = z.iso.datetime({ offset: true });

export const credit = z
  .discriminatedUnion('source', [
    z.object({
      source: z.literal('activity'),
      activity: z.object({ id: z.string().describe('the activity IRI'), name: z.string().nullable(), context: z.string().nullable() }),
      completedAt: dateTime,
      hours,
    }),
    z.object({ source: z.literal('manual'), manualCreditId: z.number().int(), hours, justification: z.string() }),
  ])
  .meta({ id: 'Credit' });

/** A learner's forecast in the programme of the référentiel version they belong to (src/domain/forecast.ts). */
export const forecast = z
  .object({
    status: forecastStatusSchema.describe(
      'done: every required hour validated; at_risk: what is missing cannot be covered by what the programme\'s courses still offer (overall or in a domain), or the due date has passed; behind: fewer hours validated than the trajectory from the intake (1 September) to the due date expects today; on_track otherwise',
    ),
    dueDate: z.iso.date().describe('the programme\'s due date (YYYY-MM-DD)'),
    daysLeft: z.number().int().describe('days from today to the due date (negative once passed)'),
    programme: z.object({ id: z.number().int(), name: z.string() }),
    expectedHours: hours.describe('hours the trajectory expects validated today'),
    missingHours: hours.describe('required hours not validated yet'),
    mappableHours: hours.describe('hours the programme\'s courses still offer the learner (mapped activities not completed)'),
    shortDomains: z.array(z.string()).describe('codes of the domains missing more hours than the courses still offer'),
  })
  .meta({ id: 'Forecast', description: 'present when the learner is in a programme of this référentiel version' });

export const learnerCoverage = z
  .object({
    platform: z.string(),
    user: person,
    referential,
    hasHours: z.boolean(),
    requiredHours: nullableHours,
    creditedHours: hours,
    validatedHours: hours,
    missingHours: nullableHours,
    coveredCompetencies: z.number().int(),
    totalCompetencies: z.number().int(),
    status,
    domains: z.array(
      z.object({
        code: z.string(),
        title: z.string(),
        requiredHours: nullableHours,
        creditedHours: hours.describe('before the caps'),
        validatedHours: hours.describe('after the caps'),
        missingHours: nullableHours,
        status,
        competencies: z.array(
          z.object({
            key: z.string(),
            code: z.string(),
            title: z.string(),
            requiredHours: nullableHours,
            creditedHours: hours,
            validatedHours: hours,
            covered: z.boolean(),
            credits: z.array(credit),
          }),
        ),
      }),
    ),
    gaps: z.array(
      z.object({
        domainCode: z.string(),
        domainTitle: z.string(),
        missingHours: nullableHours,
        missingCompetencyKeys: z.array(z.string()),
      }),
    ),
    manualCredits: z.array(
      z.object({ id: z.number().int(), competencyKey: z.string(), hours, justification: z.string(), revoked: z.boolean() }),
    ),
    forecast: forecast.optional(),
  })
  .meta({ id: 'LearnerCoverage' });

export const courseCoverage = z
  .object({
    platform: z.string(),
    context: z.object({ id: z.string(), title: z.string().nullable() }),
    referential,
    requiredHours: nullableHours,
    domains: z.array(z.object({ code: z.string(), title: z.string(), requiredHours: nullableHours })),
    learners: z.array(
      z.object({
        user: person,
        status,
        requiredHours: nullableHours,
        creditedHours: hours,
        validatedHours: hours,
        domains: z.array(z.object({ code: z.string(), requiredHours: nullableHours, creditedHours: hours, validatedHours: hours })),
        computedAt: dateTime.nullable(),
        forecast: forecast.optional(),
      }),
    ),
    next: z.string().nullable().describe('cursor of the next page (pass as after), null on the last'),
  })
  .meta({ id: 'CourseCoverage' });

export const credential = z
  .object({
    id: z.uuid(),
    achievement: z.object({
      id: z.url(),
      name: z.string(),
      domain: z.string().nullable().describe('the domain code, null for the whole référentiel'),
    }),
    status: z.enum(['active', 'revoked']),
    issuedAt: dateTime,
    revokedAt: dateTime.nullable(),
    revocationReason: z.string().nullable(),
    creditsEarnedMinutes: z.number().int().min(0),
    jwt: z.string().describe('the OpenBadgeCredential as a VC-JWT'),
    verifyUrl: z.url().describe('public verification page (JSON with Accept: application/json)'),
    images: z.object({ png: z.url(), svg: z.url() }),
  })
  .meta({ id: 'Credential' });

export const learnerRecord = z
  .object({
    id: z.uuid(),
    referential: z.object({ id: z.string(), version: z.string(), title: z.string() }),
    issuedAt: dateTime,
    creditsEarnedMinutes: z.number().int().min(0).describe('the hours validated in the référentiel, in minutes'),
    jwt: z.string().describe('the CLR 2.0 ClrCredential as a VC-JWT'),
    verifyUrl: z.url().describe('public verification page (JSON with Accept: application/json); `<verifyUrl>/record.jwt` downloads the JWT'),
  })
  .meta({ id: 'LearnerRecord' });

const missingCompetency = z.object({ domainCode: z.string(), key: z.string(), code: z.string(), minutes: z.number().int() });

export const recordImport = z
  .object({
    import: z.object({
      id: z.number().int(),
      platformId: z.number().int(),
      userId: z.number().int(),
      issuer: z.url().describe("the record's issuer (its issuer profile's id)"),
      issuerName: z.string(),
      recordId: z.url().describe("the record's id (its verification page at its issuer)"),
      sourcePlatform: z.string().describe('the platform the record names its learner on (LTI issuer)'),
      referentialId: z.string(),
      referentialVersion: z.string(),
      recordIssuedAt: dateTime,
      jwtDigest: z.string().describe('SHA-256 of the VC-JWT, hex'),
      creditedMinutes: z.number().int(),
      missing: z.array(missingCompetency),
      justification: z.string(),
      status: z.enum(['active', 'revoked', 'replaced']),
      verifiedAt: dateTime,
      importedBy: z.string(),
      revokedAt: dateTime.nullable(),
      revokedBy: z.string().nullable(),
      revocationReason: z.string().nullable(),
    }),
    created: z.boolean().describe('false: this record was already imported for this learner, nothing changed'),
    credits: z.array(z.object({ competencyKey: z.string(), minutes: z.number().int() })).describe('the manual credits of the import'),
    missing: z.array(missingCompetency).describe('competencies the record states hours on that this Socle does not know: not credited'),
    replaced: z.number().int().optional().describe('the older import of the same issuer and platform this one replaced'),
  })
  .meta({ id: 'RecordImport' });

export const referentialList = z
  .object({
    referentials: z.array(
      z.object({
        id: z.string(),
        version: z.string(),
        title: z.string(),
        kind: z.enum(KINDS),
        requiredMinutes: z.number().int().nullable(),
        domains: z.number().int().describe('how many domains'),
        competencies: z.number().int().describe('how many competencies'),
        origin: z.string().describe('where it comes from (bundled, an imported file…)'),
        latest: z.boolean().describe('the latest version of this id'),
      }),
    ),
  })
  .meta({ id: 'ReferentialList' });

/** A référentiel version as stored (hours in minutes): the domain's own schema. */
export const referentialDocument = referentialSchema.meta({ id: 'Referential' });

/** An export job as the API shows it; its enums are the default registry's (a static schema, for the OpenAPI document). */
export const exportJob = z
  .object({
    id: z.uuid(),
    kind: z.enum(reportKinds.names),
    format: z.enum(reportKinds.formats),
    status: z.enum(exportJobs.status.enumValues),
    rowsDone: z.number().int(),
    rowsTotal: z.number().int().nullable(),
    percent: z.number().int().min(0).max(100),
    requestedBy: z.string(),
    createdAt: dateTime,
    finishedAt: dateTime.nullable(),
    fileName: z.string().nullable(),
    byteSize: z.number().int().nullable(),
    sha256: z.string().nullable(),
    error: z.string().nullable(),
    url: z.string().describe('this job'),
    downloadUrl: z.string().nullable().describe('the file, once done'),
  })
  .meta({ id: 'ExportJob' });

const indicatorCount = z.object({ key: z.string(), label: z.string(), learners: z.number().int(), compliant: z.number().int() });

export const indicators = z
  .object({
    platform: z.string(),
    generatedAt: dateTime,
    learners: z.object({
      total: z.number().int(),
      compliant: z.number().int(),
      inProgress: z.number().int(),
      notStarted: z.number().int(),
      withManualCredits: z.number().int(),
    }),
    byReferential: z.array(indicatorCount),
    byCourse: z.array(indicatorCount),
    byAcademicYear: z.array(indicatorCount),
    hoursByDomain: z.array(z.object({ code: z.string(), title: z.string(), validatedMinutes: z.number().int(), validatedHours: z.number() })),
    badgesIssued: z.number().int(),
    attestationsIssued: z.number().int(),
  })
  .meta({ id: 'Indicators' });

export const statement = z.looseObject({}).describe('an xAPI 1.0.3 Statement').meta({ id: 'Statement' });

export const statementIds = z.array(z.string()).describe('the ids of the statements, in the order received');

export const statementResult = z
  .object({
    statements: z.array(statement),
    more: z.string().describe('the URL of the next page, empty on the last'),
  })
  .meta({ id: 'StatementResult' });

export const health = z
  .object({
    status: z.enum(['ok', 'error']),
    database: z.string().describe('ok, or why it is unreachable'),
    driver: z.enum(['pglite', 'postgres']),
    version: z.string(),
    uptimeSeconds: z.number().int(),
  })
  .meta({ id: 'Health' });

export const readiness = z
  .object({
    status: z.enum(['ready', 'not_ready']),
    database: z.string().describe('ok, or why it is unreachable'),
    migrations: z.object({ applied: z.number().int(), expected: z.number().int(), upToDate: z.boolean() }).optional(),
  })
  .meta({ id: 'Readiness' });
