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

  it('creates the databases the services use', () => {
    const init = fs.readFileSync(path.join(docker, 'postgres-init.sql'), 'utf8');
    for (const db of ['socle', 'moodle', 'lrsql']) expect(init).toContain(`CREATE DATABASE ${db} OWNER ${db};`);
    expect(compose.services.moodle?.environment?.MOODLE_DATABASE_NAME).toBe('moodle');
    expect(compose.services.lrs?.environment?.LRSQL_DB_NAME).toBe('lrsql');
  });
});

describe('production image', () => {
  const dockerfile = fs.readFileSync(path.join(docker, 'Dockerfile'), 'utf8');

  it('builds in stages, runs as a non-root user with a health check on /health', () => {
    expect(dockerfile.match(/^FROM node:20/gm)).toHaveLength(2);
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
