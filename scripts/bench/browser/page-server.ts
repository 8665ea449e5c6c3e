/**
 * Bundles browser/encrypt-in-page.ts the way build.mjs bundles the source's
 * page (esbuild, ES modules with lazy chunks, openpgp.js's lightweight build),
 * and serves it with an empty page and the file to encrypt, on 127.0.0.1.
 *
 * @example
 * const page = await startPageServer(workDir, '/tmp/data.bin');
 * await browserPage.goto(page.url);
 */
import { createReadStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';
import { packageRoot } from '../../../cli/paths.ts';

const TYPES: Record<string, string> = { '.js': 'text/javascript', '.html': 'text/html' };

export async function startPageServer(workDir: string, dataFile: string): Promise<{ url: string; dataUrl: string; close: () => Promise<void> }> {
  const outDir = join(workDir, 'browser-bundle');
  await mkdir(outDir, { recursive: true });
  // esbuild is a devDependency, like the benchmark itself.
  const { build } = await import('esbuild');
  const root = packageRoot();
  await build({
    absWorkingDir: root,
    // The page's segment worker too: the page starts it from /static/segment-worker.js.
    // Named, so both land at the top of outDir (not under their common folder).
    entryPoints: { 'encrypt-in-page': join(root, 'scripts/bench/browser/encrypt-in-page.ts'), 'segment-worker': join(root, 'client/source/segment-worker.ts') },
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: ['es2020', 'firefox115', 'chrome110'],
    minify: true,
    alias: { openpgp: 'openpgp/lightweight' },
    conditions: ['browser'],
    logLevel: 'error',
  });
  const html = '<!doctype html><meta charset="utf-8"><title>bench</title><input type="file" id="file"><script type="module" src="/encrypt-in-page.js"></script>';
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    if (path === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    } else if (path === '/data') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      createReadStream(dataFile).pipe(res);
    } else {
      const file = join(outDir, normalize(path.replace(/^\/static\//, '/')).replace(/^[/\\]+/, ''));
      if (!file.startsWith(outDir)) return void res.writeHead(404).end();
      readFile(file).then(
        (body) => res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body),
        () => res.writeHead(404).end(),
      );
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${url}/`,
    dataUrl: `${url}/data`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
