#!/usr/bin/env node

// Runs the TypeScript sources through tsx in a checkout; a built image (no src/) runs the compiled dist/.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
if (fs.existsSync(path.join(root, 'src', 'cli', 'main.ts'))) {
  // tsx's loader hooks both require() and the import()s that load the report writers lazily.
  import('tsx').then(() => require('../src/cli/main.ts').main(process.argv));
} else {
  require('../dist/src/cli/main.js').main(process.argv);
}
