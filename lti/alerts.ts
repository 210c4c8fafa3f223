/**
 * The weekly digest on the Socle pages (the teacher's cohort page: their course; the administration: the
 * programmes) with the person's own switch for the e-mail, and the learner's reminder switch of "Ma progression".
 */
import type { Express } from 'express';
import { z } from 'zod';
import type { AppContext } from '../src/context';
import { courseSection, programmeSections } from '../src/alerts/digest';
import { preferenceOf, setOptOut } from '../src/alerts/preferences';
import { dayText, digestBlocks } from '../src/alerts/render';
import { digestWeek } from '../src/alerts/schedule';
import { DEFAULT_SCHEDULE, previousAtRisk } from '../src/alerts/send';
import { LTI_BASE } from '../src/lms/tool-config';
import { asyncHandler, parseOr400 } from '../src/web/http';
import '../src/web/texts/alerts';
import { type LtiSession, requireRole } from './session';

export const ALERTS_PREFERENCE_PATH = `${LTI_BASE}/alerts/preference`;

/** The pages the switch returns to. */
const BACK = { me: '/me', cohort: '/course/cohort', admin: '/admin' } as const;
type Back = keyof typeof BACK;

const preferenceForm = z.object({ alerts: z.enum(['on', 'off']), back: z.enum(['me', 'cohort', 'admin']) });

/** What the digest panel shows: this week's digest of the course (teacher) or of the programmes (administrator). */
export async function alertsPanel(ctx: AppContext, s: LtiSession, what: 'course' | 'programmes', saved = false) {
  const { week, today } = digestWeek(ctx.clock(), s.timeZone, ctx.config.alerts ?? DEFAULT_SCHEDULE);
  const previous = await previousAtRisk(ctx, s.user.id, week);
  const at = { today, previous };
  const sections =
    what === 'course' ? (s.course ? [await courseSection(ctx, ctx.store.db, s.platform.id, s.course, at)].filter((x) => x !== undefined) : []) : await programmeSections(ctx, ctx.store.db, s.platform.id, at);
  const preference = await preferenceOf(ctx.store.db, s.user.id);
  const optedOut = Boolean(preference?.optedOutAt);
  return {
    alerts: {
      week: dayText(week, s.locale),
      blocks: sections.map((x) => digestBlocks(x, s.locale)),
      mail: !ctx.mail ? 'Unset' : optedOut ? 'Off' : preference?.email ? 'On' : 'NoAddress',
      email: preference?.email ?? '',
      optedOut,
      saved,
      back: what === 'course' ? 'cohort' : 'admin',
      toggleUrl: `${ALERTS_PREFERENCE_PATH}?ltik=${encodeURIComponent(s.ltik)}`,
    },
  };
}

/** `POST /lti/alerts/preference`: the person's own switch (digests for staff, the reminder for a learner). */
export function alertsRoutes(ctx: AppContext, app: Express): void {
  app.post(
    '/alerts/preference',
    requireRole(ctx, 'learner', 'instructor', 'administrator'),
    asyncHandler(async (req, res) => {
      const s = req.lti as LtiSession;
      const form = parseOr400(preferenceForm, req.body, 'form');
      await setOptOut(ctx.store.db, s.platform.id, s.user.id, form.alerts === 'off');
      const back: Back = form.back;
      res.redirect(303, `${LTI_BASE}${BACK[back]}?ltik=${encodeURIComponent(s.ltik)}&alerts=saved#${back === 'me' ? 'reminder' : 'alerts'}`);
    }),
  );
}
