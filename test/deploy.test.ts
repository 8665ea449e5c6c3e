/**
 * What an admin deploys besides the code: the sample torrc (checked by Tor
 * itself), the Dockerfile and .dockerignore (checked without a Docker engine,
 * which this machine lacks: parsed, and their build context built for real),
 * and the /healthz route the image's HEALTHCHECK calls.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { constants, existsSync } from 'node:fs';
import { access, copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../cli/paths.ts';
import { dockerignoreFilter, keyValues, parseDockerfile, type Stage } from './helpers/docker-files.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestNewsroom } from './helpers/newsroom.ts';

const run = promisify(execFile);
const root = packageRoot();
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tipline-deploy-'));
});
afterAll(async () => rm(scratch, { recursive: true, force: true }));

/** Debian installs tor in /usr/sbin, which a non-root PATH may lack. */
async function findTor(): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/bin'];
  for (const d of dirs) {
    const candidate = join(d, 'tor');
    if (await access(candidate, constants.X_OK).then(() => true, () => false)) return candidate;
  }
  return undefined;
}

describe('deploy/torrc', () => {
  it('is a v3 onion service in front of tipline serve, with PoW defenses and safe logging', async () => {
    const lines = (await readFile(join(root, 'deploy/torrc'), 'utf8')).split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const directive of [
      /^HiddenServiceDir \/var\/lib\/tor\/tipline\/$/,
      /^HiddenServiceVersion 3$/,
      // tipline serve's defaults: 127.0.0.1:8080 (server/config.ts).
      /^HiddenServicePort 80 127\.0\.0\.1:8080$/,
      /^HiddenServicePoWDefensesEnabled 1$/,
      /^SafeLogging 1$/,
      /^SocksPort 0$/,
    ]) {
      expect(lines.filter((l) => directive.test(l)), String(directive)).toHaveLength(1);
    }
  });

  it('passes tor --verify-config (and a typo would not)', async () => {
    const tor = await findTor();
    if (!tor) throw new Error('tor is not installed: .ci/run installs it (apt-get install -y tor); on a dev machine run that yourself');
    // The shipped paths need Debian's root-owned /var/lib/tor: point them at private temporary folders.
    const dir = join(scratch, 'tor');
    await mkdir(join(dir, 'data'), { recursive: true, mode: 0o700 });
    const shipped = await readFile(join(root, 'deploy/torrc'), 'utf8');
    const copy = shipped
      .replace(/^DataDirectory .*$/m, `DataDirectory ${join(dir, 'data')}`)
      .replace(/^HiddenServiceDir .*$/m, `HiddenServiceDir ${join(dir, 'hs')}/`);
    expect(copy).not.toBe(shipped);
    await writeFile(join(dir, 'torrc'), copy);
    // --verify-config only parses and checks; it never connects to the Tor network.
    const ok = await run(tor, ['--verify-config', '-f', join(dir, 'torrc')]).catch((e: { stdout: string }) => e);
    expect(ok.stdout).toContain('Configuration was valid');

    await writeFile(join(dir, 'typo'), copy.replace('HiddenServicePoWDefensesEnabled', 'HiddenServicePoWDefenceEnabled'));
    const bad = await run(tor, ['--verify-config', '-f', join(dir, 'typo')]).then(
      () => undefined,
      (e: { stdout: string }) => e,
    );
    expect(bad?.stdout).toContain('Unknown option');
  });

  // Exactly as Debian's tor.service checks /etc/tor/torrc before it starts: as
  // root, on top of Debian's defaults, with the real /var/lib/tor.
  const debianDefaults = '/usr/share/tor/tor-service-defaults-torrc';
  const asDebianRuns = process.getuid?.() === 0 && existsSync(debianDefaults) && existsSync('/var/lib/tor');
  it.runIf(asDebianRuns)('the shipped file, unchanged, passes with Debian\'s tor service defaults (runs as root only)', async () => {
    const tor = (await findTor())!;
    const { stdout } = await run(tor, ['--defaults-torrc', debianDefaults, '-f', join(root, 'deploy/torrc'), '--verify-config']);
    expect(stdout).toContain('Configuration was valid');
  });
});

