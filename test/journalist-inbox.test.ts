/**
 * `tipline journalist inbox`, played from every side that could hurt a source:
 *
 * - the journalist, in Chromium with JavaScript off and on, over a real
 *   conversation (a tip sent with JavaScript off, a reply, a follow-up): list,
 *   open, mark, star, search, export a transcript, reply offline into the
 *   outbox (then `reply --outbox` sends it) and online, delete;
 * - a hostile source, whose tip is HTML, scripts, an RTL override, hostile
 *   file names, attachment paths that climb out of their folder, and 10 MB long;
 * - another local user or site without the secret, a hostile page in the same
 *   browser posting to the inbox, and a DNS-rebinding name that resolves to
 *   127.0.0.1.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hex, randomId } from '../crypto/bytes.ts';
import { startInbox, InboxAddressError, INBOX_CSP, type RunningInbox } from '../client/journalist/inbox/inbox-server.ts';
import { STATE_FILE } from '../client/journalist/inbox/inbox-state.ts';
import { INBOX_LANGUAGES } from '../client/journalist/inbox/inbox-i18n.ts';
import { pseudonymFor } from '../client/journalist/pseudonym.ts';
import { MANIFEST_FILE } from '../client/journalist/newsroom-pin.ts';
import { CHROMIUM_ARGS, CHROMIUM_PATH, freshContext, launchChromium } from './helpers/browser.ts';
import { addTestJournalist, makeNewsroom, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli, startServerProcess, TIPLINE_BIN, type ServerProcess } from './helpers/server-process.ts';
import { spawn } from 'node:child_process';
import { noJsPoster } from './helpers/no-js-form.ts';

const TIP = 'The "community office" on Elm Street photographs everyone who visits.\nAsk about the lease.';
const OFFLINE_REPLY = 'Thank you. Written on the offline machine: when did the photographs start?';
const FOLLOWUP = 'Since March. The lease is in a cousin\'s name.';
const ONLINE_REPLY = 'Thank you again, sent from the online inbox.';

const HOSTILE_HEAD =
  '<script>window.pwned = 1; alert(1)</script><img src="http://evil.example/pixel.png" onerror="window.pwned = 2">' +
  '<a id="js-link" href="javascript:window.pwned=3">click</a></pre></bdi><style>body{display:none}</style>' +
  'Invoice for \u202Etxt.exe please';
const HOSTILE_NAME = '"><img src=x onerror=alert(1)>invoice\u202Egpj.exe';
/** 10 MB in all: the page must carry it as text, not choke on it. */
const HOSTILE_TEXT = `${HOSTILE_HEAD}\n${'lorem ipsum '.repeat(Math.ceil((10 * 1024 * 1024) / 12))}\nHOSTILE-END`;

