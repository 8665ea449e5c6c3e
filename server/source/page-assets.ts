/**
 * What the source pages need to know about the files they load: the Subresource
 * Integrity value of each static file (computed once, at start-up, from the very
 * bytes the server serves), and the release the pages announce in their footer.
 *
 * With `integrity="sha384-…"` on a `<script>` or `<link rel=stylesheet>`, the
 * browser refuses to run or apply bytes other than the ones the page names. The
 * HTML and the assets come from the same server, so this doesn't stop an
 * attacker who controls that server; what it does is tie each page to exact
 * bytes, which `tipline verify` compares with the published asset lock.
 *
 * The app puts one PageAssets on every request (`providePageAssets`), and
 * `pageContext()` hands it to the views.
 *
 * @example
 * const assets = PageAssets.from(staticFiles, { version: '0.1.0', assetLockSha256 });
 * app.use('*', providePageAssets(assets));
 * assets.integrity('page.js'); // 'sha384-…'
 */
import type { MiddlewareHandler } from 'hono';
import { subresourceIntegrity } from '../../crypto/asset-lock.ts';
import type { StaticFiles } from '../http/static-files.ts';

/** What the footer shows, for people comparing out of band (see README, "Transparency"). */
export type Release = {
  /** package.json's version. */
  version: string;
  /** SHA-256 of `dist/assets.lock.json`, when the build wrote one. */
  assetLockSha256?: string | undefined;
};

/** Files the page layout links to; the app refuses to start without them. */
export const LAYOUT_FILES = ['favicon.svg', 'style.css', 'page.js'] as const;

export class PageAssets {
  private constructor(
    private readonly integrities: ReadonlyMap<string, string>,
    readonly release: Release,
  ) {}

  static from(files: StaticFiles, release: Release): PageAssets {
    const missing = LAYOUT_FILES.filter((name) => !files.has(name));
    if (missing.length > 0) throw new Error(`the browser assets are incomplete (no ${missing.join(', ')}); run: npm run build`);
    const integrities = new Map<string, string>();
    for (const [name, file] of files) integrities.set(name, subresourceIntegrity(file.body));
    return new PageAssets(integrities, release);
  }

  /** The `integrity` value for a file under /static/, by its name there (`page.js`, `chunks/x.js`). */
  integrity(name: string): string {
    const value = this.integrities.get(name);
    if (!value) throw new Error(`no static file named ${name}`);
    return value;
  }
}

declare module 'hono' {
  interface ContextVariableMap {
    pageAssets: PageAssets;
  }
}

/** Makes `c.get('pageAssets')` available to every handler, error pages included. */
export function providePageAssets(assets: PageAssets): MiddlewareHandler {
  return async function providePageAssetsMiddleware(c, next) {
    c.set('pageAssets', assets);
    await next();
  };
}
