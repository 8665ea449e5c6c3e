/**
 * Where the package's built files are, whether this code runs from source
 * (vitest) or from the bundled `dist/tipline.js`: walk up to package.json.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'tipline') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the tipline package root');
    dir = parent;
  }
}

/** The browser assets that `npm run build` writes. */
export function publicDir(): string {
  return join(packageRoot(), 'dist', 'public');
}

/** The asset lock `npm run build` writes next to dist/public/ (see crypto/asset-lock.ts). */
export function assetLockFile(): string {
  return join(packageRoot(), 'dist', 'assets.lock.json');
}
