/**
 * Transparency (issue 10): the build is reproducible, pages pin their scripts
 * with Subresource Integrity, and `tipline verify` notices when a server serves
 * anything but the published code and keys.
 *
 * The tampering is done the way an attacker on the server would: a small proxy
 * in front of a real `tipline serve` rewrites what it answers (an extra script,
 * a flipped byte, an edited manifest, a stripped integrity attribute), and
 * `verify` runs against the proxy as an outside watcher would.
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAll } from '../build.mjs';
import { parseAssetLock, sha256Hex } from '../crypto/asset-lock.ts';
import { scanPage } from '../client/verify/scan-page.ts';
import { assetLockFile } from '../cli/paths.ts';
import en from '../i18n/messages/en.json' with { type: 'json' };
import packageJson from '../package.json' with { type: 'json' };
import { freshContext, launchChromium } from './helpers/browser.ts';
import { addTestJournalist, makeNewsroom, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli, startServerProcess, type ServerProcess } from './helpers/server-process.ts';

/** Rewrites one answer of the real server: gets the path and the body, returns the body to send. */
type Tamper = (path: string, body: Uint8Array) => Uint8Array;

let newsroom: TestNewsroom | undefined;
let server: ServerProcess | undefined;
let proxy: { url: string; close: () => Promise<void> } | undefined;
let tamper: Tamper | undefined;
let lockFile: string;
let stateDir: string;

beforeAll(async () => {
  newsroom = await makeNewsroom();
  await addTestJournalist(newsroom, 'Avery Reporter');
  // The no-JavaScript form's wait (its token's time lock) is played out in browser-submit and browser-firefox.
  server = await startServerProcess(newsroom.dataDir, ['--no-js-form-wait', '0']);
  // The lock the server was started with, kept apart: other test files may rebuild dist/ meanwhile.
  lockFile = join(newsroom.root, 'assets.lock.json');
  await copyFile(assetLockFile(), lockFile);
  stateDir = await mkdtemp(join(tmpdir(), 'tipline-verify-state-'));
  proxy = await startTamperingProxy(server.url, (path, body) => (tamper ? tamper(path, body) : body));
});

afterAll(async () => {
  await proxy?.close();
  await server?.stop();
  await newsroom?.cleanup();
  if (stateDir) await rm(stateDir, { recursive: true, force: true });
});

/**
 * A man in the middle, as an attacker controlling the server would be: forwards
 * every request to the real server and passes the answer through `rewrite`.
 */
async function startTamperingProxy(upstream: string, rewrite: Tamper): Promise<{ url: string; close: () => Promise<void> }> {
  const app = new Hono();
  app.all('*', async (c) => {
    const url = new URL(c.req.url);
    const headers = new Headers();
    for (const name of ['content-type', 'cookie', 'accept-language']) {
      const value = c.req.header(name);
      if (value) headers.set(name, value);
    }
    const hasBody = c.req.method !== 'GET' && c.req.method !== 'HEAD';
    const answer = await fetch(`${upstream}${url.pathname}${url.search}`, {
      method: c.req.method,
      headers,
      body: hasBody ? await c.req.arrayBuffer() : undefined,
      redirect: 'manual',
    });
    const body = rewrite(url.pathname, new Uint8Array(await answer.arrayBuffer()));
    const out = new Headers(answer.headers);
    out.delete('content-length');
    return new Response(body as Uint8Array<ArrayBuffer>, { status: answer.status, headers: out });
  });
  let running: ServerType;
  const port = await new Promise<number>((resolve) => {
    running = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(info.port));
  });
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => running.close(() => resolve())) };
}

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (s: string) => new TextEncoder().encode(s);
/** Rewrites HTML pages only, leaving scripts, stylesheets and the API alone. */
const onPages = (edit: (html: string) => string): Tamper => (path, body) => (path.startsWith('/static/') || path.startsWith('/api/') ? body : bytes(edit(text(body))));

let stateFiles = 0;
/** `tipline verify` against `url`, with the published fingerprint and lock, and a fresh state file unless given one. */
function verify(url: string, extra: string[] = [], state = join(stateDir, `state-${++stateFiles}.json`)) {
  return runCli(['verify', '--server', url, '--expect', lockFile, '--newsroom-fingerprint', newsroom!.fingerprint, '--state', state, ...extra]);
}

function problems(stdout: string): string[] {
  return stdout.split('\n').filter((l) => l.startsWith('problem: '));
}

