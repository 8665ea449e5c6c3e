/**
 * The source's flows in Firefox ESR with Tor Browser's settings, at each of its
 * three security levels (helpers/tor-browser.ts): the browser sources actually
 * use. Chromium runs the full browser suites; here the key flows run once per
 * level, which is what differs between the levels:
 *
 * - Standard and Safer (no JIT, no WebAssembly): a tip with a 9 MiB attachment
 *   (three hash pieces) goes through the page's JavaScript, and the
 *   journalist's `decrypt` gets the message and the file byte for byte, its
 *   piece hash checked.
 * - Safest (no JavaScript): the plain form posts the tip; the server encrypts it.
 * - Every level: the codename field is a text field that input methods can type
 *   into (a Chinese codename is typed into it), kept out of form history and
 *   restoration, and logging in with the codename opens the conversation.
 *
 * With JavaScript off, puppeteer's ElementHandle.click() does nothing and
 * `$$` hangs (STACK.md), so every click is a mouse click at the element's box
 * and every read is `page.evaluate`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptTips } from '../client/journalist/decrypt-tips.ts';
import { fetchTips } from '../client/journalist/fetch-tips.ts';
import { readDecryptedMessages, type DecryptedMessage } from './helpers/browser.ts';
import { addTestJournalist, makeNewsroom, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { startServerProcess, type ServerProcess } from './helpers/server-process.ts';
import { launchTorBrowserLike, SECURITY_LEVELS, type SecurityLevel } from './helpers/tor-browser.ts';

const MiB = 1024 * 1024;
/** Generous: the machine running the tests may be busy, and Safer runs the page without a JIT. */
const TEST_TIMEOUT_MS = 300_000;

let newsroom: TestNewsroom | undefined;
let journalist: TestJournalist;
let server: ServerProcess | undefined;
let inboxDir: string;
let decryptedDir: string;
let filesDir: string;

beforeAll(async () => {
  newsroom = await makeNewsroom();
  journalist = await addTestJournalist(newsroom, 'Avery Reporter');
  server = await startServerProcess(newsroom.dataDir, ['--pow-difficulty', '8']);
  inboxDir = join(newsroom.root, 'inbox');
  decryptedDir = join(newsroom.root, 'decrypted');
  filesDir = join(newsroom.root, 'files');
  await mkdir(inboxDir, { recursive: true });
  await mkdir(filesDir, { recursive: true });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await newsroom?.cleanup();
});

async function receive(): Promise<DecryptedMessage[]> {
  await fetchTips({ server: server!.url, token: journalist.token, outDir: inboxDir });
  const result = await decryptTips({ key: journalist.privateKey, inDir: inboxDir, outDir: decryptedDir });
  expect(result.failed).toEqual([]);
  return (await Promise.all(result.decrypted.map((f) => readDecryptedMessages(f)))).flat();
}

