import type { XapiScope } from './keys';

/** The resources of the xAPI endpoint, as scopes see them. */
export type XapiResource = 'statements' | 'state' | 'activity-profile' | 'agent-profile' | 'agents' | 'activities';

/**
 * The scopes that open `resource` for reading (GET) or writing (PUT, POST, DELETE), after xAPI's scope list:
 * `all` opens everything, `all/read` every read; `state` and `profile` read and write their documents;
 * `statements/read/mine` reads only the client's own statements. The Agents and Activities resources describe
 * what the LRS knows of an agent or an activity: readable with `define` or any read scope.
 */
export function scopesFor(resource: XapiResource, write: boolean): readonly XapiScope[] {
  switch (resource) {
    case 'statements':
      return write ? ['statements/write', 'all'] : ['statements/read', 'all/read', 'all', 'statements/read/mine'];
    case 'state':
      return write ? ['state', 'all'] : ['state', 'all/read', 'all'];
    case 'activity-profile':
    case 'agent-profile':
      return write ? ['profile', 'all'] : ['profile', 'all/read', 'all'];
    case 'agents':
    case 'activities':
      return write ? ['all'] : ['define', 'profile', 'state', 'statements/read', 'all/read', 'all'];
  }
}

/** The broadest scope of `granted` that opens `resource` this way (`statements/read/mine` last), or undefined. */
export function grantingScope(granted: readonly XapiScope[], resource: XapiResource, write: boolean): XapiScope | undefined {
  const wanted = scopesFor(resource, write);
  return wanted.find((s) => granted.includes(s));
}
