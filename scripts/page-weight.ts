/**
 * Page weight: the bytes a source's browser loads for each source page, as
 * served (the server doesn't compress) and gzipped (for comparison with budgets
 * quoted gzipped). Follows the page's stylesheet, icon and module script, and
 * the script's static imports; dynamic `import()` chunks are counted apart as
 * "lazy" (the crypto code, loaded when the source starts using the form).
 *
 * @example
 * const weights = await measurePageWeights((path) => app.request(path));
 */
import { gzipSync } from 'node:zlib';
import { moduleImports } from '../client/verify/module-imports.ts';

export type Weight = { raw: number; gzip: number; files: string[] };
export type PageWeight = { path: string; withoutJs: Weight; withJs: Weight; lazy: Weight };

type Get = (path: string) => Response | Promise<Response>;

export async function measurePageWeights(get: Get, paths = ['/', '/submit']): Promise<PageWeight[]> {
  const out: PageWeight[] = [];
  for (const path of paths) {
    const html = await body(get, path);
    const text = new TextDecoder().decode(html);
    const styles = [...text.matchAll(/<link [^>]*href="([^"]+)"[^>]*>/g)].map((m) => m[1]!).filter((h) => h.startsWith('/'));
    const scripts = [...text.matchAll(/<script [^>]*src="([^"]+)"[^>]*>/g)].map((m) => m[1]!);
    const withoutJs = new Map<string, Uint8Array>([[path, html]]);
    for (const href of styles) withoutJs.set(href, await body(get, href));
    const withJs = new Map(withoutJs);
    const lazy = new Map<string, Uint8Array>();
    for (const src of scripts) await followScript(get, src, withJs, lazy);
    for (const key of withJs.keys()) lazy.delete(key);
    out.push({ path, withoutJs: weigh(withoutJs), withJs: weigh(withJs), lazy: weigh(lazy) });
  }
  return out;
}

async function followScript(get: Get, src: string, eager: Map<string, Uint8Array>, lazy: Map<string, Uint8Array>): Promise<void> {
  if (eager.has(src)) return;
  const bytes = await body(get, src);
  eager.set(src, bytes);
  const imports = moduleImports(new TextDecoder().decode(bytes), src);
  for (const target of imports.static) await followScript(get, target, eager, lazy);
  for (const target of imports.dynamic) {
    if (!eager.has(target) && !lazy.has(target)) {
      const lazyEager = new Map<string, Uint8Array>();
      await followScript(get, target, lazyEager, lazy);
      for (const [k, v] of lazyEager) if (!eager.has(k)) lazy.set(k, v);
    }
  }
}

async function body(get: Get, path: string): Promise<Uint8Array> {
  const res = await get(path);
  if (!res.ok) throw new Error(`${path} answered ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

function weigh(files: Map<string, Uint8Array>): Weight {
  let raw = 0;
  let gzip = 0;
  for (const bytes of files.values()) {
    raw += bytes.length;
    gzip += gzipSync(bytes, { level: 9 }).length;
  }
  return { raw, gzip, files: [...files.keys()] };
}