describe('a reproducible build', () => {
  it('gives byte-identical files, the asset lock included, when built twice in different folders', async () => {
    const root = await mkdtemp(join(tmpdir(), 'tipline-reproducible-'));
    try {
      const [a, b] = [join(root, 'first'), join(root, 'second')];
      await buildAll({ quiet: true, outDir: a });
      await buildAll({ quiet: true, outDir: b });
      const filesA = await listFiles(a);
      expect(filesA).toEqual(await listFiles(b));
      expect(filesA).toEqual(expect.arrayContaining(['assets.lock.json', 'public/page.js', 'public/style.css', 'tipline.js']));
      for (const file of filesA) expect(sha256Hex(await readFile(join(a, file))), file).toBe(sha256Hex(await readFile(join(b, file))));

      // The lock lists every file under public/, with its hash and size, and every page's references with their SRI.
      const lock = parseAssetLock(await readFile(join(a, 'assets.lock.json')));
      const publicFiles = filesA.filter((f) => f.startsWith('public/')).map((f) => `/static/${f.slice('public/'.length)}`);
      expect(lock.assets.map((x) => x.path)).toEqual(publicFiles.sort());
      for (const asset of lock.assets) {
        const body = await readFile(join(a, 'public', asset.path.slice('/static/'.length)));
        expect(asset.sha256).toBe(sha256Hex(body));
        expect(asset.size).toBe(body.length);
      }
      expect(lock.release).toBe(packageJson.version);
      const pages = new Set(lock.pages.map((p) => `${p.page} ${p.lang}`));
      for (const page of ['landing', 'submit', 'login']) for (const lang of ['en', 'zh-Hans', 'zh-Hant', 'fr', 'es']) expect(pages).toContain(`${page} ${lang}`);
      const submit = lock.pages.find((p) => p.page === 'submit' && p.lang === 'en')!;
      expect(submit.references.map((r) => r.url)).toEqual(expect.arrayContaining(['/static/page.js', '/static/style.css']));
      expect(submit.dynamic.join(' ')).toContain('newsroom public key');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe('reading a page for scripts', () => {
  it('finds scripts and links however they are written, and reports what it cannot read', () => {
    const page = scanPage(
      [
        '<html lang="fr"><head>',
        "<SCRIPT TYPE=module SRC=/static/a.js INTEGRITY='sha384-x'></SCRIPT>",
        '<link rel="Stylesheet" href="/static/s.css" integrity="sha384-y sha512-z">',
        '<script>steal()</script><style>body{}</style>',
        // A quote inside an unquoted value is just a character, as the browser reads it: this loads b.js.
        '<script src=/static/b.js data-x=it\'s></script>',
        '<meta name="tipline-newsroom-key" content="ab&amp;cd">',
        // Hidden where a browser won't run it, but reported: inside an attribute value, inside a script.
        '<p title="<script src=/static/hidden.js>"></p><script>"<link href=/x.css>"</script>',
        '</head></html>',
        // Cut off by the end of the page: the browser drops it; we report it.
        '<script src=/static/c.js data-x="',
      ].join('\n'),
    );
    expect(page.lang).toBe('fr');
    expect(page.references).toEqual([
      { element: 'script', url: '/static/a.js', integrity: 'sha384-x' },
      { element: 'link', rel: 'stylesheet', url: '/static/s.css', integrity: 'sha384-y sha512-z' },
      { element: 'script', url: '/static/b.js' },
    ]);
    expect(page.inline.map((i) => `${i.element}: ${i.excerpt}`)).toEqual(['script: steal()', 'style: body{}', 'script: "<link href=/x.css>"']);
    // A tag the scanner didn't read as a tag is reported, never skipped.
    expect(page.unreadable).toEqual([expect.stringContaining('/static/hidden.js'), expect.stringContaining('/x.css'), expect.stringContaining('/static/c.js')]);
    expect(page.meta.get('tipline-newsroom-key')).toEqual(['ab&cd']);
  });

  it('reads hostile pages in time linear in their length (a server cannot make verify hang)', () => {
    // Each of these took the earlier regex scanner minutes at 256 KiB (quadratic): 225 s for '<a' repeated.
    const MIB = 1024 * 1024;
    const hostile = {
      'unclosed scripts': '<script>'.repeat(MIB / 8),
      'script tags with no >': '<script '.repeat(MIB / 8),
      "'<a' repeated": '<a'.repeat(MIB / 2),
      'tags with no >': '<p '.repeat(MIB / 3),
      'unclosed quotes': '<link href="'.repeat(MIB / 12),
      'unquoted values and equals signs': '<meta a=b ='.repeat(MIB / 11),
      'closing tags only': '</script '.repeat(MIB / 9),
    };
    for (const [what, body] of Object.entries(hostile)) {
      const html = body.repeat(8); // 8 MiB each
      const started = performance.now();
      const page = scanPage(html);
      const ms = performance.now() - started;
      // Generous for a loaded 2-core machine; the quadratic scanner needed hours at this size.
      expect(ms, what).toBeLessThan(20_000);
      expect(page.references, what).toEqual([]);
    }
  });
});

describe('source pages', () => {
  it('carry Subresource Integrity for their script, stylesheet and icon, computed from the served bytes', async () => {
    const html = await (await fetch(`${server!.url}/submit`)).text();
    for (const [tag, path] of [
      ['script', 'page.js'],
      ['link', 'style.css'],
      ['link', 'favicon.svg'],
    ] as const) {
      const match = new RegExp(`<${tag} [^>]*(?:src|href)="/static/${path.replace('.', '\\.')}" integrity="(sha384-[^"]+)"`).exec(html);
      expect(match, path).not.toBeNull();
      const served = new Uint8Array(await (await fetch(`${server!.url}/static/${path}`)).arrayBuffer());
      const expected = `sha384-${Buffer.from(await crypto.subtle.digest('SHA-384', served)).toString('base64')}`;
      expect(match![1]).toBe(expected);
    }
  });

  it('show the release version and the asset lock hash on the landing page', async () => {
    const html = await (await fetch(`${server!.url}/`)).text();
    const lockHash = sha256Hex(await readFile(lockFile));
    expect(html).toContain(`Release ${packageJson.version}`);
    expect(html).toContain(`title="${lockHash}">${lockHash.slice(0, 16)}</code>`);
  });
});

describe('tipline verify', () => {
  it('passes against the real server, and in quiet mode a second run prints nothing', async () => {
    const state = join(stateDir, 'cron.json');
    const first = await verify(server!.url, [], state);
    expect(first.stderr).toBe('');
    expect(problems(first.stdout)).toEqual([]);
    expect(first.stdout).toContain('OK: this server serves exactly the locked assets');
    expect(first.stdout).toMatch(/pages: 24 fetched/);
    expect(first.stdout).toContain('manifest: version 1');
    expect(first.code).toBe(0);
    const remembered = JSON.parse(await readFile(state, 'utf8')) as { manifestVersion: number };
    expect(remembered.manifestVersion).toBe(1);

    // Cron: nothing changed, nothing printed; the state file now stands in for the fingerprint.
    const again = await runCli(['verify', '--server', server!.url, '--expect', lockFile, '--state', state, '--quiet']);
    expect({ code: again.code, stdout: again.stdout, stderr: again.stderr }).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  it('fails, naming it, when a page gains an extra script', async () => {
    tamper = onPages((html) => html.replace('</head>', '<script type="module" src="/static/chunks/helper.js"></script>\n</head>'));
    try {
      const r = await verify(proxy!.url);
      expect(r.code).toBe(1);
      expect(problems(r.stdout).join('\n')).toContain('references <script src="/static/chunks/helper.js">, which is not in the asset lock');
      expect(r.stdout).toContain('FAILED');
    } finally {
      tamper = undefined;
    }
  });

  it('fails when a page gains an inline script', async () => {
    tamper = onPages((html) => html.replace('</body>', '<script>fetch("/x",{method:"POST",body:document.body.innerText})</script></body>'));
    try {
      const r = await verify(proxy!.url);
      expect(r.code).toBe(1);
      expect(problems(r.stdout).join('\n')).toContain('has an inline <script>: "fetch(\\"/x\\"');
    } finally {
      tamper = undefined;
    }
  });

  it('fails when one byte of a lazily loaded chunk changes', async () => {
    // The largest chunk (openpgp.js), which only import() loads: no page names it, so only the lock covers it.
    const lock = parseAssetLock(await readFile(lockFile));
    const chunk = lock.assets.filter((a) => a.path.startsWith('/static/chunks/')).sort((a, b) => b.size - a.size)[0]!;
    let flipped = false;
    tamper = (path, body) => {
      if (path !== chunk.path) return body;
      flipped = true;
      const copy = body.slice();
      const middle = Math.floor(copy.length / 2);
      copy[middle] = copy[middle]! ^ 1;
      return copy;
    };
    try {
      const r = await verify(proxy!.url);
      expect(flipped).toBe(true);
      expect(r.code).toBe(1);
      expect(problems(r.stdout)).toEqual([expect.stringContaining(`problem: ${chunk.path}: bytes differ from the lock`)]);
    } finally {
      tamper = undefined;
    }
  });

  it('fails when the manifest gains a recipient the newsroom did not sign', async () => {
    tamper = (path, body) => {
      if (path !== '/api/v1/manifest') return body;
      const signed = JSON.parse(text(body)) as { manifest: { recipients: { id: string; name: string }[]; desks: { recipients: string[] }[] } };
      const mallory = { ...signed.manifest.recipients[0]!, id: 'mallory0000000000000000', name: 'Mallory' };
      signed.manifest.recipients.push(mallory);
      signed.manifest.desks[0]!.recipients.push(mallory.id);
      return bytes(JSON.stringify(signed));
    };
    try {
      const r = await verify(proxy!.url);
      expect(r.code).toBe(1);
      expect(problems(r.stdout).join('\n')).toContain('manifest: its signature does not check');
    } finally {
      tamper = undefined;
    }
  });

  it('fails when the manifest is older than one seen before (rolled back), and keeps the higher version', async () => {
    const state = join(stateDir, 'rolled-back.json');
    expect((await verify(server!.url, [], state)).code).toBe(0);
    const remembered = JSON.parse(await readFile(state, 'utf8')) as Record<string, unknown>;
    await writeFile(state, JSON.stringify({ ...remembered, manifestVersion: 7 }));
    const r = await verify(server!.url, [], state);
    expect(r.code).toBe(1);
    expect(problems(r.stdout).join('\n')).toContain('manifest: rolled back: manifest version 1 is older than version 7 seen before');
    expect((JSON.parse(await readFile(state, 'utf8')) as { manifestVersion: number }).manifestVersion).toBe(7);
  });

  it('fails when a script loses its integrity attribute', async () => {
    tamper = onPages((html) => html.replace(/(<script type="module" src="\/static\/page\.js") integrity="[^"]*"/, '$1'));
    try {
      const r = await verify(proxy!.url);
      expect(r.code).toBe(1);
      expect(problems(r.stdout).join('\n')).toContain('references <script src="/static/page.js"> without an integrity attribute');
    } finally {
      tamper = undefined;
    }
  });

  it("fails when a page embeds another newsroom key for its script to trust", async () => {
    tamper = onPages((html) => html.replace(/(<meta name="tipline-newsroom-key" content=")[0-9a-f]{64}/, `$1${'ab'.repeat(32)}`));
    try {
      const r = await verify(proxy!.url);
      expect(r.code).toBe(1);
      expect(problems(r.stdout).join('\n')).toMatch(/GET \/submit.* embeds newsroom key .* for its script to trust, not .*, which signed the manifest/);
    } finally {
      tamper = undefined;
    }
  });

  it('fails when the manifest is not signed by the newsroom whose fingerprint was published', async () => {
    const r = await runCli(['verify', '--server', server!.url, '--expect', lockFile, '--newsroom-fingerprint', 'AAAA '.repeat(10).trim()]);
    expect(r.code).toBe(1);
    expect(problems(r.stdout).join('\n')).toContain("this is not the newsroom's manifest");
  });

  it('refuses to run without a trust anchor, in one line, with exit 2', async () => {
    const r = await runCli(['verify', '--server', server!.url, '--expect', lockFile]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('--newsroom-fingerprint');
  });

  it('goes through a SOCKS5 proxy, which gets the host name to resolve', async () => {
    const upstreamPort = Number(new URL(server!.url).port);
    const socks = await startSocksServer({ 'tipline-under-test.onion': upstreamPort });
    try {
      const r = await verify(`http://tipline-under-test.onion:${upstreamPort}`, ['--socks', `127.0.0.1:${socks.port}`]);
      expect(problems(r.stdout)).toEqual([]);
      expect(r.code).toBe(0);
      expect(socks.requested.length).toBeGreaterThan(24);
      expect(new Set(socks.requested)).toEqual(new Set([`tipline-under-test.onion:${upstreamPort}`]));
    } finally {
      await socks.close();
    }
  });

  it('says in one line when the SOCKS proxy cannot reach the server', async () => {
    const socks = await startSocksServer({});
    try {
      const r = await verify('http://unknown-to-the-proxy.onion', ['--socks', `127.0.0.1:${socks.port}`]);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toContain('cannot reach http://unknown-to-the-proxy.onion: SOCKS proxy');
      expect(r.stderr).toContain('host unreachable');
    } finally {
      await socks.close();
    }
  });
});

/**
 * A minimal SOCKS5 server (no authentication, CONNECT to a domain name only)
 * that connects the names it knows to 127.0.0.1 and records what was asked for.
 */
async function startSocksServer(names: Record<string, number>): Promise<{ port: number; requested: string[]; close: () => Promise<void> }> {
  const requested: string[] = [];
  const sockets = new Set<Socket>();
  const socksServer: Server = createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => {});
    let buffered = Buffer.alloc(0);
    let stage: 'greeting' | 'request' = 'greeting';
    client.on('data', function onData(chunk: Buffer) {
      buffered = Buffer.concat([buffered, chunk]);
      if (stage === 'greeting' && buffered.length >= 2 && buffered.length >= 2 + buffered[1]!) {
        client.write(Buffer.from([5, 0]));
        buffered = buffered.subarray(2 + buffered[1]!);
        stage = 'request';
      }
      if (stage !== 'request' || buffered.length < 5) return;
      const length = buffered[4]!;
      if (buffered[3] !== 3 || buffered.length < 7 + length) return;
      const host = buffered.subarray(5, 5 + length).toString();
      const port = buffered.readUInt16BE(5 + length);
      client.off('data', onData);
      requested.push(`${host}:${port}`);
      if (names[host] !== port) return void client.end(Buffer.from([5, 4, 0, 1, 0, 0, 0, 0, 0, 0]));
      const upstream = netConnect(port, '127.0.0.1', () => {
        client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
        client.pipe(upstream).pipe(client);
      });
      sockets.add(upstream);
      upstream.on('close', () => sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
    });
  });
  const port = await new Promise<number>((resolve) => socksServer.listen(0, '127.0.0.1', () => resolve((socksServer.address() as { port: number }).port)));
  return {
    port,
    requested,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        socksServer.close(() => resolve());
      }),
  };
}

describe('in Chromium, a script whose bytes do not match its integrity value', () => {
  let browser: Browser | undefined;
  beforeAll(async () => {
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
  });

  it('does not run, and the form still sends the tip without JavaScript, on the server-encrypted path the page explains', async () => {
    const context = await freshContext(browser!);
    try {
      // First, untampered: the script runs and shows the Tor hint (Chromium on 127.0.0.1 is no Tor Browser on an onion).
      const control = await context.newPage();
      await control.goto(`${proxy!.url}/submit`);
      await control.locator('#tor-hint').waitFor({ state: 'visible' });
      expect(await control.locator('#encryption-note').textContent()).not.toBe(en['submit.encryption.nojs']);
      await control.close();

      // The same page.js with one statement added: it would show itself if it ran.
      tamper = (path, body) => (path === '/static/page.js' ? bytes(`${text(body)}\ndocument.title="tampered";`) : body);
      const page = await context.newPage();
      const consoleLines: string[] = [];
      page.on('console', (m) => consoleLines.push(m.text()));
      await page.goto(`${proxy!.url}/submit`, { waitUntil: 'load' });
      await page.waitForTimeout(300);
      expect(await page.title()).not.toBe('tampered');
      expect(await page.locator('#tor-hint').isHidden()).toBe(true);
      // The note the script would replace still explains the no-JavaScript path: the server encrypts on arrival.
      expect(await page.locator('#encryption-note').textContent()).toBe(en['submit.encryption.nojs']);
      expect(consoleLines.join('\n')).toContain("'integrity' attribute");

      const posted: string[] = [];
      page.on('request', (r) => {
        if (r.method() === 'POST') posted.push(new URL(r.url()).pathname);
      });
      await page.getByLabel('Message').fill('sent although page.js was tampered with');
      await page.getByRole('button', { name: 'Submit tip' }).click();
      await page.getByRole('heading', { name: en['success.heading'] }).waitFor({ state: 'visible' });
      expect(await page.getByText(en['success.server']).isVisible()).toBe(true);
      expect(posted).toEqual(['/submit']);
    } finally {
      tamper = undefined;
      await context.close();
    }
  });
});
