import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { parse } from 'yaml';
import { configVariables, parseEnv } from '../../src/config';

const docker = path.join(__dirname, '..', '..', 'docker');
const root = path.join(docker, '..');

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string | number>;
  depends_on?: Record<string, { condition: string }>;
  networks?: Record<string, { aliases?: string[] }>;
}

/** `docker compose` (the plugin) or `docker-compose`, whichever this machine has; undefined when neither runs. */
function composeCommand(): string[] | undefined {
  for (const command of [['docker', 'compose'], ['docker-compose']]) {
    const [bin = '', ...args] = command;
    if (spawnSync(bin, [...args, 'version'], { encoding: 'utf8' }).status === 0) return command;
  }
  return undefined;
}

describe('docker compose file (no Docker engine runs here: its content is checked instead)', () => {
  const compose = parse(fs.readFileSync(path.join(docker, 'compose.yaml'), 'utf8')) as { services: Record<string, ComposeService> };

  it('wires Socle, PostgreSQL, Moodle and an LRS', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['lrs', 'moodle', 'postgres', 'socle']);
    const socle = compose.services.socle;
    expect(socle?.build).toEqual({ context: '..', dockerfile: 'docker/Dockerfile' });
    expect(fs.existsSync(path.join(docker, socle?.build?.context ?? '', socle?.build?.dockerfile ?? ''))).toBe(true);
    expect(socle?.depends_on?.postgres?.condition).toBe('service_healthy');
    expect(socle?.environment?.LRS_ENDPOINT).toBe('http://lrs:8080/xapi');
  });

  it("gives Socle only variables its configuration knows, with values it accepts", () => {
    const env = Object.fromEntries(
      Object.entries(compose.services.socle?.environment ?? {}).map(([k, v]) => [
        k,
        // Interpolate ${VAR:-default} with its default, ${VAR:?…} with a valid secret.
        String(v).replace(/\$\{(\w+):([-?])([^}]*)\}/g, (_m, _name, op, rest) => (op === '-' ? rest : 's'.repeat(40))),
      ]),
    );
    expect(() => parseEnv(env)).not.toThrow();
    for (const key of Object.keys(env)) expect(configVariables).toContain(key);
  });

  it('pins every image to an exact release tag', () => {
    const images = Object.values(compose.services).flatMap((service) => (service.image ? [service.image] : []));
    expect(images.sort()).toEqual(['erseco/alpine-moodle:v4.5.12', 'postgres:16.13-bookworm', 'yetanalytics/lrsql:v0.9.6']);
    for (const image of images) expect(image).toMatch(/:v?\d+\.\d+(\.\d+)?(-[\w.]+)?$/);
  });

  it('lets Moodle and Socle reach each other at the URLs the browser uses', () => {
    const host = (url: unknown) => new URL(String(url)).hostname;
    const aliases = (name: string) => compose.services[name]?.networks?.default?.aliases ?? [];
    const publicUrl = compose.services.socle?.environment?.PUBLIC_URL;
    const wwwroot = compose.services.moodle?.environment?.SITE_URL;
    expect(aliases('socle')).toContain(host(publicUrl));
    expect(aliases('moodle')).toContain(host(wwwroot));
    // curl (Moodle's HTTP client) sends every *.localhost name to its own loopback: such a name cannot reach Socle.
    for (const url of [publicUrl, wwwroot]) expect(host(url)).not.toMatch(/(^|\.)localhost$/);
    // One site for both (same-site LTI cookies): the last two labels agree.
    const site = (url: unknown) => host(url).split('.').slice(-2).join('.');
    expect(site(publicUrl)).toBe(site(wwwroot));
    // The log store points at Socle's xAPI resource under its public URL.
    expect(String(compose.services.moodle?.environment?.POST_CONFIGURE_COMMANDS)).toContain(`--name=endpoint --set=${publicUrl}/xapi`);
    expect(String(compose.services.moodle?.environment?.PLUGINS)).toMatch(/^logstore_xapi=https:\/\/github\.com\/xAPI-vle\/moodle-logstore_xapi\/releases\/download\/v[\d.]+\/xapi\.zip$/);
  });

  const composeCli = composeCommand();
  (composeCli ? it : it.skip)(`is valid for ${composeCli?.join(' ') ?? 'docker compose (not installed here: skipped)'}`, () => {
    const [bin = '', ...args] = composeCli ?? [];
    const result = spawnSync(bin, [...args, '-f', path.join(docker, 'compose.yaml'), 'config', '-q'], {
      env: { PATH: process.env.PATH, LTI_KEY: 's'.repeat(40) },
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('creates the databases the services use', () => {
    const init = fs.readFileSync(path.join(docker, 'postgres-init.sql'), 'utf8');
    for (const db of ['socle', 'moodle', 'lrsql']) expect(init).toContain(`CREATE DATABASE ${db} OWNER ${db};`);
    expect(compose.services.moodle?.environment?.DB_NAME).toBe('moodle');
    expect(compose.services.lrs?.environment?.LRSQL_DB_NAME).toBe('lrsql');
  });
});

describe('production image', () => {
  const dockerfile = fs.readFileSync(path.join(docker, 'Dockerfile'), 'utf8');

  it('builds in stages on one exact Node LTS release, runs as a non-root user with a health check on /health', () => {
    const from = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(from).toEqual(['node:24.19.0-bookworm-slim', 'node:24.19.0-bookworm-slim']);
    // The version the image runs is one package.json allows.
    const engines = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node;
    expect(engines).toMatch(/>=22\b/);
    expect(dockerfile).toMatch(/^USER socle$/m);
    expect(dockerfile).toMatch(/HEALTHCHECK[\s\S]*\/health/);
    expect(dockerfile).toContain('npm prune --omit=dev');
  });

  it('copies only what exists in the repository', () => {
    for (const match of dockerfile.matchAll(/^COPY (?!--from)(.+) (\S+)$/gm)) {
      for (const source of (match[1] ?? '').split(' ')) expect(fs.existsSync(path.join(root, source))).toBe(true);
    }
  });

  it('has an entry point that runs socle commands, serve by default', () => {
    const help = spawnSync(path.join(docker, 'entrypoint.sh'), ['--help'], {
      env: { PATH: process.env.PATH, SOCLE_HOME: root },
      encoding: 'utf8',
    });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('serve');
    const bad = spawnSync(path.join(docker, 'entrypoint.sh'), [], {
      env: { PATH: process.env.PATH, SOCLE_HOME: root, PORT: 'abc' },
      encoding: 'utf8',
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain('PORT');
  });
});
