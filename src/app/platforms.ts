import type { AppContext } from '../context';
import { createLtiProvider } from '../../lti/runtime';
import {
  listPlatforms,
  type ManualPlatform,
  type PlatformListing,
  registerPlatform,
  removePlatform,
  setPlatformActive,
} from '../../lti/registration';

export type { ManualPlatform, PlatformListing };

/** The platform registrations as the administration commands manage them (they live in the LTI runtime's store). */
export interface PlatformAdmin {
  register(p: ManualPlatform): Promise<void>;
  list(issuer?: string): Promise<PlatformListing[]>;
  setActive(issuer: string, clientId: string, active: boolean): Promise<void>;
  remove(issuer: string, clientId: string): Promise<void>;
}

/** Runs `run` with an LTI runtime on the context's store, closed afterwards. */
export async function withPlatformAdmin<T>(ctx: AppContext, run: (admin: PlatformAdmin) => Promise<T>): Promise<T> {
  const runtime = createLtiProvider(ctx);
  const lti = runtime.provider;
  try {
    return await run({
      register: async (p) => {
        await registerPlatform(ctx, lti, p);
      },
      list: (issuer) => listPlatforms(ctx, lti, issuer),
      setActive: async (issuer, clientId, active) => {
        await setPlatformActive(lti, issuer, clientId, active);
      },
      remove: async (issuer, clientId) => {
        await removePlatform(ctx, lti, issuer, clientId);
      },
    });
  } finally {
    await runtime.close();
  }
}
