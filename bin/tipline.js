#!/usr/bin/env node
// The `tipline` executable. The TypeScript is bundled into dist/ by `npm run build`
// (which `npm ci` runs through the `prepare` script).
import { accessSync, constants } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = new URL('../dist/tipline.js', import.meta.url);
try {
  accessSync(bundle, constants.R_OK);
} catch (e) {
  // "Not built" and "built, but not readable by this user" (say, dist/ built by root at 0700) need different fixes.
  const where = fileURLToPath(bundle);
  process.stderr.write(
    e.code === 'ENOENT'
      ? 'tipline: the program has not been built yet; run: npm run build\n'
      : `tipline: ${where} is there but this user cannot read it (${e.code}); rebuild it with this version (npm run build), or make it readable: chmod -R a+rX ${fileURLToPath(new URL('../dist', import.meta.url))}\n`,
  );
  process.exit(1);
}
const { main } = await import(bundle.href);
process.exitCode = await main(process.argv.slice(2));
