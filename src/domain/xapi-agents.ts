/**
 * An xAPI Agent as the `agent` query parameter of the document and Agents resources carries it, its identity and its
 * Person object. Pure: the xAPI routes parse with it, the documents are keyed by it, a learner's erasure finds them by it.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';

const iri = z.string().regex(/^[A-Za-z][A-Za-z0-9+.-]*:\S+$/, 'expected an absolute IRI');
const account = z.object({ homePage: iri, name: z.string().min(1) }).strict();

/**
 * An Agent (or an identified Group) as the `agent` query parameter carries it: exactly one inverse functional
 * identifier among mbox, mbox_sha1sum, openid and account.
 */
export const xapiAgent = z
  .object({
    objectType: z.enum(['Agent', 'Group']).optional(),
    name: z.string().optional(),
    mbox: z.string().regex(/^mailto:[^\s@]+@[^\s@]+$/, 'expected mailto:address').optional(),
    mbox_sha1sum: z.string().regex(/^[0-9a-fA-F]{40}$/, 'expected 40 hexadecimal digits').optional(),
    openid: iri.optional(),
    account: account.optional(),
    member: z.array(z.unknown()).optional(),
  })
  .strict()
  .superRefine((agent, issue) => {
    const ifis = (['mbox', 'mbox_sha1sum', 'openid', 'account'] as const).filter((k) => agent[k] !== undefined);
    if (ifis.length !== 1) {
      issue.addIssue({ code: 'custom', message: `expected exactly one of mbox, mbox_sha1sum, openid, account (found ${ifis.length})` });
    }
    if (agent.member !== undefined && agent.objectType !== 'Group') issue.addIssue({ code: 'custom', path: ['member'], message: 'only a Group has members' });
  });
export type XapiAgent = z.infer<typeof xapiAgent>;

/** The agent's identity as one string: its inverse functional identifier (names and objectType do not count). */
export function agentIdentity(agent: XapiAgent): string {
  if (agent.mbox !== undefined) return JSON.stringify(['mbox', agent.mbox]);
  if (agent.mbox_sha1sum !== undefined) return JSON.stringify(['mbox_sha1sum', agent.mbox_sha1sum.toLowerCase()]);
  if (agent.openid !== undefined) return JSON.stringify(['openid', agent.openid]);
  return JSON.stringify(['account', agent.account?.homePage, agent.account?.name]);
}

/** The Person object of the Agents resource: what Socle knows of an agent is the agent itself. */
export function personOf(agent: XapiAgent) {
  return {
    objectType: 'Person' as const,
    ...(agent.name !== undefined ? { name: [agent.name] } : {}),
    ...(agent.mbox !== undefined ? { mbox: [agent.mbox] } : {}),
    ...(agent.mbox_sha1sum !== undefined ? { mbox_sha1sum: [agent.mbox_sha1sum] } : {}),
    ...(agent.openid !== undefined ? { openid: [agent.openid] } : {}),
    ...(agent.account !== undefined ? { account: [agent.account] } : {}),
  };
}

/** SHA-256 hex of an agent's identity: how documents name their agent. */
export function agentHash(identity: string): string {
  return createHash('sha256').update(identity, 'utf8').digest('hex');
}

/** The hashes a platform account `{homePage: issuer, name}` may be stored under (homePage with or without its final slash). */
export function accountHashes(issuer: string, name: string): string[] {
  const bare = issuer.replace(/\/+$/, '');
  return [bare, `${bare}/`].map((homePage) => agentHash(agentIdentity({ account: { homePage, name } })));
}
