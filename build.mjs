// Builds everything `tipline` needs, deterministically (the same sources and
// package-lock.json give byte-identical files, wherever and whenever they are built):
// - dist/public/: the source's browser code (client/source), with openpgp.js's lightweight build;
// - dist/assets.lock.json: what a source's browser may load, for `tipline verify` (scripts/asset-lock.ts);
// - dist/tipline.js: the CLI and server, with npm packages left external;
// - dist/tipline-journalist.mjs: the journalist tool in one file, every package bundled in
//   (runs with Node ≥ 20 alone, no node_modules), and its SHA-256 in tipline-journalist.mjs.sha256.
// Nothing here reads the clock or the machine: esbuild's output depends only on
// its inputs, chunk names are content hashes, and the lock is sorted.
import { build } from 'esbuild';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const here = new URL('.', import.meta.url).pathname;

/**
 * @param {{ quiet?: boolean, outDir?: string }} [options] outDir: where to build (default: dist/ here);
 *   whatever was there is replaced.
 */
export async function buildAll({ quiet = false, outDir = `${here}dist` } = {}) {
  const target = resolve(here, outDir);
  // Built beside the target and swapped in whole at the end, so whoever reads the
  // target meanwhile (a server starting, a test run, another build) never sees half a build.
  await mkdir(dirname(target), { recursive: true });
  const staging = await mkdtemp(join(dirname(target), `.${basename(target)}.building-`));
  try {
    await buildInto(staging, quiet ? 'error' : 'warning');
    // mkdtemp makes it 0700: then a build by root (npm ci) would leave dist/ unreadable to the
    // service user (Deploy 2a's `sudo -u tipline tipline serve`). Build output is public code.
    await makeWorldReadable(staging);
    await swapIn(staging, target);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function buildInto(out, logLevel) {
  await mkdir(`${out}/public`, { recursive: true });
  await build({
    absWorkingDir: here,
    // page.js, which every page loads, and the workers that encrypt attachment segments (client/source/segment-encryptor.ts).
    entryPoints: ['client/source/page.ts', 'client/source/segment-worker.ts'],
    outdir: `${out}/public`,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020', 'firefox115', 'chrome110'],
    minify: true,
    legalComments: 'none',
    chunkNames: 'chunks/[name]-[hash]',
    // The lightweight build loads its rarely-used algorithms lazily, keeping the page small.
    alias: { openpgp: 'openpgp/lightweight' },
    conditions: ['browser'],
    logLevel,
  });
  await cp(`${here}client/source/style.css`, `${out}/public/style.css`);
  await cp(`${here}client/source/favicon.svg`, `${out}/public/favicon.svg`);
  await writeLock(out, logLevel);
  // The CLI and the Node scripts, in one pass: npm packages stay external.
  await build({
    absWorkingDir: here,
    entryPoints: {
      tipline: 'cli/main.ts',
      weigh: 'scripts/weigh.ts',
      'login-timing': 'scripts/login-timing.ts',
      'pow-timing': 'scripts/pow-timing.ts',
      // Not in the Docker image's context (.dockerignore): the benchmarks import test helpers.
      ...(existsSync(`${here}scripts/bench/main.ts`) ? { 'bench/main': 'scripts/bench/main.ts', 'bench/serve-target': 'scripts/bench/serve-target.ts' } : {}),
    },
    outdir: out,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel,
  });
  await buildJournalistBundle(out, logLevel);
}

/**
 * dist/tipline-journalist.mjs: for a journalist's laptop or offline machine,
 * where there is no checkout and `npx tipline` would fetch whatever npm
 * package has that name. Everything is bundled; the require shim lets the
 * CommonJS packages inside load Node's built-in modules.
 */
async function buildJournalistBundle(out, logLevel) {
  const file = `${out}/tipline-journalist.mjs`;
  await build({
    absWorkingDir: here,
    entryPoints: ['cli/journalist-bundle.ts'],
    outfile: file,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    legalComments: 'eof',
    banner: { js: "#!/usr/bin/env node\nimport { createRequire as __tiplineCreateRequire } from 'node:module';\nconst require = __tiplineCreateRequire(import.meta.url);" },
    logLevel,
  });
  const digest = createHash('sha256').update(await readFile(file)).digest('hex');
  // The format sha256sum -c reads.
  await writeFile(`${file}.sha256`, `${digest}  tipline-journalist.mjs\n`);
}

/** Folders 0755, files 0644 (the bundle 0755: it is run directly), whatever the umask of whoever builds. */
async function makeWorldReadable(dir) {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await makeWorldReadable(path);
    else await chmod(path, entry.name === 'tipline-journalist.mjs' ? 0o755 : 0o644);
  }
}

/** Replaces `target` with `staging` by renames; retried if a concurrent build swaps in first. */
async function swapIn(staging, target) {
  for (let attempt = 0; ; attempt++) {
    const old = `${staging}.old`;
    await rename(target, old).catch((e) => {
      if (e.code !== 'ENOENT') throw e;
    });
    try {
      await rename(staging, target);
      await rm(old, { recursive: true, force: true });
      return;
    } catch (e) {
      await rm(old, { recursive: true, force: true });
      if (attempt >= 5 || (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST')) throw e;
    }
  }
}

/**
 * Writes assets.lock.json. The lock is made by TypeScript shared with the
 * server (its static-file loader and page views), so it is bundled, whole, into
 * a throwaway file outside the output and run from there.
 */
async function writeLock(out, logLevel) {
  const { version } = JSON.parse(await readFile(`${here}package.json`, 'utf8'));
  const scratch = await mkdtemp(join(tmpdir(), 'tipline-build-'));
  try {
    const script = join(scratch, 'asset-lock.mjs');
    await build({
      absWorkingDir: here,
      entryPoints: ['scripts/asset-lock.ts'],
      outfile: script,
      bundle: true,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      logLevel,
    });
    const { writeAssetLock } = await import(pathToFileURL(script).href);
    await writeAssetLock({ publicDir: `${out}/public`, lockFile: `${out}/assets.lock.json`, release: version });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildAll();
}
