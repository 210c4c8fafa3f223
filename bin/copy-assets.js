#!/usr/bin/env node
'use strict';
// Copies what tsc does not emit (SQL migrations, data files, templates, static assets) from src/ and lti/ into dist/.
const fs = require('node:fs');
const path = require('node:path');

const { STAMP } = require('./socle');

const root = path.join(__dirname, '..');
const keep = /\.(sql|json|jsonld|eta|css|svg|png|woff2?|ttf|txt)$/;

function copy(dir) {
  for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const rel = path.join(dir, entry.name);
    if (entry.isDirectory()) copy(rel);
    else if (keep.test(entry.name) || (path.basename(dir) === 'assets' && entry.name.endsWith('.js'))) {
      fs.mkdirSync(path.join(root, 'dist', dir), { recursive: true });
      fs.copyFileSync(path.join(root, rel), path.join(root, 'dist', rel));
    }
  }
}

for (const dir of ['src', 'lti', 'xapi-profiles']) if (fs.existsSync(path.join(root, dir))) copy(dir);
fs.copyFileSync(path.join(root, 'package.json'), path.join(root, 'dist', 'package.json'));
// Last: bin/socle.js runs dist/ only when this stamp is newer than every source.
fs.writeFileSync(path.join(root, STAMP), `${new Date().toISOString()}\n`);
