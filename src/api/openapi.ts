/** The OpenAPI 3.1 description of Socle's JSON API (/api/v1), served at /api/openapi.json. */
const hours = { type: 'number', minimum: 0, description: 'hours (minutes / 60, 2 decimals)' } as const;
const nullableHours = { type: ['number', 'null'], minimum: 0, description: 'hours, null when the référentiel has none' } as const;
const status = { type: 'string', enum: ['not_started', 'in_progress', 'complete'] } as const;
const referential = {
  type: 'object',
  required: ['id', 'version'],
  properties: { id: { type: 'string' }, version: { type: 'string' }, title: { type: 'string' } },
} as const;

export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'Socle API',
    version: '1',
    description:
      'Coverage of the formation socle au numérique en santé: hours validated per domain and competency against a référentiel version.',
  },
  servers: [{ url: '/' }],
  security: [{ apiToken: [] }, { ltiSession: [] }],
  paths: {
    '/api/v1/coverage': {
      get: {
        operationId: 'getCoverage',
        summary: 'Coverage of one learner (platform + user + referential) or of a course (platform + context)',
        parameters: [
          { name: 'platform', in: 'query', required: true, schema: { type: 'string' }, description: 'the LTI issuer (Moodle wwwroot)' },
          { name: 'user', in: 'query', schema: { type: 'string' }, description: 'the LTI sub (Moodle user id); with referential' },
          { name: 'context', in: 'query', schema: { type: 'string' }, description: 'the LTI context id (Moodle course id)' },
          { name: 'referential', in: 'query', schema: { type: 'string' }, description: 'référentiel id (required with user)' },
          { name: 'version', in: 'query', schema: { type: 'string' }, description: "référentiel version; default: the learner's latest" },
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 1000, default: 500 }, description: 'course: learners per page' },
          { name: 'after', in: 'query', schema: { type: 'string' }, description: 'course: the `next` cursor of the previous page' },
        ],
        responses: {
          '200': {
            description: 'the coverage',
            content: { 'application/json': { schema: { oneOf: [{ $ref: '#/components/schemas/LearnerCoverage' }, { $ref: '#/components/schemas/CourseCoverage' }] } } },
          },
          '400': { $ref: '#/components/responses/Error' },
          '401': { $ref: '#/components/responses/Error' },
          '403': { $ref: '#/components/responses/Error' },
          '404': { $ref: '#/components/responses/Error' },
        },
      },
    },
    '/api/v1/credentials': {
      get: {
        operationId: 'listCredentials',
        summary: "A learner's Open Badges 3.0 credentials (active and revoked), oldest first",
        parameters: [
          { name: 'platform', in: 'query', required: true, schema: { type: 'string' }, description: 'the LTI issuer (Moodle wwwroot)' },
          { name: 'user', in: 'query', required: true, schema: { type: 'string' }, description: 'the LTI sub (Moodle user id)' },
        ],
        responses: {
          '200': {
            description: 'the credentials',
            content: { 'application/json': { schema: { type: 'array', items: { $ref: '#/components/schemas/Credential' } } } },
          },
          '400': { $ref: '#/components/responses/Error' },
          '401': { $ref: '#/components/responses/Error' },
          '403': { $ref: '#/components/responses/Error' },
          '404': { $ref: '#/components/responses/Error' },
        },
      },
    },
  },
  components: {
    securitySchemes: {
      apiToken: { type: 'http', scheme: 'bearer', description: 'an administrator API token (socle api-tokens create --role admin)' },
      ltiSession: {
        type: 'http',
        scheme: 'bearer',
        description:
          'the LTI session token (ltik) of a launch, with its session cookie unless LTI_SESSION=ltiaas: a learner sees only their own records, an instructor those of their course, a platform administrator their platform',
      },
    },
    responses: {
      Error: {
        description: 'an error',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              required: ['error'],
              properties: {
                error: {
                  type: 'object',
                  required: ['status', 'code', 'message'],
                  properties: {
                    status: { type: 'integer' },
                    code: { type: 'string' },
                    message: { type: 'string' },
                    details: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, message: { type: 'string' } } } },
                    requestId: { type: 'string' },
                  },
                },
              },
            },
          },
        },
      },
    },
    schemas: {
      Credential: {
        type: 'object',
        required: ['id', 'achievement', 'status', 'jwt', 'verifyUrl'],
        properties: {
          id: { type: 'string', format: 'uuid' },
          achievement: {
            type: 'object',
            required: ['id', 'name', 'domain'],
            properties: {
              id: { type: 'string', format: 'uri' },
              name: { type: 'string' },
              domain: { type: ['string', 'null'], description: 'the domain code, null for the whole référentiel' },
            },
          },
          status: { type: 'string', enum: ['active', 'revoked'] },
          issuedAt: { type: 'string', format: 'date-time' },
          revokedAt: { type: ['string', 'null'], format: 'date-time' },
          revocationReason: { type: ['string', 'null'] },
          creditsEarnedMinutes: { type: 'integer', minimum: 0 },
          jwt: { type: 'string', description: 'the OpenBadgeCredential as a VC-JWT' },
          verifyUrl: { type: 'string', format: 'uri', description: 'public verification page (JSON with Accept: application/json)' },
          images: { type: 'object', properties: { png: { type: 'string', format: 'uri' }, svg: { type: 'string', format: 'uri' } } },
        },
      },
      Credit: {
        oneOf: [
          {
            type: 'object',
            required: ['source', 'activity', 'completedAt', 'hours'],
            properties: {
              source: { const: 'activity' },
              activity: {
                type: 'object',
                properties: { id: { type: 'string', format: 'uri' }, name: { type: ['string', 'null'] }, context: { type: ['string', 'null'] } },
              },
              completedAt: { type: 'string', format: 'date-time' },
              hours,
            },
          },
          {
            type: 'object',
            required: ['source', 'manualCreditId', 'hours', 'justification'],
            properties: { source: { const: 'manual' }, manualCreditId: { type: 'integer' }, hours, justification: { type: 'string' } },
          },
        ],
      },
      LearnerCoverage: {
        type: 'object',
        required: ['referential', 'requiredHours', 'validatedHours', 'status', 'domains', 'manualCredits'],
        properties: {
          platform: { type: 'string' },
          user: { type: 'object', properties: { sub: { type: 'string' }, name: { type: ['string', 'null'] } } },
          referential,
          hasHours: { type: 'boolean' },
          requiredHours: nullableHours,
          creditedHours: hours,
          validatedHours: hours,
          missingHours: nullableHours,
          coveredCompetencies: { type: 'integer' },
          totalCompetencies: { type: 'integer' },
          status,
          domains: {
            type: 'array',
            items: {
              type: 'object',
              required: ['code', 'title', 'requiredHours', 'creditedHours', 'validatedHours'],
              properties: {
                code: { type: 'string' },
                title: { type: 'string' },
                requiredHours: nullableHours,
                creditedHours: { ...hours, description: 'before the caps' },
                validatedHours: { ...hours, description: 'after the caps' },
                missingHours: nullableHours,
                status,
                competencies: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: {
                      key: { type: 'string' },
                      code: { type: 'string' },
                      title: { type: 'string' },
                      requiredHours: nullableHours,
                      creditedHours: hours,
                      validatedHours: hours,
                      covered: { type: 'boolean' },
                      credits: { type: 'array', items: { $ref: '#/components/schemas/Credit' } },
                    },
                  },
                },
              },
            },
          },
          gaps: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                domainCode: { type: 'string' },
                domainTitle: { type: 'string' },
                missingHours: nullableHours,
                missingCompetencyKeys: { type: 'array', items: { type: 'string' } },
              },
            },
          },
          manualCredits: {
            type: 'array',
            items: {
              type: 'object',
              properties: { id: { type: 'integer' }, competencyKey: { type: 'string' }, hours, justification: { type: 'string' }, revoked: { type: 'boolean' } },
            },
          },
        },
      },
      CourseCoverage: {
        type: 'object',
        required: ['context', 'referential', 'learners', 'next'],
        properties: {
          platform: { type: 'string' },
          context: { type: 'object', properties: { id: { type: 'string' }, title: { type: ['string', 'null'] } } },
          referential,
          requiredHours: nullableHours,
          domains: { type: 'array', items: { type: 'object', properties: { code: { type: 'string' }, title: { type: 'string' }, requiredHours: nullableHours } } },
          learners: {
            type: 'array',
            items: {
              type: 'object',
              properties: {
                user: { type: 'object', properties: { sub: { type: 'string' }, name: { type: ['string', 'null'] } } },
                status,
                requiredHours: nullableHours,
                creditedHours: hours,
                validatedHours: hours,
                domains: {
                  type: 'array',
                  items: {
                    type: 'object',
                    properties: { code: { type: 'string' }, requiredHours: nullableHours, creditedHours: hours, validatedHours: hours },
                  },
                },
                computedAt: { type: ['string', 'null'], format: 'date-time' },
              },
            },
          },
          next: { type: ['string', 'null'], description: 'cursor of the next page (pass as after), null on the last' },
        },
      },
    },
  },
} as const;
