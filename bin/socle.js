#!/usr/bin/env node
'use strict';
// `socle`: runs the compiled dist/ (built at install by `npm run build`, the `prepare` script) when it is complete and
// not older than the sources; else the TypeScript sources through tsx, saying so in one line on stderr. Without src/
// (the production image) it always runs dist/. SOCLE_FROM=source or SOCLE_FROM=dist forces one.
const fs = require('node:fs');
const path = require('node:path');

/** Written by bin/copy-assets.js as the last step of `npm run build`. */
const STAMP = path.join('dist', '.built');
/** What the compiled code is made from: a change in any of these makes dist/ stale. */
const SOURCES = ['src', 'lti', 'xapi-profiles', 'package.json'];

function newestMtime(file) {
  let stat;
  try {
    stat = fs.statSync(file);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = 0; // files only: a folder changes when an editor writes its backup files
  for (const name of fs.readdirSync(file)) newest = Math.max(newest, newestMtime(path.join(file, name)));
  return newest;
}

/** `{ kind: 'dist' }`, or `{ kind: 'source', reason }` with reason `absent` (never built) or `stale` (a source changed since). */
function chooseEntry(root) {
  if (!fs.existsSync(path.join(root, 'src', 'cli', 'main.ts'))) return { kind: 'dist' };
  let built;
  try {
    built = fs.statSync(path.join(root, STAMP)).mtimeMs;
  } catch {
    return { kind: 'source', reason: 'absent' };
  }
  if (!fs.existsSync(path.join(root, 'dist', 'src', 'cli', 'main.js'))) return { kind: 'source', reason: 'absent' };
  const sources = Math.max(...SOURCES.map((name) => newestMtime(path.join(root, name))));
  return sources > built ? { kind: 'source', reason: 'stale' } : { kind: 'dist' };
}

function run() {
  const root = path.join(__dirname, '..');
  const forced = process.env.SOCLE_FROM;
  const entry = forced === 'source' || forced === 'dist' ? { kind: forced } : chooseEntry(root);
  if (entry.kind === 'dist') {
    require('../dist/src/cli/main.js').main(process.argv);
    return;
  }
  if (entry.reason) {
    const why = entry.reason === 'stale' ? 'the build in dist/ is older than the sources' : 'no build in dist/';
    process.stderr.write(`socle: ${why}: running the TypeScript sources (slower start); \`npm run build\` compiles them\n`);
  }
  // tsx's loader hooks both require() and the import()s that load the report writers lazily.
  import('tsx').then(() => require('../src/cli/main.ts').main(process.argv));
}

if (require.main === module) run();
module.exports = { chooseEntry, STAMP, SOURCES };