describe('inbox interface text', () => {
  it('every language has every English key, no stray keys, and the same placeholders', () => {
    const [en, ...others] = INBOX_LANGUAGES;
    const placeholders = (t: string) => [...t.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
    expect(others.map((l) => l.code)).toContain('zh-Hans');
    for (const lang of others) {
      expect(Object.keys(lang.messages).sort(), lang.code).toEqual(Object.keys(en.messages).sort());
      for (const [k, v] of Object.entries(en.messages)) expect(placeholders(lang.messages[k]!), `${lang.code} ${k}`).toEqual(placeholders(v));
    }
  });
});

describe('journalist inbox', () => {
  let newsroom: TestNewsroom;
  let ana: TestJournalist;
  let server: ServerProcess;
  let tokenFile: string;
  let keyFile: string;
  let fetchDir: string;
  let read: string;
  let outbox: string;
  let browser: Browser;
  let inbox: RunningInbox;
  let codename: string;
  let real: string; // the real conversation's folder name (its pseudonym)
  let hostile: string;
  let hostileThread: string;

  const cli = (...args: string[]) => runCli(['journalist', ...args]);
  const withServer = (...args: string[]) => ['--server', server.url, '--token-file', tokenFile, ...args];
  const fetchAndDecrypt = async () => {
    const f = await cli('fetch', ...withServer('--out', fetchDir));
    expect(f, f.stderr).toMatchObject({ code: 0 });
    const d = await cli('decrypt', '--key', keyFile, '--in', fetchDir, '--out', read);
    expect(d, d.stderr).toMatchObject({ code: 0 });
  };
  // The no-JavaScript forms carry the token of the page they were loaded from (helpers/no-js-form.ts).
  const noJs = noJsPoster((p, init) => fetch(`${server.url}${p}`, { ...init, redirect: 'manual' }));
  const form = (path: string, body: string, cookie?: string) =>
    path === '/submit' || path === '/inbox/reply'
      ? noJs(path, body, cookie ? { cookie } : {})
      : fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie ? { cookie } : {}) }, body, redirect: 'manual' });
  const repliesOnServer = async () => {
    const res = await fetch(`${server.url}/api/v1/journalist/replies`, { headers: { authorization: `Bearer ${ana.token}` } });
    return ((await res.json()) as { replies: { id: string }[] }).replies;
  };
  /** A raw request, so the test can send any Host, Origin or body framing a browser or attacker could. */
  const raw = (o: { port: number; path: string; method?: string; headers?: Record<string, string>; body?: string; chunked?: boolean }) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: o.port, path: o.path, method: o.method ?? 'GET', headers: { host: `127.0.0.1:${o.port}`, ...o.headers } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      });
      req.on('error', reject);
      if (o.chunked) req.setHeader('transfer-encoding', 'chunked');
      req.end(o.body);
    });
  const stateFile = async () => JSON.parse(await readFile(join(read, STATE_FILE), 'utf8').catch(() => '{}')) as { read?: string[]; starred?: string[] };
  /** Every request the page makes, to prove nothing leaves 127.0.0.1. */
  const watch = (page: Page) => {
    const urls: string[] = [];
    page.on('request', (r) => urls.push(r.url()));
    const dialogs: string[] = [];
    page.on('dialog', (d) => {
      dialogs.push(d.message());
      void d.dismiss();
    });
    return { urls, dialogs };
  };

  beforeAll(async () => {
    newsroom = await makeNewsroom();
    ana = await addTestJournalist(newsroom, 'Ana');
    // This suite is about the journalist's side: no wait between a form's page and its post.
    server = await startServerProcess(newsroom.dataDir, ['--no-js-form-wait', '0']);
    tokenFile = join(newsroom.root, 'ana.token');
    keyFile = join(newsroom.root, 'ana-secret.asc');
    await writeFile(tokenFile, `${ana.token}\n`, { mode: 0o600 });
    await writeFile(keyFile, ana.armoredPrivateKey, { mode: 0o600 });
    fetchDir = join(newsroom.root, 'fetched');
    read = join(newsroom.root, 'read');
    outbox = join(newsroom.root, 'outbox');

    // A source sends a tip with JavaScript off; the journalist fetches and decrypts it.
    const res = await form('/submit', `message=${encodeURIComponent(TIP)}`);
    expect(res.status).toBe(201);
    codename = /<p id="codename"[^>]*>([^<]+)<\/p>/.exec(await res.text())![1]!.trim();
    await fetchAndDecrypt();
    real = (await readdir(read))[0]!;

    // A hostile source's conversation, as decrypt would file it: everything in it is theirs.
    hostileThread = hex.encode(nodeRandomBytes(32));
    hostile = pseudonymFor(hostileThread);
    const tipFolder = join(read, hostile, `001-tip-${randomId()}`);
    await mkdir(join(tipFolder, 'attachments'), { recursive: true });
    await writeFile(join(read, hostile, 'thread.json'), JSON.stringify({ threadId: hostileThread, pseudonym: hostile, replyPublicKey: null, inbox: null }));
    await writeFile(join(tipFolder, 'message.txt'), HOSTILE_TEXT);
    await writeFile(join(tipFolder, 'fields.json'), JSON.stringify({ '<b>name</b>': '<script>alert("field")</script>' }));
    await writeFile(join(tipFolder, 'attachments', 'invoice.exe'), 'MZ not really a program');
    await writeFile(join(tipFolder, 'attachments', 'photo.jpg'), 'not really a photo');
    await writeFile(
      join(tipFolder, 'meta.json'),
      JSON.stringify({
        kind: 'tip',
        seq: 1,
        receivedDay: '2026-11-30',
        encryptedBy: 'browser',
        desk: 'investigations<script>',
        attachments: [
          { name: HOSTILE_NAME, savedAs: 'attachments/invoice.exe', size: 23, sha256: 'a'.repeat(64), risky: true, metadataFound: [] },
          { name: 'photo.jpg', savedAs: 'attachments/photo.jpg', size: 18, sha256: 'b'.repeat(64), risky: false, metadataFound: ['GPS position: 48.8584, 2.2945'] },
          // Paths that climb out of the message's folder are dropped, never served.
          { name: 'thread.json', savedAs: 'attachments/../../thread.json', size: 1, sha256: 'c'.repeat(64), risky: false, metadataFound: [] },
          { name: 'passwd', savedAs: '/etc/passwd', size: 1, sha256: 'd'.repeat(64), risky: false, metadataFound: [] },
        ],
      }),
    );

    // A reply in it whose newsroom copy names its author (meta.json `author`); the name is shown, inert.
    const replyFolder = join(read, hostile, `002-reply-${randomId()}`);
    await mkdir(replyFolder);
    await writeFile(join(replyFolder, 'message.txt'), 'We cannot open .exe files.');
    await writeFile(join(replyFolder, 'meta.json'), JSON.stringify({ kind: 'reply', seq: 2, sentDay: '2026-12-01', author: { name: '<b>Ana</b>\u202E', fingerprint: 'f'.repeat(40) } }));

    browser = await launchChromium();
    inbox = await startInbox({ decryptedDir: read, outboxDir: outbox });
  }, 120_000);

  afterAll(async () => {
    await inbox?.close();
    await browser?.close();
    await server?.stop();
    await newsroom?.cleanup();
  });

  describe('who can reach it', () => {
    it('answers nothing without the per-run secret, and the secret is 256 random bits', async () => {
      expect(inbox.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{43}\/$/);
      const wrong = inbox.secret.slice(0, -1) + (inbox.secret.endsWith('A') ? 'B' : 'A');
      for (const path of ['/', `/${wrong}/`, `/${wrong}/c/${real}`, `/${inbox.secret.slice(0, 10)}/`, `/c/${real}`, `/x/${inbox.secret}/`]) {
        const r = await raw({ port: inbox.port, path });
        expect(r.status, path).toBe(404);
        expect(r.body).not.toContain(real);
      }
      const other = await startInbox({ decryptedDir: read, outboxDir: outbox });
      try {
        expect(other.secret).not.toBe(inbox.secret);
        expect((await raw({ port: other.port, path: `/${inbox.secret}/` })).status).toBe(404);
      } finally {
        await other.close();
      }
    });

    it('refuses any Host but 127.0.0.1 or localhost on its port (DNS rebinding)', async () => {
      for (const host of ['evil.example', `evil.example:${inbox.port}`, `127.0.0.1.evil.example:${inbox.port}`, `localhost:${inbox.port + 1}`, `[::1]:${inbox.port}`]) {
        const r = await raw({ port: inbox.port, path: `/${inbox.secret}/`, headers: { host } });
        expect(r.status, host).toBe(421);
        expect(r.body).not.toContain(real);
      }
      expect((await raw({ port: inbox.port, path: `/${inbox.secret}/`, headers: { host: `localhost:${inbox.port}` } })).status).toBe(200);
    });

    it('a DNS-rebinding name in Chromium (evil.example → 127.0.0.1) gets nothing', async () => {
      const rebinding = await chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS, '--host-resolver-rules=MAP evil.example 127.0.0.1'] });
      try {
        const page = await (await freshContext(rebinding)).newPage();
        const res = await page.goto(`http://evil.example:${inbox.port}/${inbox.secret}/`);
        expect(res!.status()).toBe(421);
        expect(await page.content()).not.toContain(real);
      } finally {
        await rebinding.close();
      }
    });

    it('listens on 127.0.0.1 only and refuses any other address, in code and on the command line', async () => {
      await expect(startInbox({ decryptedDir: read, outboxDir: outbox, host: '0.0.0.0' })).rejects.toThrow(InboxAddressError);
      for (const args of [['--host', '0.0.0.0'], ['--host', '::'], ['--port', '99999'], ['--port', 'x'], ['--lang', 'xx'], ['--server', 'http://x']]) {
        const r = await cli('inbox', '--in', read, ...args);
        expect(r.code, args.join(' ')).toBe(2);
        expect(r.stderr.trim().split('\n')[0]).toMatch(/^tipline: /);
        expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+/);
      }
      const missing = await cli('inbox', '--in', join(newsroom.root, 'nowhere'));
      expect(missing.code).toBe(2);
      expect(missing.stderr).toContain('is not a folder');
    });

    it('the command prints a 127.0.0.1 URL that works, and stops on Ctrl-C', async () => {
      const child = spawn(process.execPath, [TIPLINE_BIN, 'journalist', 'inbox', '--in', read, '--outbox', outbox], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (d) => (output += d));
      child.stderr.on('data', (d) => (output += d));
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`inbox did not start: ${output}`)), 15_000);
        child.stdout.on('data', () => {
          const m = /(http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]{43}\/)/.exec(output);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
      });
      const page = await fetch(url);
      expect(output).toContain('Offline');
      expect(page.status).toBe(200);
      expect(await page.text()).toContain(real);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    });

    it('a failure answers 500 with no detail, and logs only the error\'s class (no path, no text, no stack)', async () => {
      const gone = join(newsroom.root, 'read-gone');
      await mkdir(gone);
      const broken = await startInbox({ decryptedDir: gone, outboxDir: outbox });
      const logged: string[] = [];
      const write = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((chunk: string) => (logged.push(String(chunk)), true)) as typeof process.stderr.write;
      try {
        await rm(gone, { recursive: true });
        const r = await raw({ port: broken.port, path: `/${broken.secret}/` });
        expect(r.status).toBe(500);
        expect(r.body).toBe('Internal error.');
        expect(r.headers['content-security-policy']).toBe(INBOX_CSP);
      } finally {
        process.stderr.write = write;
        await broken.close();
      }
      expect(logged.join('')).toBe('inbox: Error on GET\n');
    });

    it('refuses a form posted from another origin or site, and bodies past the limit', async () => {
      const star = `/${inbox.secret}/c/${real}/star`;
      const headers = { 'content-type': 'application/x-www-form-urlencoded' };
      for (const extra of <Record<string, string>[]>[{ origin: 'http://evil.example' }, { origin: `http://127.0.0.1:${inbox.port + 1}` }, { origin: 'null' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }]) {
        const r = await raw({ port: inbox.port, path: star, method: 'POST', headers: { ...headers, ...extra }, body: 'star=1' });
        expect(r.status, JSON.stringify(extra)).toBe(403);
      }
      expect((await stateFile()).starred ?? []).not.toContain(real);
      const big = 'message=' + 'x'.repeat(1_300_000);
      expect((await raw({ port: inbox.port, path: `/${inbox.secret}/c/${real}/reply`, method: 'POST', headers, body: big })).status).toBe(413);
      expect((await raw({ port: inbox.port, path: `/${inbox.secret}/c/${real}/reply`, method: 'POST', headers, body: big, chunked: true })).status).toBe(413);
      expect(await readdir(outbox).catch(() => [])).toEqual([]);
    });

    it('a hostile page in the same browser cannot post to it or read it, even knowing the secret', async () => {
      const evil: Server = createServer((_req, res) => {
        res.setHeader('content-type', 'text/html');
        res.end(`<!doctype html><form id="f" method="post" action="${inbox.url}c/${real}/star"><input name="star" value="1"></form>
<script>
fetch(${JSON.stringify(inbox.url)}).then(r => r.text()).then(t => { window.stolen = t; }, e => { window.stolen = 'blocked'; });
fetch(${JSON.stringify(`${inbox.url}c/${real}/star`)}, { method: 'POST', mode: 'no-cors', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'star=1' });
if (location.hash === '#submit') setTimeout(() => document.getElementById('f').submit(), 300);
</script>`);
      });
      await new Promise<void>((r) => evil.listen(0, '127.0.0.1', () => r()));
      try {
        const page = await (await freshContext(browser)).newPage();
        const submitted = page.waitForResponse((r) => r.url().includes('/star') && r.request().isNavigationRequest());
        await page.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/#submit`);
        expect((await submitted).status()).toBe(403);
        await page.waitForLoadState();
        expect((await stateFile()).starred ?? []).not.toContain(real);
        const page2 = await (await freshContext(browser)).newPage();
        await page2.goto(`http://127.0.0.1:${(evil.address() as AddressInfo).port}/`);
        await page2.waitForFunction(() => (window as unknown as { stolen?: string }).stolen !== undefined);
        expect(await page2.evaluate(() => (window as unknown as { stolen: string }).stolen)).toBe('blocked');
        expect((await stateFile()).starred ?? []).not.toContain(real);
      } finally {
        evil.close();
      }
    });
  });

  describe('a hostile tip', () => {
    it('every page has the strict CSP, no script at all, and the tip escaped', async () => {
      for (const path of ['/', `/c/${hostile}`, `/c/${hostile}/delete`, '/?q=%3Cscript%3E']) {
        const r = await raw({ port: inbox.port, path: `/${inbox.secret}${path}` });
        expect(r.status, path).toBe(200);
        expect(r.headers['content-security-policy']).toBe(INBOX_CSP);
        expect(INBOX_CSP).not.toContain('unsafe');
        expect(r.headers['cache-control']).toBe('no-store');
        expect(r.headers['referrer-policy']).toBe('no-referrer');
        // No active element, and no event-handler attribute inside any tag (escaped text like `onerror=` is fine).
        expect(r.body).not.toMatch(/<(script|img|style|iframe|object|embed)\b/i);
        expect(r.body).not.toMatch(/<[^>]*\son\w+\s*=/i);
        expect(r.body).not.toMatch(/href="javascript:/i);
      }
      const page = await raw({ port: inbox.port, path: `/${inbox.secret}/c/${hostile}` });
      expect(page.body).toContain('&lt;script&gt;window.pwned = 1');
      expect(page.body).toContain('[U+202E]');
      expect(page.body).not.toContain('\u202E');
      // 10 MB is cut for the page (a browser would hang on it) and said so; the transcript has all of it.
      expect(page.body).not.toContain('HOSTILE-END');
      expect(page.body).toMatch(/only its first 200,000 of 10,4\d\d,\d{3} characters/);
      const transcript = await raw({ port: inbox.port, path: `/${inbox.secret}/c/${hostile}/transcript.txt` });
      expect(transcript.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(transcript.body).toContain('HOSTILE-END');
      expect(transcript.body).toContain('<script>window.pwned = 1');
      expect(transcript.body).not.toContain('\u202E');
    });

    for (const javaScriptEnabled of [false, true]) {
      it(`renders as inert text in Chromium, JavaScript ${javaScriptEnabled ? 'on' : 'off'}`, async () => {
        const page = await (await freshContext(browser, { javaScriptEnabled })).newPage();
        const seen = watch(page);
        await page.goto(`${inbox.url}c/${hostile}`);
        await page.locator('#js-link').count().then((n) => expect(n).toBe(0));
        expect(await page.locator('main img, main script, main style, main a[href^="javascript"]').count()).toBe(0);
        expect((await page.locator('pre.text').first().textContent())!.length).toBeGreaterThanOrEqual(200_000);
        expect(await page.locator('.warning.truncated').count()).toBe(1);
        expect(await page.locator('pre.text').first().textContent()).toContain('<script>window.pwned = 1');
        expect(await page.locator('body').isVisible()).toBe(true);
        expect(await page.locator('.warning.controls').count()).toBe(1);
        expect(await page.locator('dl.fields').textContent()).toContain('<script>alert("field")</script>');
        // Attachments: listed with size, SHA-256 and warnings; only "save", never shown.
        const items = page.locator('li.attachment');
        expect(await items.count()).toBe(2);
        expect(await items.nth(0).textContent()).toContain('[U+202E]gpj.exe');
        expect(await items.nth(0).locator('.risky-warning').count()).toBe(1);
        expect(await items.nth(1).locator('.metadata-warning').textContent()).toContain('GPS position: 48.8584, 2.2945');
        expect(await items.nth(1).textContent()).toContain('b'.repeat(64));
        expect(await page.locator('li.message .byline .author').allTextContents()).toEqual(['Source', 'Journalist <b>Ana</b>[U+202E]']);
        if (javaScriptEnabled) expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
        expect(seen.dialogs).toEqual([]);
        for (const u of seen.urls) expect(new URL(u).host).toBe(`127.0.0.1:${inbox.port}`);
        expect(seen.urls.some((u) => u.includes('evil.example'))).toBe(false);
      }, 60_000);
    }

    it('attachments are downloads only (octet-stream, sandboxed); climbing paths are never served', async () => {
      const folder = (await readdir(join(read, hostile))).find((n) => n.startsWith('001-'))!;
      const a = await raw({ port: inbox.port, path: `/${inbox.secret}/c/${hostile}/m/${folder}/a/0` });
      expect(a.status).toBe(200);
      expect(a.body).toBe('MZ not really a program');
      expect(a.headers['content-type']).toBe('application/octet-stream');
      expect(a.headers['content-disposition']).toBe('attachment; filename="invoice.exe"');
      expect(a.headers['content-security-policy']).toContain('sandbox');
      expect(a.headers['x-content-type-options']).toBe('nosniff');
      for (const path of [`/c/${hostile}/m/${folder}/a/2`, `/c/${hostile}/m/${folder}/a/3`, `/c/${hostile}/m/..%2F..%2F/a/0`, `/c/..%2F${hostile}`]) {
        const r = await raw({ port: inbox.port, path: `/${inbox.secret}${path}` });
        expect(r.status, path).toBe(404);
        expect(r.body).not.toContain('threadId');
        expect(r.body).not.toContain('root:');
      }
    });
  });

  describe('the journalist\'s day, with JavaScript off', () => {
    let page: Page;
    beforeAll(async () => {
      page = await (await freshContext(browser, { javaScriptEnabled: false, acceptDownloads: true })).newPage();
    });
    const row = (key: string) => page.locator(`tr[data-key="${key}"]`);

    it('lists conversations with pseudonym, desk, days, count and unread mark', async () => {
      await page.goto(inbox.url);
      expect(await page.locator('tr.conversation').count()).toBe(2);
      expect(await row(real).locator('a').textContent()).toBe(real);
      expect(await row(real).textContent()).toContain('1 message(s)');
      expect(await row(real).locator('.unread-mark').count()).toBe(1);
      expect(await row(hostile).textContent()).toContain('2026-11-30 – 2026-12-01');
      expect(await row(hostile).textContent()).toContain('2 message(s)');
      expect(await row(hostile).textContent()).toContain('investigations<script>');
    });

    it('opens a conversation: the tip in order, "encrypted by the server" said plainly; it is then read', async () => {
      await row(real).locator('a').click();
      expect(await page.locator('li.message').count()).toBe(1);
      expect(await page.locator('li.message pre.text').textContent()).toBe(TIP);
      expect(await page.locator('li.message .byline .author').textContent()).toBe('Source');
      expect(await page.locator('.server-encrypted').textContent()).toContain('Encrypted by the server');
      await page.goto(inbox.url);
      expect(await row(real).locator('.unread-mark').count()).toBe(0);
      const s = await stateFile();
      expect(s.read?.length).toBeGreaterThan(0);
      // Marks only: the state file holds ids, never the text.
      expect(JSON.stringify(s)).not.toContain('photographs');
    });

    it('marks unread, stars, and filters by unread, starred, desk and text (held in memory, never indexed)', async () => {
      const before = (await readdir(read, { recursive: true })).sort();
      await page.goto(`${inbox.url}c/${real}`);
      await page.locator('form.mark-unread button').click();
      expect(await row(real).locator('.unread-mark').count()).toBe(1);
      await page.goto(`${inbox.url}c/${real}`);
      await page.locator('form.star button').click();
      expect(await page.locator('h1 .star-mark').count()).toBe(1);
      await page.goto(inbox.url);
      expect(await row(real).locator('.star-mark').count()).toBe(1);
      expect((await stateFile()).starred).toEqual([real]);

      const shown = async () => page.locator('tr.conversation').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-key')));
      await page.locator('input[name=starred]').check();
      await page.locator('.filter button[type=submit]').click();
      expect(await shown()).toEqual([real]);
      await page.goto(inbox.url);
      await page.locator('select[name=desk]').selectOption('investigations<script>');
      await page.locator('.filter button[type=submit]').click();
      expect(await shown()).toEqual([hostile]);
      for (const [q, expected] of [['ABOUT the lease', [real]], ['PHOTOGRAPHS', [real]], ['pwned', [hostile]], ['invoice', [hostile]], ['HOSTILE-END', [hostile]], ['nowhere-at-all', []]] as const) {
        await page.goto(inbox.url);
        await page.locator('input[name=q]').fill(q);
        await page.locator('.filter button[type=submit]').click();
        expect(await shown(), q).toEqual(expected);
        if (expected.length === 0) expect(await page.locator('.empty').count()).toBe(1);
      }
      // Searching wrote nothing: the same files as before (the state file already existed).
      expect((await readdir(read, { recursive: true })).sort()).toEqual(before);
    });

    it('exports a plain-text transcript', async () => {
      await page.goto(`${inbox.url}c/${real}`);
      const [download] = await Promise.all([page.waitForEvent('download'), page.locator('a.transcript').click()]);
      expect(download.suggestedFilename()).toBe(`${real}-transcript.txt`);
      const text = await readFile((await download.path())!, 'utf8');
      expect(text).toContain(`Conversation ${real}`);
      expect(text).toContain(TIP);
      expect(text).toContain('encrypted by the server');
      // The print layout leaves out the controls and keeps the messages.
      await page.emulateMedia({ media: 'print' });
      for (const hidden of ['.reply', '.actions', 'header.top']) expect(await page.locator(hidden).isVisible(), hidden).toBe(false);
      expect(await page.locator('li.message pre.text').isVisible()).toBe(true);
      await page.emulateMedia({ media: 'screen' });
      expect(await page.locator('.reply').isVisible()).toBe(true);
    });

    it('offline, a reply is encrypted into the outbox; `reply --outbox` sends it from the online machine', async () => {
      await page.goto(`${inbox.url}c/${real}`);
      expect(await page.locator('#mode').textContent()).toContain('Offline');
      await page.locator('#reply-text').fill(OFFLINE_REPLY);
      await page.locator('#send-reply').click();
      expect(await page.locator('#notice').textContent()).toContain('written to the outbox');
      const files = await readdir(outbox);
      expect(files).toHaveLength(1);
      const sealed = await readFile(join(outbox, files[0]!), 'utf8');
      expect(sealed).not.toContain('offline machine');
      expect(sealed).not.toContain(OFFLINE_REPLY);
      expect(await repliesOnServer()).toEqual([]);

      const nowhere = await cli('reply', ...withServer('--outbox', join(newsroom.root, 'nowhere')));
      expect(nowhere.code).toBe(1);
      expect(nowhere.stderr.trim()).toMatch(/^tipline: cannot read the outbox .+nowhere/);
      // A damaged file is refused whole, nothing sent.
      await writeFile(join(outbox, 'reply-AAAAAAAAAAAAAAAAAAAAAA.json'), '{"version":1,"threadId":"../x"}');
      const refused = await cli('reply', ...withServer('--outbox', outbox));
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain('is not a reply the inbox wrote');
      expect(await repliesOnServer()).toEqual([]);
      await rm(join(outbox, 'reply-AAAAAAAAAAAAAAAAAAAAAA.json'));

      const sent = await cli('reply', ...withServer('--outbox', outbox));
      expect(sent, sent.stderr).toMatchObject({ code: 0 });
      expect(sent.stdout).toContain(`sent to conversation ${real}`);
      expect(sent.stdout).toContain('1 reply(ies) from the outbox sent');
      expect(await readdir(outbox)).toEqual([]);
      expect(await repliesOnServer()).toHaveLength(1);
    });

    it('the source reads the reply and follows up; after fetch and decrypt the inbox shows all three in order', async () => {
      const login = await form('/login', `codename=${encodeURIComponent(codename)}`);
      expect(login.status).toBe(200);
      expect(await login.text()).toContain('Written on the offline machine');
      const cookie = /tl_session=[^;]+/.exec(login.headers.get('set-cookie') ?? '')![0];
      expect((await form('/inbox/reply', `message=${encodeURIComponent(FOLLOWUP)}`, cookie)).status).toBe(201);
      await fetchAndDecrypt();
      await page.goto(inbox.url);
      expect(await row(real).textContent()).toContain('3 message(s)');
      expect(await row(real).locator('.unread-mark').count()).toBe(1);
      await row(real).locator('a').click();
      const messages = page.locator('li.message');
      expect(await messages.locator('pre.text').allTextContents()).toEqual([TIP, OFFLINE_REPLY, FOLLOWUP]);
      expect(await messages.locator('.byline .author').allTextContents()).toEqual(['Source', 'A journalist', 'Source']);
    });
  });

  it('offline, a reply is refused when the saved key list was altered (it must verify against the pinned newsroom key)', async () => {
    const tampered = join(newsroom.root, 'fetched-tampered');
    await cp(fetchDir, tampered, { recursive: true });
    const saved = JSON.parse(await readFile(join(tampered, MANIFEST_FILE), 'utf8'));
    // An attacker on the air-gapped machine slips their own key into the list.
    saved.manifest.recipients.push({ ...saved.manifest.recipients[0], name: 'Mallory' });
    await writeFile(join(tampered, MANIFEST_FILE), JSON.stringify(saved));
    const offline = await startInbox({ decryptedDir: read, outboxDir: outbox, inboxDir: tampered });
    try {
      const page = await (await freshContext(browser, { javaScriptEnabled: false })).newPage();
      await page.goto(`${offline.url}c/${real}`);
      await page.locator('#reply-text').fill('this must never be sealed');
      await page.locator('#send-reply').click();
      const notice = await page.locator('#notice').textContent();
      expect(notice).toContain('The reply was not sent');
      expect(notice).toMatch(/REFUSING: the server's manifest (is not signed by|can't be trusted)/);
      expect(await readdir(outbox).catch(() => [])).toEqual([]);
    } finally {
      await offline.close();
    }
  });

  describe('online', () => {
    let online: RunningInbox;
    beforeAll(async () => {
      online = await startInbox({ decryptedDir: read, outboxDir: outbox, online: { server: server.url, token: ana.token } });
    });
    afterAll(() => online?.close());

    it('a reply goes to the server through the same code as `journalist reply`', async () => {
      const page = await (await freshContext(browser, { javaScriptEnabled: false })).newPage();
      await page.goto(`${online.url}c/${real}`);
      expect(await page.locator('#mode').textContent()).toContain(`Online: replies are sent to ${server.url}`);
      await page.locator('#reply-text').fill(ONLINE_REPLY);
      await page.locator('#send-reply').click();
      expect(await page.locator('#notice').textContent()).toBe('Reply sent.');
      expect(await repliesOnServer()).toHaveLength(2);
      expect(await readdir(outbox)).toEqual([]);
    });

    it('a conversation without a reply key offers no composer, and a forged post is refused', async () => {
      const page = await (await freshContext(browser, { javaScriptEnabled: false })).newPage();
      await page.goto(`${online.url}c/${hostile}`);
      expect(await page.locator('#reply-text').count()).toBe(0);
      expect(await page.locator('#no-reply').count()).toBe(1);
      const r = await raw({ port: online.port, path: `/${online.secret}/c/${hostile}/reply`, method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'message=hi' });
      expect(r.status).toBe(422);
      expect(await repliesOnServer()).toHaveLength(2);
    });

    it('delete asks for the conversation\'s name, then deletes it on the server and here', async () => {
      const page = await (await freshContext(browser, { javaScriptEnabled: false })).newPage();
      await page.goto(`${online.url}c/${real}`);
      await page.locator('a.delete').click();
      expect(await page.locator('h1').textContent()).toContain(real);
      await page.locator('#confirm-name').fill(hostile);
      await page.locator('button.danger').click();
      expect(await page.locator('#notice').textContent()).toContain('nothing was deleted');
      expect(await readdir(read)).toContain(real);
      expect(await repliesOnServer()).toHaveLength(2);

      await page.locator('#confirm-name').fill(real);
      await page.locator('button.danger').click();
      expect(await page.locator('.notice').textContent()).toContain(`Conversation ${real} was deleted`);
      expect(await readdir(read)).not.toContain(real);
      expect(await repliesOnServer()).toEqual([]);
      expect((await form('/login', `codename=${encodeURIComponent(codename)}`)).status).toBe(401);
      expect((await stateFile()).starred ?? []).not.toContain(real);
      expect((await raw({ port: online.port, path: `/${online.secret}/c/${real}/transcript.txt` })).status).toBe(404);
    });
  });

  it('speaks 简体中文 (screenshots in the test\'s temp folder)', async () => {
    const page = await (await freshContext(browser, { javaScriptEnabled: false })).newPage();
    await page.goto(inbox.url);
    await page.locator('a[hreflang="zh-Hans"]').click();
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-Hans');
    expect(await page.locator('h1').textContent()).toBe('对话');
    await page.locator(`tr[data-key="${hostile}"] a`).click();
    expect(new URL(page.url()).searchParams.get('lang')).toBe('zh-Hans');
    expect(await page.locator('.risky-warning').textContent()).toContain('危险文件类型');
    if (process.env.TIPLINE_INBOX_SCREENSHOTS) {
      await page.screenshot({ path: join(process.env.TIPLINE_INBOX_SCREENSHOTS, 'inbox-zh-Hans.png'), fullPage: true, timeout: 60_000 });
      await page.goto(`${inbox.url}c/${hostile}?lang=en`);
      await page.screenshot({ path: join(process.env.TIPLINE_INBOX_SCREENSHOTS, 'inbox-en.png'), fullPage: true, timeout: 60_000 });
      await page.goto(`${inbox.url}?lang=zh-Hans`);
      await page.screenshot({ path: join(process.env.TIPLINE_INBOX_SCREENSHOTS, 'list-zh-Hans.png'), fullPage: true, timeout: 60_000 });
    }
  }, 180_000);

  it('offline, delete removes only the folder here, and says the server still has it', async () => {
    const page = await (await freshContext(browser, { javaScriptEnabled: false })).newPage();
    await page.goto(`${inbox.url}c/${hostile}/delete`);
    expect(await page.locator('p.warning').textContent()).toContain('The server still has the conversation');
    await page.locator('#confirm-name').fill(hostile);
    await page.locator('button.danger').click();
    expect(await page.locator('.notice').textContent()).toContain(`Conversation ${hostile} was deleted`);
    expect(await readdir(read)).not.toContain(hostile);
    expect(await page.locator('tr.conversation').count()).toBe(0);
  });
});
