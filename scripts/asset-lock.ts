/**
 * Makes `dist/assets.lock.json` (format in crypto/asset-lock.ts). `build.mjs`
 * runs it after bundling, on the files it just wrote.
 *
 * - Assets: every file the server would serve from dist/public/, read with the
 *   server's own loader (server/http/static-files.ts), so "locked" and "served"
 *   can't drift apart.
 * - Pages: each source page, in each language, is rendered by the real views
 *   with placeholders for what differs between servers and requests
 *   (`{newsroom-key}`, `{codename}`…), and the lock records the scripts,
 *   stylesheets and icon it references, with their SRI, plus the names of its
 *   dynamic parts. The HTML itself is not hashed: a watcher fetching a live page
 *   gets the real newsroom key, desks and codename, so a hash of the template
 *   could never be compared with anything they see; its references can.
 *
 * Everything is sorted or in a fixed order, and nothing depends on the time or
 * the machine: the same sources give the same bytes.
 *
 * @example
 * await writeAssetLock({ publicDir: 'dist/public', lockFile: 'dist/assets.lock.json', release: '0.1.0' });
 */
import { writeFile } from 'node:fs/promises';
import { ASSET_LOCK_FORMAT, STATIC_PREFIX, serializeAssetLock, sha256Hex, subresourceIntegrity, type AssetLock, type LockedAsset, type LockedPage, type PageReference } from '../crypto/asset-lock.ts';
import { scanPage } from '../client/verify/scan-page.ts';
import { loadStaticFiles } from '../server/http/static-files.ts';
import { CONTENT_SECURITY_POLICY } from '../server/http/security-headers.ts';
import { LANGUAGES, translator } from '../i18n/index.ts';
import { PageAssets } from '../server/source/page-assets.ts';
import { inboxPage, landingPage, loginPage, messagePage, submitPage, successPage, type PageContext } from '../server/source/views.ts';

type Rendered = ReturnType<typeof landingPage>;

const NEWSROOM_KEY = '{newsroom-key}';

/** Dynamic parts every page has (from the layout and the response headers). */
const EVERY_PAGE = [
  'language: the lang and dir attributes, every text, the language links',
  'footer: release version and assets.lock.json SHA-256',
  'Onion-Location header: the onion address, when one is configured',
];

/** The source pages, how a source reaches each, and what in each differs between servers or requests. */
const PAGES: { page: string; route: string; path: string; dynamic: string[]; render: (ctx: PageContext) => Rendered }[] = [
  {
    page: 'landing',
    route: 'GET /',
    path: '/',
    dynamic: ['newsroom key fingerprint', 'earlier newsroom key fingerprints and their end days'],
    render: (ctx) => landingPage(ctx, '{newsroom-fingerprint}', [{ fingerprint: '{earlier-newsroom-fingerprint}', until: '{day}' }]),
  },
  {
    page: 'submit',
    route: 'GET /submit',
    path: '/submit',
    dynamic: ['newsroom public key (meta tipline-newsroom-key)', 'manifest version', 'desks', 'message length limit', 'after a refused post: the message, the desk and the error'],
    render: (ctx) =>
      submitPage(ctx, { newsroomPublicKey: NEWSROOM_KEY, manifestVersion: 0, desks: [{ id: '{desk-id}', name: '{desk-name}' }], maxMessageChars: 0 }),
  },
  {
    page: 'login',
    route: 'GET /login',
    path: '/login',
    dynamic: ['newsroom public key (meta tipline-newsroom-key)', 'after a refused log-in: the error'],
    render: (ctx) => loginPage(ctx, { newsroomPublicKey: NEWSROOM_KEY }),
  },
  {
    page: 'success',
    route: 'POST /submit',
    path: '/submit',
    dynamic: ['codename'],
    render: (ctx) => successPage(ctx, 'server', '{codename}'),
  },
  {
    page: 'inbox',
    route: 'POST /login, GET /inbox, POST /inbox/reply, POST /inbox/delete',
    path: '/inbox',
    dynamic: ['replies', 'notice or error'],
    render: (ctx) => inboxPage(ctx, { replies: [{ id: '{reply-id}', day: '{day}', text: '{reply}' }], newsroomPublicKey: NEWSROOM_KEY }),
  },
  {
    page: 'message',
    route: 'errors, unknown paths, busy and unavailable notices',
    path: '/',
    dynamic: ['heading and text'],
    render: (ctx) => messagePage(ctx, '{heading}', '{text}'),
  },
];

/** The lock for the files in `publicDir`, as this release's views reference them. */
export async function makeAssetLock(publicDir: string, release: string): Promise<AssetLock> {
  const files = await loadStaticFiles(publicDir);
  const assets: LockedAsset[] = [...files.keys()].sort().map((name) => {
    const body = files.get(name)!.body;
    return { path: `${STATIC_PREFIX}${name}`, size: body.length, sha256: sha256Hex(body), integrity: subresourceIntegrity(body) };
  });
  const byPath = new Map(assets.map((a) => [a.path, a]));
  const pageAssets = PageAssets.from(files, { version: '{release}', assetLockSha256: '{assets-lock-sha256}' });

  const pages: LockedPage[] = [];
  for (const spec of PAGES) {
    for (const language of LANGUAGES) {
      const ctx: PageContext = { t: translator(language.code), lang: language.code, path: spec.path, assets: pageAssets };
      const scanned = scanPage(String(await spec.render(ctx)));
      if (scanned.inline.length > 0) throw new Error(`the ${spec.page} page has an inline <${scanned.inline[0]!.element}>; the CSP forbids it`);
      const references: PageReference[] = scanned.references.map((ref) => {
        const asset = byPath.get(ref.url);
        if (!asset) throw new Error(`the ${spec.page} page references ${ref.url}, which the build did not produce`);
        if (ref.integrity !== asset.integrity) throw new Error(`the ${spec.page} page references ${ref.url} without its Subresource Integrity value`);
        return { element: ref.element, ...(ref.rel !== undefined ? { rel: ref.rel } : {}), url: ref.url, integrity: asset.integrity };
      });
      pages.push({ page: spec.page, route: spec.route, lang: language.code, dynamic: [...EVERY_PAGE, ...spec.dynamic], references });
    }
  }
  return { format: ASSET_LOCK_FORMAT, release, contentSecurityPolicy: CONTENT_SECURITY_POLICY, assets, pages };
}

export async function writeAssetLock(o: { publicDir: string; lockFile: string; release: string }): Promise<void> {
  await writeFile(o.lockFile, serializeAssetLock(await makeAssetLock(o.publicDir, o.release)));
}
