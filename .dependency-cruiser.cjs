// The layers of src/, bottom to top, written once (docs/CONTRIBUTING.md and ../shared/ARCHITECTURE.md describe
// them): a module may import from its own layer or the layers below it, never from above; no import circles;
// the browser-safe layers import no Node built-in and not the native backend.
const LAYERS = [
  ['backend', 'rng.ts', 'util'],
  ['distributions', 'nn', 'data', 'stats', 'codec'],
  ['models'],
  ['objectives'],
  ['train'],
  ['eval', 'tasks'],
  ['io'],
  ['cli', 'serve'],
  ['index.ts', 'browser.ts', 'node.ts'],
];
const BROWSER_SAFE = ['distributions', 'nn', 'models', 'objectives', 'stats', 'codec', 'tasks'];

const path = (names) => `^src/(${names.map((n) => n.replace('.', '\\.')).join('|')})($|/)`;
const upward = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `no-upward-from-${layer[0]}`,
  comment: `${layer.join(', ')} may import only from layers at or below it (${LAYERS.slice(0, i + 1)
    .flat()
    .join(', ')})`,
  severity: 'error',
  from: { path: path(layer) },
  to: { path: path(LAYERS.slice(i + 1).flat()) },
}));

module.exports = {
  forbidden: [
    ...upward,
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'browser-safe-no-node',
      comment: `${BROWSER_SAFE.join(', ')} must bundle for a browser: no Node built-ins`,
      severity: 'error',
      from: { path: path(BROWSER_SAFE) },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'browser-safe-no-native',
      comment: 'only the Node entry (src/backend/index.ts) loads the native backend',
      severity: 'error',
      from: { path: path(BROWSER_SAFE) },
      to: { path: '^src/backend/native' },
    },
    {
      name: 'no-unresolvable',
      comment: 'every import resolves (tfjs-node is the one optional peer, tried at run time)',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true, pathNot: '^@tensorflow/tfjs-node$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
