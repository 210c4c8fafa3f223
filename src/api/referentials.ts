import { Router } from 'express';
import { z } from 'zod';
import type { AppContext } from '../context';
import { getReferential, listReferentials, listVersions } from '../referentials/catalogue';
import { VERSION_PATTERN } from '../domain/referential';
import { FORMAT_NAMES } from '../referentials/formats';
import { exportReferential } from '../referentials/transfer';
import { asyncHandler, parseOr400 } from '../web/http';
import { notFound } from '../domain/errors';

export const showParams = z.object({ id: z.string().describe('the référentiel id') });

export const showQuery = z.strictObject({
  version: z.string().regex(VERSION_PATTERN, 'a version such as V1.1.2022').optional().describe('default: the latest'),
  format: z.enum(FORMAT_NAMES).optional().describe('json (default), or an export file'),
});

/**
 * Read-only référentiels API:
 * - `GET /api/v1/referentials` → `{ referentials: [{ id, version, title, kind, requiredMinutes, domains, competencies, origin, latest }] }`;
 * - `GET /api/v1/referentials/:id[?version=V]` → the référentiel (latest version by default), hours in minutes;
 *   `&format=` a format of the registry (`referentials/formats/`) gives the export file instead, except `json`: the
 *   référentiel itself, as without `format`.
 */
export function referentialsRouter(ctx: AppContext): Router {
  const router = Router();
  router.get(
    '/api/v1/referentials',
    asyncHandler(async (_req, res) => {
      res.json({ referentials: await listReferentials(ctx.store.db) });
    }),
  );
  router.get(
    '/api/v1/referentials/:id',
    asyncHandler(async (req, res) => {
      const query = parseOr400(showQuery, req.query, 'query');
      const { id } = parseOr400(showParams, req.params, 'params');
      const ref = await getReferential(ctx.store.db, id, query.version);
      if (!ref) {
        const versions = await listVersions(ctx.store.db, id);
        throw notFound(
          versions.length
            ? `The référentiel ${id} has no version ${query.version}; its versions: ${versions.join(', ')}.`
            : `No référentiel ${id}.`,
        );
      }
      if (query.format && query.format !== 'json') {
        const file = exportReferential(ref, query.format, ctx.config.publicUrl);
        res.type(file.contentType).attachment(file.name).send(file.text);
        return;
      }
      res.json(ref);
    }),
  );
  return router;
}