describe('Dockerfile', () => {
  let stages: Stage[];
  let dockerfile: string;
  beforeAll(async () => {
    dockerfile = await readFile(join(root, 'Dockerfile'), 'utf8');
    stages = parseDockerfile(dockerfile);
  });
  const all = (s: Stage, keyword: string) => s.instructions.filter((i) => i.keyword === keyword);

  it('is multi-stage from a slim Node 20 image pinned by tag', () => {
    const globalArgs = Object.fromEntries(all(stages[0]!, 'ARG').flatMap((i) => keyValues(i.args)));
    const built = stages.slice(1);
    expect(built.length).toBeGreaterThanOrEqual(2);
    for (const s of built) {
      const image = s.from.replace(/^\$\{?(\w+)\}?$/, (_, name: string) => globalArgs[name] ?? '');
      expect(image).toMatch(/^node:20\.\d+\.\d+-[a-z]+-slim(@sha256:[0-9a-f]{64})?$/);
    }
  });

  it('builds better-sqlite3 natively, builds, then drops dev dependencies', () => {
    const build = stages[1]!;
    const runs = all(build, 'RUN').map((i) => i.args).join('\n');
    expect(runs).toMatch(/apt-get install[^\n]*python3[^\n]*make[^\n]*g\+\+/);
    const at = (re: RegExp) => runs.search(re);
    expect(at(/npm ci/)).toBeGreaterThanOrEqual(0);
    expect(at(/npm run build/)).toBeGreaterThan(at(/npm ci/));
    expect(at(/npm prune --omit=dev/)).toBeGreaterThan(at(/npm run build/));
  });

  it('runs as an unprivileged user with a /data volume, a HEALTHCHECK on /healthz, and no secrets', async () => {
    const runtime = stages.at(-1)!;
    const users = all(runtime, 'USER');
    expect(users).toHaveLength(1);
    expect(users[0]!.args).toMatch(/^[1-9]\d{3,}(:[1-9]\d{3,})?$/); // numeric, so "runAsNonRoot" checks can see it
    // Set after the last RUN, so nothing the image runs later runs as root.
    const lastRun = runtime.instructions.map((i) => i.keyword).lastIndexOf('RUN');
    expect(runtime.instructions.indexOf(users[0]!)).toBeGreaterThan(lastRun);
    expect(all(runtime, 'VOLUME').map((i) => i.args).join(' ')).toContain('/data');
    const env = Object.fromEntries(all(runtime, 'ENV').flatMap((i) => keyValues(i.args)));
    expect(env.TIPLINE_DATA).toBe('/data');
    const health = all(runtime, 'HEALTHCHECK');
    expect(health).toHaveLength(1);
    const script = /"(\/app\/deploy\/[\w.-]+\.mjs)"/.exec(health[0]!.args)![1]!;
    expect(await readFile(join(root, script.replace('/app/', '')), 'utf8')).toContain('/healthz');

    for (const s of stages) {
      for (const i of [...all(s, 'ENV'), ...all(s, 'ARG')]) {
        for (const [name, value] of keyValues(i.args)) {
          expect(name, `line ${i.line}`).not.toMatch(/secret|token|passw|passphrase|private|credential|signing|_key$/i);
          expect(value, `line ${i.line}`).not.toMatch(/BEGIN PGP|tl_[A-Za-z0-9_-]{20}/);
        }
      }
    }
    expect(dockerfile).not.toMatch(/^\s*COPY[^\n]*(\.key|\.asc|data\/|tipline\.db)/im);
  });

  it('copies only files that exist and that .dockerignore lets in; tests, data and secrets stay out', async () => {
    const inContext = dockerignoreFilter(await readFile(join(root, '.dockerignore'), 'utf8'));
    for (const out of ['test/deploy.test.ts', 'data/tipline.db', 'node_modules/hono/package.json', '.git/HEAD', 'dist/tipline.js', 'newsroom.key', 'server/x.key', 'server/y.db', 'README.md', '.ci/run']) {
      expect(inContext(out), out).toBe(false);
    }
    for (const s of stages) {
      for (const copy of all(s, 'COPY').filter((i) => !i.args.startsWith('--from'))) {
        const sources = copy.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1);
        for (const source of sources) {
          const path = source.replace(/\/$/, '');
          await expect(access(join(root, path)), `COPY ${source} (line ${copy.line})`).resolves.toBeUndefined();
          expect(inContext(path), `COPY ${source} is excluded by .dockerignore`).toBe(true);
        }
      }
    }
  });

  it('its build context builds, and the runtime layout serves /healthz to the HEALTHCHECK script', async () => {
    // The build stage, without Docker: copy what the build stage COPYs (as
    // .dockerignore filters it) and run the same build there.
    const inContext = dockerignoreFilter(await readFile(join(root, '.dockerignore'), 'utf8'));
    const context = join(scratch, 'context');
    const build = stages[1]!;
    const sources = all(build, 'COPY').flatMap((i) => i.args.split(/\s+/).filter((a) => !a.startsWith('--')).slice(0, -1));
    const copyIn = async (rel: string): Promise<void> => {
      if (!inContext(rel)) return;
      const entries = await readdir(join(root, rel), { withFileTypes: true }).catch(() => undefined);
      if (!entries) {
        await mkdir(dirname(join(context, rel)), { recursive: true });
        await copyFile(join(root, rel), join(context, rel));
        return;
      }
      for (const e of entries) await copyIn(`${rel}/${e.name}`);
    };
    for (const s of sources) await copyIn(s.replace(/\/$/, ''));
    await symlink(join(root, 'node_modules'), join(context, 'node_modules'));
    await run(process.execPath, [join(context, 'build.mjs')], { cwd: context });

    // The runtime stage's layout: package.json, node_modules, bin, dist and the health check.
    const app = join(scratch, 'app');
    await mkdir(join(app, 'deploy'), { recursive: true });
    for (const part of ['package.json', 'bin', 'dist']) await cp(join(context, part), join(app, part), { recursive: true });
    await symlink(join(root, 'node_modules'), join(app, 'node_modules'));
    await copyFile(join(root, 'deploy/healthcheck.mjs'), join(app, 'deploy/healthcheck.mjs'));

    // Everything the server bundle imports must survive `npm prune --omit=dev`.
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
    const bundle = await readFile(join(app, 'dist/tipline.js'), 'utf8');
    const statics = [...bundle.matchAll(/(?:^|\n)import\s(?:[^;]*?\sfrom\s*)?["']([^"']+)["'];/g)];
    const dynamics = [...bundle.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)];
    const imported = new Set([...statics, ...dynamics].map((m) => m[1]!).filter((s) => !s.startsWith('node:') && !s.startsWith('.')));
    expect(imported).toContain('better-sqlite3');
    for (const spec of imported) {
      const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!;
      expect(Object.keys(pkg.dependencies), `${spec} is imported at run time`).toContain(name);
    }

    const data = join(scratch, 'volume');
    const env = { ...process.env, TIPLINE_DATA: data, HOST: '127.0.0.1', PORT: String(await freePort()) };
    await run(process.execPath, [join(app, 'bin/tipline.js'), 'admin', 'init', '--data', data, '--signing-key', join(scratch, 'offline.key')], { env });
    const health = () =>
      new Promise<number>((resolve) => spawn(process.execPath, [join(app, 'deploy/healthcheck.mjs')], { env, stdio: 'ignore' }).on('exit', (code) => resolve(code ?? -1)));
    expect(await health()).toBe(1); // nothing listening yet

    // As the image's ENTRYPOINT + CMD do: `tipline serve`, configured by the environment alone.
    const server = spawn(process.execPath, [join(app, 'bin/tipline.js'), 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        let output = '';
        const timer = setTimeout(() => reject(new Error(`server did not start: ${output}`)), 15_000);
        const seen = (d: Buffer) => {
          output += d;
          if (output.includes('listening on')) {
            clearTimeout(timer);
            resolve();
          }
        };
        server.stdout!.on('data', seen);
        server.stderr!.on('data', seen);
      });
      expect(await health()).toBe(0);
    } finally {
      await new Promise<void>((resolve) => {
        server.once('exit', () => resolve());
        server.kill('SIGTERM');
      });
    }
  });
});

describe('GET /healthz', () => {
  let newsroom: TestNewsroom;
  beforeAll(async () => {
    newsroom = await makeNewsroom();
    await addTestJournalist(newsroom, 'Ana');
  });
  afterAll(async () => newsroom.cleanup());

  it('answers {"status":"ok"} and nothing else, with the usual security headers', async () => {
    const t = await openTestApp(newsroom);
    try {
      const res = await t.app.request('/healthz');
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('{"status":"ok"}');
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(res.headers.get('server')).toBeNull();
      expect(t.logs).toEqual([]); // not a journalist route: no line (request-logger.ts)
    } finally {
      await t.close();
    }
  });

  it('answers 503 when the database is gone', async () => {
    const t = await openTestApp(newsroom);
    await t.close();
    const res = await t.app.request('/healthz');
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ status: 'unavailable' });
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
