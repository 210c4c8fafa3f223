#!/usr/bin/env node
'use strict';
// Starts the compiled service (what the production image runs) on a fresh embedded database, checks /health and
// /ready and one page asset, then stops it with SIGTERM. Run after `npm run build` (CI does).
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-dist-'));
const port = 39000 + Math.floor(Math.random() * 1000);
const entry = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
const child = spawn(process.execPath, ['-e', `require(${JSON.stringify(entry)}).main(['node', 'socle', 'serve'])`], {
  env: { PATH: process.env.PATH, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' },
  stdio: 'inherit',
});

async function check() {
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 120; i++) {
    try {
      const ready = await fetch(`${base}/ready`);
      if (ready.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  for (const route of ['/health', '/ready', '/assets/socle.css', '/assets/socle.js', '/assets/verify.css', '/lti/keys']) {
    const res = await fetch(`${base}${route}`);
    if (!res.ok) throw new Error(`${route} answered ${res.status}`);
  }
}

check().then(
  () => {
    child.kill('SIGTERM');
    child.on('exit', (code) => {
      fs.rmSync(dataDir, { recursive: true, force: true });
      if (code !== 0) {
        process.stderr.write(`compiled service exited with ${code}\n`);
        process.exit(1);
      }
      process.stdout.write('compiled service: /health, /ready, assets and LTI keys answer; stopped cleanly\n');
    });
  },
  (error) => {
    child.kill('SIGKILL');
    process.stderr.write(`compiled service check failed: ${error.message}\n`);
    process.exit(1);
  },
);
