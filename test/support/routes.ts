import type { Express } from 'express';

interface Layer {
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle: { stack?: Layer[]; _router?: { stack: Layer[] } };
  regexp: RegExp & { fast_slash?: boolean };
}

/** The path a router is mounted on, from express 4's mount regexp (`^\/api\/v1\/reports\/?(?=\/|$)`). */
function mountPath(layer: Layer): string {
  if (layer.regexp.fast_slash) return '';
  const match = /^\^((?:\\\/[\w.-]+)+)\\\/\?\(\?=\\\/\|\$\)$/.exec(layer.regexp.source);
  if (!match?.[1]) throw new Error(`cannot read the mount path of ${layer.regexp}`);
  return match[1].replace(/\\\//g, '/');
}

function walk(stack: Layer[], prefix: string): string[] {
  return stack.flatMap((layer) => {
    if (layer.route) {
      const paths = ([] as string[]).concat(layer.route.path);
      return paths.flatMap((p) =>
        Object.keys(layer.route?.methods ?? {}).map((m) => `${m === '_all' ? 'ALL' : m.toUpperCase()} ${prefix}${p.replace(/:(\w+)/g, '{$1}')}`),
      );
    }
    const inner = layer.handle.stack ?? layer.handle._router?.stack;
    return inner ? walk(inner, prefix + mountPath(layer)) : [];
  });
}

const stackOf = (app: Express) => (app as Express & { _router: { stack: Layer[] } })._router.stack;

/**
 * Every route of the express app as `METHOD /path/{param}`, mounted routers included; a route that takes every
 * method (`app.all`, as ltijs declares its own) is `ALL /path`. Express apps mounted with `app.use(path, subApp)`
 * hide their router behind a closure: pass them in `mounted` (`{ '/lti': ltiApp }`) to list theirs too.
 */
export function appRoutes(app: Express, mounted: Record<string, Express> = {}): string[] {
  return [...walk(stackOf(app), ''), ...Object.entries(mounted).flatMap(([prefix, sub]) => walk(stackOf(sub), prefix))];
}
