#!/usr/bin/env node
// The `tipline` executable. The TypeScript is bundled into dist/ by `npm run build`
// (which `npm ci` runs through the `prepare` script).
import { existsSync } from 'node:fs';

const bundle = new URL('../dist/tipline.js', import.meta.url);
if (!existsSync(bundle)) {
  process.stderr.write('tipline: the program has not been built yet; run: npm run build\n');
  process.exit(1);
}
const { main } = await import(bundle.href);
process.exitCode = await main(process.argv.slice(2));
