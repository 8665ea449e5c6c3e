/**
 * A real PostgreSQL for the tests: vitest's global setup starts a throwaway
 * cluster (initdb in a temporary folder, listening on 127.0.0.1 only, on a
 * free port) and stops it after the run; test files make their own databases
 * in it (postgres.ts).
 *
 * - `TIPLINE_TEST_DATABASE_URL` (a superuser URL) uses a server that is
 *   already running instead.
 * - PostgreSQL refuses to run as root: as root the cluster belongs to the
 *   `postgres` user (Debian's package makes it) and runs through runuser.
 * - Without PostgreSQL installed the PostgreSQL suites skip and say why,
 *   except under CI=true, where the setup fails instead: CI must never pass
 *   without having run them.
 * - A watchdog stops the cluster if the test run dies without its teardown.
 *
 * @example
 * const { status, stop } = await startTestPostgres(); // status.url, or status.reason
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type PostgresStatus = { url: string; reason?: undefined } | { url?: undefined; reason: string };

/** For the global setup: the server the tests use, and how to stop it. */
export async function startTestPostgres(): Promise<{ status: PostgresStatus; stop: () => Promise<void> }> {
  const given = process.env.TIPLINE_TEST_DATABASE_URL;
  if (given) return { status: { url: given }, stop: async () => {} };
  const bin = await findPostgresBin();
  if (!bin) {
    const reason = "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): install Debian's postgresql package, or set TIPLINE_TEST_DATABASE_URL";
    if (process.env.CI === 'true') throw new Error(`the PostgreSQL suites cannot run under CI: ${reason}`);
    return { status: { reason }, stop: async () => {} };
  }
  const root = await mkdtemp(join(tmpdir(), 'tipline-pg-'));
  const asRoot = process.getuid?.() === 0;
  const as = (command: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', command, ...args]) : run(command, args));
  const password = randomBytes(18).toString('hex');
  await writeFile(join(root, 'password'), `${password}\n`, { mode: 0o600 });
  if (asRoot) {
    const [uid, gid] = await Promise.all([run('id', ['-u', 'postgres']), run('id', ['-g', 'postgres'])]).then((r) => r.map((x) => Number(x.stdout)));
    await chown(root, uid!, gid!);
    await chown(join(root, 'password'), uid!, gid!);
  }
  const data = join(root, 'data');
  const port = await freePort();
  const pgCtl = join(bin, 'pg_ctl');
  try {
    await as(join(bin, 'initdb'), ['-D', data, '-U', 'tipline_test', `--pwfile=${join(root, 'password')}`, '--auth-host=scram-sha-256', '--auth-local=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
    // -F: no fsync, a throwaway cluster (tipline admin doctor reports that as an error, which a test checks).
    await as(pgCtl, ['-D', data, '-l', join(root, 'log'), '-w', '-t', '60', '-o', `-k ${root} -h 127.0.0.1 -p ${port} -F -c max_connections=300`, 'start']);
  } catch (e) {
    await rm(root, { recursive: true, force: true });
    throw new Error(`could not start a test PostgreSQL: ${(e as Error).message}`);
  }
  const stopCommand = asRoot ? `runuser -u postgres -- ${pgCtl}` : pgCtl;
  // If this process dies without its teardown, the cluster must not outlive it.
  const watchdog = spawn('sh', ['-c', `while kill -0 ${process.pid} 2>/dev/null; do sleep 2; done; ${stopCommand} -D '${data}' -m immediate -w stop >/dev/null 2>&1; rm -rf '${root}'`], {
    detached: true,
    stdio: 'ignore',
  });
  watchdog.unref();
  return {
    status: { url: `postgres://tipline_test:${password}@127.0.0.1:${port}/postgres` },
    stop: async () => {
      await as(pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      watchdog.kill();
      await rm(root, { recursive: true, force: true });
    },
  };
}

async function findPostgresBin(): Promise<string | undefined> {
  const versions = await readdir('/usr/lib/postgresql').catch(() => [] as string[]);
  for (const v of versions.sort((a, b) => Number(b) - Number(a))) {
    const bin = `/usr/lib/postgresql/${v}/bin`;
    if ((await readdir(bin).catch(() => [] as string[])).includes('initdb')) return bin;
  }
  return undefined;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

