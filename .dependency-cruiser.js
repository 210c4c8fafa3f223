// @ts-check
// The dependency rule of docs/architecture.md, checked by `npm run deps` (part of `npm test`).
const FEATURES = '^src/(xapi|alerts|forwarding|mapping|coverage|badges|programmes|reports|gradebook|lms|identity|referentials|privacy|transitions)/';
const INFRA = '^src/(db/|types/|config\\.ts|logger\\.ts|metrics\\.ts|secrets\\.ts|version\\.ts|context\\.ts|worker\\.ts|mail\\.ts)';
const ENTRY = '^(src/(api|cli|app)/|lti/)';

/** Features in layers: a feature imports only features of a lower layer (or its own folder). */
const LAYERS = [
  ['identity', 'referentials'],
  ['lms'],
  ['forwarding'],
  ['badges'],
  ['coverage'],
  ['programmes'],
  ['mapping', 'gradebook', 'reports', 'privacy', 'transitions'],
  ['alerts'],
  ['xapi'],
];
const layerRules = LAYERS.flatMap((names, level) => {
  const above = LAYERS.slice(level).flat().filter((n) => !names.includes(n) || names.length > 1);
  return names.map((name) => ({
    name: `feature-${name}-calls-down`,
    comment: `${name}/ may import only features of a lower layer (docs/architecture.md)`,
    severity: /** @type {const} */ ('error'),
    from: { path: `^src/${name}/` },
    to: { path: `^src/(${above.filter((n) => n !== name).join('|')})/` },
  })).filter((r) => !r.to.path.endsWith('()/'));
});

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'No module imports itself through others.', from: {}, to: { circular: true } },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'src/domain/ imports only itself, zod and node:crypto.',
      from: { path: '^src/domain/' },
      to: { pathNot: ['^src/domain/', '(^|/)node_modules/zod/', '^(node:)?crypto$'] },
    },
    {
      name: 'entry-points-are-independent',
      severity: 'error',
      comment: 'api/, lti/ and cli/ never import each other (cli may use app/, the composition root).',
      from: { path: '^src/api/' },
      to: { path: '^(lti/|src/cli/|src/app/)' },
    },
    { name: 'lti-imports-no-entry-point', severity: 'error', from: { path: '^lti/' }, to: { path: '^src/(api|cli|app)/' } },
    { name: 'cli-imports-no-entry-point', severity: 'error', from: { path: '^src/cli/' }, to: { path: '^(src/api/|lti/)' } },
    {
      name: 'features-import-no-entry-point',
      severity: 'error',
      comment: 'Features, the web toolkit, infrastructure and the domain never import an entry point or app/.',
      from: { path: [FEATURES, INFRA, '^src/domain/', '^src/web/'] },
      to: { path: ENTRY },
    },
    {
      name: 'infrastructure-imports-no-feature',
      severity: 'error',
      from: { path: INFRA, pathNot: '^src/context\\.ts$' },
      to: { path: FEATURES },
    },
    {
      name: 'only-entry-points-import-web',
      severity: 'error',
      comment:
        'Features, the domain and infrastructure never import src/web/ (HTTP, pages, i18n): they throw the coded SocleError of src/domain/errors.ts and entry points present it.',
      from: { path: [FEATURES, INFRA, '^src/domain/'] },
      to: { path: '^src/web/' },
    },
    {
      name: 'context-imports-feature-types-only',
      severity: 'error',
      comment: 'src/context.ts names the services the context carries: types of the features, imported type-only.',
      from: { path: '^src/context\\.ts$' },
      to: { path: FEATURES, dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'web-toolkit-imports-no-feature',
      severity: 'error',
      comment: 'src/web/ (rendering, i18n, the HTTP error table) is shared by the entry points and imports no feature.',
      from: { path: '^src/web/' },
      to: { path: FEATURES },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: ['^src/db/migrations/', '\\.json$'] },
    tsPreCompilationDeps: true,
    preserveSymlinks: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
