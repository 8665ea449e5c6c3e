/**
 * Serves the built browser assets from memory. Files are read once at start-up
 * into a map, so a request path is only ever a map key: no path ever reaches
 * the filesystem, and nothing like `../` can escape.
 *
 * @example
 * const files = await loadStaticFiles('dist/public');
 * app.get('/static/*', serveStatic(files));
 */
import { readdir, readFile } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import type { Handler } from 'hono';

export type StaticFile = { body: Uint8Array; type: string };
export type StaticFiles = Map<string, StaticFile>;

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
};

export async function loadStaticFiles(dir: string): Promise<StaticFiles> {
  const files: StaticFiles = new Map();
  async function walk(d: string): Promise<void> {
    for (const entry of await readdir(d, { withFileTypes: true })) {
      const full = join(d, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile() && TYPES[extname(entry.name)]) {
        files.set(relative(dir, full).split(sep).join('/'), { body: new Uint8Array(await readFile(full)), type: TYPES[extname(entry.name)]! });
      }
    }
  }
  await walk(dir);
  return files;
}

export function serveStatic(files: StaticFiles, prefix = '/static/'): Handler {
  return function serveStaticFile(c) {
    const file = files.get(c.req.path.slice(prefix.length));
    if (!file) return c.notFound();
    return c.body(file.body as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': file.type });
  };
}
