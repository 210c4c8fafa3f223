import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// bin/socle.js is plain CommonJS run by node: its choice between dist/ and the sources, on a made-up checkout.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { chooseEntry, STAMP } = require('../../bin/socle.js') as { chooseEntry: (root: string) => { kind: string; reason?: string }; STAMP: string };

describe('which code bin/socle.js runs', () => {
  let root: string;
  const write = (rel: string, at: number) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), '');
    fs.utimesSync(path.join(root, rel), at, at);
  };
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'socle-entry-'));
  });
  afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

  it('runs the sources when dist/ was never built, dist/ once built, the sources again when one changes after', () => {
    write('src/cli/main.ts', 1000);
    write('package.json', 1000);
    expect(chooseEntry(root)).toEqual({ kind: 'source', reason: 'absent' });
    write('dist/src/cli/main.js', 2000);
    expect(chooseEntry(root)).toEqual({ kind: 'source', reason: 'absent' });
    write(STAMP, 2000);
    expect(chooseEntry(root)).toEqual({ kind: 'dist' });
    write('lti/runtime.ts', 3000);
    expect(chooseEntry(root)).toEqual({ kind: 'source', reason: 'stale' });
    write(STAMP, 4000);
    write('xapi-profiles/socle.jsonld', 5000);
    expect(chooseEntry(root)).toEqual({ kind: 'source', reason: 'stale' });
  });

  it('runs dist/ where there are no sources (the production image)', () => {
    write('dist/src/cli/main.js', 1000);
    expect(chooseEntry(root)).toEqual({ kind: 'dist' });
  });
});