/** Waits until `test` (run in the page) is true; works with the page's JavaScript off. */
async function waitUntil(page: Page, test: string, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await page.evaluate(`(() => { try { return Boolean(${test}); } catch { return false; } })()`).catch(() => false);
    if (ok) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${test}; page text: ${String(await page.evaluate('document.body && document.body.innerText').catch(() => '?')).slice(0, 500)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A real mouse click at the middle of `selector`'s box (ElementHandle.click() does nothing with JavaScript off). */
async function clickAt(page: Page, selector: string): Promise<void> {
  const sel = JSON.stringify(selector);
  // On a loaded machine the layout can still move after the scroll (a note appears above the button):
  // click only once the point is on the element itself, as a person would.
  for (let attempt = 0; ; attempt++) {
    await page.evaluate(`document.querySelector(${sel}).scrollIntoView({ block: 'center' })`);
    await new Promise((r) => setTimeout(r, 100));
    const box = (await page.evaluate(`(() => { const e = document.querySelector(${sel}); const r = e.getBoundingClientRect(); const x = r.x + r.width / 2, y = r.y + r.height / 2; const hit = document.elementFromPoint(x, y); return { x, y, onIt: hit !== null && (hit === e || e.contains(hit)) }; })()`)) as { x: number; y: number; onIt: boolean };
    if (box.onIt || attempt >= 20) {
      await page.mouse.click(box.x, box.y);
      return;
    }
  }
}

/** Types `value` character by character as committed text (an input method's way), Enter for a newline. */
async function typeText(page: Page, value: string): Promise<void> {
  for (const ch of value) {
    if (ch === '\n') await page.keyboard.press('Enter');
    else await page.keyboard.sendCharacter(ch);
  }
}

const text = (page: Page, selector: string) => page.evaluate(`document.querySelector(${JSON.stringify(selector)})?.textContent ?? ''`) as Promise<string>;

describe.each(SECURITY_LEVELS)('Firefox ESR as Tor Browser at %s', (level: SecurityLevel) => {
  let browser: Browser | undefined;
  const js = level !== 'safest';

  beforeAll(async () => {
    browser = await launchTorBrowserLike(level);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('runs the page\'s JavaScript only below Safest, and the level\'s prefs are in force', async () => {
    const page = await browser!.newPage();
    await page.goto(`${server!.url}/submit`);
    // The page script reveals the attachment picker; without JavaScript it stays hidden.
    await waitUntil(page, `document.getElementById('attachments').hidden === ${!js}`);
    // privacy.resistFingerprinting puts every page in UTC, whatever the machine's zone.
    expect(await page.evaluate('new Date(2026, 0, 1).getTimezoneOffset()')).toBe(0);
    // Safer and Safest turn WebAssembly off (javascript.options.wasm), so nothing heavy may rely on it.
    expect(await page.evaluate('typeof WebAssembly')).toBe(level === 'standard' ? 'object' : 'undefined');
    // mathml.disabled (Safer and Safest): a MathML element is a plain Element.
    expect(await page.evaluate(`document.createElementNS('http://www.w3.org/1998/Math/MathML', 'math').constructor.name`)).toBe(level === 'standard' ? 'MathMLElement' : 'Element');
    // svg.disabled (Safest only).
    expect(await page.evaluate(`document.createElementNS('http://www.w3.org/2000/svg', 'svg') instanceof SVGElement`)).toBe(level !== 'safest');
    await page.close();
  }, TEST_TIMEOUT_MS);

  it(js ? 'sends a tip with a 9 MiB attachment that decrypt opens byte for byte' : 'sends a tip through the plain form, encrypted by the server', async () => {
    const page = await browser!.newPage();
    const message = `Sent from Firefox at ${level} ${randomBytes(6).toString('hex')}\n海外警察服务站的人昨天来过我家。`;
    const file = randomBytes(9 * MiB + 321);
    const path = join(filesDir, `${level}.bin`);
    await writeFile(path, file);
    await page.goto(`${server!.url}/submit`);
    const loaded = Date.now();
    await clickAt(page, '#message');
    await typeText(page, message);
    // The plain form is accepted 3 s after its page was issued at the earliest (its token's time lock,
    // counted from the next whole second, so up to 4 s): a person types longer than that.
    if (!js) await new Promise((r) => setTimeout(r, Math.max(0, 4000 - (Date.now() - loaded))));
    if (js) {
      const input = (await page.$('#attach')) as import('puppeteer-core').ElementHandle<HTMLInputElement> | null;
      await input!.uploadFile(path);
      await waitUntil(page, `document.querySelector('.attachment-note')`);
    }
    const started = Date.now();
    await clickAt(page, '#submit-button');
    const watch = setInterval(() => void page.evaluate(`document.getElementById('status').textContent + ' | ' + document.getElementById('attachment-list')?.innerText`).then((s) => console.log(`${((Date.now() - started) / 1000).toFixed(0)} s: ${String(s).replace(/\s+/g, ' ')}`), () => {}), 3000);
    await waitUntil(page, `document.getElementById('codename') && document.getElementById('codename').textContent.trim().split(/\\s+/).length >= 6`, 200_000);
    clearInterval(watch);
    const seconds = (Date.now() - started) / 1000;
    console.log(`Firefox ${level}: tip${js ? ' with 9 MiB attachment' : ''} sent in ${seconds.toFixed(1)} s`);
    const codename = (await text(page, '#codename')).trim();
    await page.close();

    const got = (await receive()).filter((m) => m.message.includes(message.split('\n')[0]!));
    expect(got).toHaveLength(1);
    expect(got[0]!.message.replace(/\r\n/g, '\n')).toContain(message);
    expect(got[0]!.meta.encryptedBy).toBe(js ? 'browser' : 'server');
    if (js) {
      const attachments = got[0]!.meta.attachments as { savedAs: string; sha256: string }[];
      expect(attachments).toHaveLength(1);
      // Buffer.equals, not toEqual: vitest's deep equality walks 9 MiB a byte at a time (about a minute).
      const opened = await readFile(join(got[0]!.folder, attachments[0]!.savedAs));
      expect(opened.length).toBe(file.length);
      expect(opened.equals(file)).toBe(true);
    }

    // The codename logs in, typed into the field as a keyboard would.
    const login = await browser!.newPage();
    await login.goto(`${server!.url}/login`);
    await clickAt(login, '#codename-input');
    await login.keyboard.type(codename);
    await clickAt(login, '#login-form button[type=submit]');
    await waitUntil(login, `document.getElementById('reply') && document.getElementById('reply').offsetParent !== null`, 30_000);
    await login.close();
  }, TEST_TIMEOUT_MS);

  it('takes a codename typed through an input method and keeps it out of form history and restoration', async () => {
    const page = await browser!.newPage();
    await page.goto(`${server!.url}/login?lang=zh-Hans`);
    const field = (await page.evaluate(`(() => { const e = document.getElementById('codename-input'); return { type: e.type, autocomplete: e.getAttribute('autocomplete'), autocapitalize: e.getAttribute('autocapitalize'), spellcheck: e.spellcheck, autocorrect: e.getAttribute('autocorrect') }; })()`)) as Record<string, unknown>;
    // A password field turns input methods off in Firefox on Windows and macOS; a text field doesn't.
    expect(field).toEqual({ type: 'text', autocomplete: 'off', autocapitalize: 'off', spellcheck: false, autocorrect: 'off' });
    await clickAt(page, '#codename-input');
    // What an input method commits: whole characters, not key presses.
    await typeText(page, '岛 屿 流 星 琥 珀');
    expect(await page.evaluate(`document.getElementById('codename-input').value`)).toBe('岛 屿 流 星 琥 珀');
    // A reload must not put the codename back into the field (autocomplete="off").
    await page.reload();
    await waitUntil(page, `document.getElementById('codename-input')`);
    expect(await page.evaluate(`document.getElementById('codename-input').value`)).toBe('');
    await page.close();
  }, TEST_TIMEOUT_MS);
});
