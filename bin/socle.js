#!/usr/bin/env node

// Runs the TypeScript sources through tsx in a checkout; a built image (no src/) runs the compiled dist/.
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
let cli;
if (fs.existsSync(path.join(root, 'src', 'cli', 'main.ts'))) {
  require('tsx/cjs');
  cli = require('../src/cli/main.ts');
} else {
  cli = require('../dist/src/cli/main.js');
}
cli.main(process.argv);
