// Builds everything `tipline` needs, deterministically:
// - dist/public/: the source's browser code (client/source), with openpgp.js's lightweight build;
// - dist/tipline.js: the CLI and server, with npm packages left external.
import { build } from 'esbuild';
import { cp, mkdir, rm } from 'node:fs/promises';

const here = new URL('.', import.meta.url).pathname;

export async function buildAll({ quiet = false } = {}) {
  await rm(`${here}dist`, { recursive: true, force: true });
  await mkdir(`${here}dist/public`, { recursive: true });
  await build({
    absWorkingDir: here,
    entryPoints: ['client/source/page.ts'],
    outdir: 'dist/public',
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
    logLevel: quiet ? 'error' : 'warning',
  });
  await cp(`${here}client/source/style.css`, `${here}dist/public/style.css`);
  await cp(`${here}client/source/favicon.svg`, `${here}dist/public/favicon.svg`);
  await build({
    absWorkingDir: here,
    entryPoints: ['server/cli/main.ts'],
    outfile: 'dist/tipline.js',
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: quiet ? 'error' : 'warning',
  });
  await build({
    absWorkingDir: here,
    entryPoints: ['scripts/weigh.ts', 'scripts/login-timing.ts'],
    outdir: 'dist',
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    packages: 'external',
    logLevel: quiet ? 'error' : 'warning',
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await buildAll();
}
