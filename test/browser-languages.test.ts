/**
 * The source pages in every language, in a real headless Chromium against a
 * real `tipline serve` process: a source who can't read English, with
 * JavaScript off (Tor Browser at "Safest"), picks their language from the
 * switcher, sends a tip in it, gets a codename in their own words, and the
 * journalist reads exactly what they typed. Along the way: `<html lang dir>` on
 * every page, the Tor Browser hint, and that no page talks to anyone but our
 * server.
 *
 * Names of links and buttons come from the message files, not from this file,
 * so the test follows a translator's edits and checks what a screen reader
 * would announce.
 *
 * One newsroom, server and browser for the file (key generation and starting
 * Chromium dominate the runtime); each case gets a fresh context.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decryptTips } from '../client/journalist/decrypt-tips.ts';
import { fetchTips } from '../client/journalist/fetch-tips.ts';
import { showTorHint } from '../client/source/tor-hint.ts';
import { CODENAME_WORDS, WORDLISTS } from '../crypto/codename.ts';
import en from '../i18n/messages/en.json' with { type: 'json' };
import es from '../i18n/messages/es.json' with { type: 'json' };
import fr from '../i18n/messages/fr.json' with { type: 'json' };
import zhHans from '../i18n/messages/zh-Hans.json' with { type: 'json' };
import zhHant from '../i18n/messages/zh-Hant.json' with { type: 'json' };
import { freshContext, launchChromium, readDecryptedMessages } from './helpers/browser.ts';
import { addTestJournalist, makeNewsroom, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { startServerProcess, type ServerProcess } from './helpers/server-process.ts';

type Messages = typeof en;

/**
 * The five languages DESIGN.md requires. `name` is what the switcher shows (the
 * language's own name); `browserLocale` is a browser set to a *different*
 * language, so the page first comes up in that one (through Accept-Language)
 * and the source really has to use the switcher, English included. `text` is
 * what a source might write, with the characters most likely to be mangled in
 * that language: CJK, guillemets and accents, ñ and ¿.
 */
const CASES: { code: string; name: string; browserLocale: string; startsIn: string; messages: Messages; text: string }[] = [
  { code: 'en', name: 'English', browserLocale: 'es-ES', startsIn: 'es', messages: en, text: 'The mayor’s “consultancy” invoices — 3 × €40 000 — were never paid out.' },
  { code: 'zh-Hans', name: '简体中文', browserLocale: 'en-US', startsIn: 'en', messages: zhHans, text: '海外警察服务站的人昨天来过我家，问我父母的地址。' },
  { code: 'zh-Hant', name: '繁體中文', browserLocale: 'zh-CN', startsIn: 'zh-Hans', messages: zhHant, text: '海外警察服務站的人昨天來過我家，問我父母的地址。' },
  { code: 'fr', name: 'Français', browserLocale: 'zh-TW', startsIn: 'zh-Hant', messages: fr, text: 'Le préfet a reçu « une enveloppe » à Noël ; ça s’est passé à l’hôtel de ville, côté cour.' },
  { code: 'es', name: 'Español', browserLocale: 'fr-FR', startsIn: 'fr', messages: es, text: '¿Quién pagó la campaña? El señor Núñez recibió dinero en efectivo, ¡en pesos!' },
];

const TOR_BROWSER_UA = 'Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0';

let newsroom: TestNewsroom | undefined;
let journalist: TestJournalist;
let server: ServerProcess | undefined;
let browser: Browser | undefined;
let serverOrigin: string;

/** Everything any context in this file asked for, and every console line: checked at the end, all at once. */
const allRequests: string[] = [];
const consoleLines: string[] = [];
/** What each language's source typed, by language code, for the journalist's side to find. */
const sent = new Map<string, string>();

beforeAll(async () => {
  newsroom = await makeNewsroom();
  journalist = await addTestJournalist(newsroom, 'Avery Reporter');
  // The no-JavaScript form's wait (its token's time lock) is played out in browser-submit and browser-firefox; not five times here.
  server = await startServerProcess(newsroom.dataDir, ['--no-js-form-wait', '0']);
  serverOrigin = new URL(server.url).origin;
  browser = await launchChromium();
});

afterAll(async () => {
  // Each step guarded, so one failed start-up still lets the others clean up.
  await browser?.close();
  await server?.stop();
  await newsroom?.cleanup();
});

/**
 * A fresh context that reports into the file-wide request and console logs.
 * Listening on the context rather than a page also catches the pages a click
 * opens, workers, and the favicon Chromium fetches on its own.
 */
async function watchedContext(options: Parameters<Browser['newContext']>[0] = {}): Promise<BrowserContext> {
  const context = await freshContext(browser!, options);
  context.on('request', (r) => allRequests.push(r.url()));
  context.on('console', (m) => consoleLines.push(m.text()));
  return context;
}

/** The page says which language it is in, and which way it reads (DESIGN.md: ready for right-to-left). */
async function expectLanguage(page: Page, code: string): Promise<void> {
  const html = page.locator('html');
  expect(await html.getAttribute('lang'), `lang on ${page.url()}`).toBe(code);
  // All five are left-to-right today; the attribute must be there all the same,
  // so an RTL language added later only needs its `dir` in the language table.
  expect(await html.getAttribute('dir'), `dir on ${page.url()}`).toBe('ltr');
}

describe('every language, with JavaScript off', () => {
  for (const lang of CASES) {
    it(`${lang.name} (${lang.code}): switch language, send a tip, get a codename in ${lang.code} words, come back in ${lang.code}`, async () => {
      const context = await watchedContext({ javaScriptEnabled: false, locale: lang.browserLocale });
      try {
        const page = await context.newPage();
        const t = lang.messages;
        const text = `${lang.code} ${randomUUID()}\n${lang.text}`;

        await page.goto(`${server!.url}/`);
        // The browser's language picks the first page; a test that started in the
        // target language would never click the switcher.
        await expectLanguage(page, lang.startsIn);

        await page.locator('header nav').getByRole('link', { name: lang.name, exact: true }).click();
        await page.waitForURL((u) => u.searchParams.get('lang') === lang.code);
        await expectLanguage(page, lang.code);
        // The switcher now marks this language as the current one, not as a link.
        await expect(page.locator('header nav [aria-current="true"]').textContent()).resolves.toBe(lang.name);

        // The page's own link, not a typed URL: the language must survive the click.
        await page.locator('main').getByRole('link', { name: t['landing.start'], exact: true }).click();
        await page.waitForURL((u) => u.pathname === '/submit');
        await expectLanguage(page, lang.code);

        await page.getByLabel(t['submit.message'], { exact: true }).fill(text);
        await page.getByRole('button', { name: t['submit.button'], exact: true }).click();
        await page.getByRole('heading', { name: t['success.heading'], exact: true }).waitFor({ state: 'visible' });
        await expectLanguage(page, lang.code);
        sent.set(lang.code, text);

        // The codename is in the source's language: twelve words from its BIP39 list.
        // Compared NFC-to-NFC: the lists are NFKD and how accents are encoded is
        // not something a source sees (login forgives it too).
        const codename = (await page.locator('#codename').textContent())!.trim();
        const words = codename.split(/\s+/u);
        expect(words).toHaveLength(CODENAME_WORDS);
        const list = new Set(WORDLISTS[lang.code]!.map((w) => w.normalize('NFC')));
        expect(words.filter((w) => !list.has(w.normalize('NFC'))), `codename "${codename}"`).toEqual([]);

        // "I have written it down" is a plain `required` checkbox: without JavaScript the
        // browser itself refuses to leave the only page that shows the codename.
        const confirm = page.getByLabel(t['codename.confirm'], { exact: true });
        const continueButton = page.getByRole('button', { name: t['codename.continue'], exact: true });
        const successUrl = page.url();
        // Navigations only: the favicon may be fetched whenever Chromium gets round to it.
        const navigations: string[] = [];
        page.on('request', (r) => {
          if (r.isNavigationRequest()) navigations.push(r.url());
        });
        await continueButton.click();
        // Chromium blocks the submission during the click itself; a navigation would
        // have issued its request well within this pause.
        await page.waitForTimeout(300);
        expect(page.url()).toBe(successUrl);
        expect(navigations).toEqual([]);
        await expect(page.locator('#codename').textContent()).resolves.toBe(codename);
        expect(await page.locator('input[name="confirmed"]:invalid').count()).toBe(1);

        await confirm.check();
        await continueButton.click();
        await page.waitForURL((u) => u.pathname === '/');
        expect(navigations).toHaveLength(1);
        await page.getByRole('heading', { name: t['landing.heading'], exact: true }).waitFor({ state: 'visible' });
        await expectLanguage(page, lang.code);

        // With JavaScript off nothing may reveal the hint (DESIGN.md: JS only adds).
        expect(await page.locator('#tor-hint').isHidden()).toBe(true);
      } finally {
        await context.close();
      }
    });
  }

  it('the journalist reads each language\'s tip exactly, marked as encrypted by the server, with its language', async () => {
    // Without all five sources the checks below would pass on fewer tips than they claim.
    expect([...sent.keys()].sort()).toEqual(CASES.map((c) => c.code).sort());

    const inboxDir = join(newsroom!.root, 'inbox');
    const decryptedDir = join(newsroom!.root, 'decrypted');
    await mkdir(inboxDir, { recursive: true });
    await fetchTips({ server: server!.url, token: journalist.token, outDir: inboxDir });
    const result = await decryptTips({ key: journalist.privateKey, inDir: inboxDir, outDir: decryptedDir });
    expect(result.failed).toEqual([]);

    const received = await readDecryptedMessages(decryptedDir);
    for (const [code, text] of sent) {
      const matches = received.filter((r) => r.message === text);
      expect(matches, `the ${code} tip`).toHaveLength(1);
      // The no-JS form was used, so the server saw the plaintext: the journalist must be told.
      expect(matches[0]!.meta.encryptedBy).toBe('server');
      expect(matches[0]!.meta.language).toBe(code);
    }
    expect(received).toHaveLength(CASES.length);
    // The server held these plaintexts in memory; it must not have printed any of them.
    for (const text of sent.values()) expect(server!.output()).not.toContain(text.split('\n')[1]);
  });
});

describe('the Tor Browser hint', () => {
  const hint = (page: Page) => page.locator('#tor-hint');

  it('is shown with JavaScript on in Chromium on 127.0.0.1, on the landing and submit pages', async () => {
    const context = await watchedContext();
    try {
      const page = await context.newPage();
      for (const path of ['/', '/submit']) {
        await page.goto(`${server!.url}${path}`);
        // page.js is a module script, so it has run by the time `load` fires (goto's default).
        await hint(page).waitFor({ state: 'visible' });
        expect(await hint(page).textContent()).toBe(en['hint.tor']);
      }
    } finally {
      await context.close();
    }
  });

  it('stays hidden with JavaScript off: the `hidden` attribute is what the server sent', async () => {
    const context = await watchedContext({ javaScriptEnabled: false });
    try {
      const page = await context.newPage();
      for (const path of ['/', '/submit']) {
        await page.goto(`${server!.url}${path}`);
        expect(await hint(page).isHidden()).toBe(true);
        expect(await hint(page).getAttribute('hidden')).not.toBeNull();
      }
    } finally {
      await context.close();
    }
  });

  it('is still shown to a Firefox (Tor Browser) user agent when the page is not on an .onion address', async () => {
    const context = await watchedContext({ userAgent: TOR_BROWSER_UA });
    try {
      const page = await context.newPage();
      for (const path of ['/', '/submit']) {
        await page.goto(`${server!.url}${path}`);
        await hint(page).waitFor({ state: 'visible' });
      }
    } finally {
      await context.close();
    }
  });

  // Chromium can't be put on an .onion address, so the one case that hides the
  // hint is checked by calling the function with stand-ins for the page objects.
  describe('showTorHint, with fake page objects', () => {
    const CHROME_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36';
    const ONION = 'duskgytldkxiuqc6.onion';

    function run(hostname: string, userAgent: string, withHint = true): { shown: boolean; hidden: boolean | undefined } {
      // Starts hidden, as the server sends it.
      const element = { hidden: true };
      const doc = { getElementById: (id: string) => (withHint && id === 'tor-hint' ? element : null) };
      const shown = showTorHint(doc as unknown as Document, { hostname } as Location, { userAgent } as Navigator);
      return { shown, hidden: withHint ? element.hidden : undefined };
    }

    it('hides it on an .onion address in Tor Browser (Firefox)', () => {
      expect(run(ONION, TOR_BROWSER_UA)).toEqual({ shown: false, hidden: true });
    });

    it('shows it on an .onion address in a browser that is not Firefox', () => {
      expect(run(ONION, CHROME_UA)).toEqual({ shown: true, hidden: false });
    });

    it('shows it off .onion, whatever the browser', () => {
      expect(run('127.0.0.1', TOR_BROWSER_UA)).toEqual({ shown: true, hidden: false });
      expect(run('tips.example.org', CHROME_UA)).toEqual({ shown: true, hidden: false });
      // A name that merely contains "onion" is not an onion service.
      expect(run('onion.example.org', TOR_BROWSER_UA)).toEqual({ shown: true, hidden: false });
    });

    it('does nothing on a page without the hint', () => {
      expect(run('127.0.0.1', CHROME_UA, false)).toEqual({ shown: false, hidden: undefined });
    });
  });
});

describe('across every page visited above', () => {
  it('Chromium talked only to our server, and no Content Security Policy complaint was logged', () => {
    // Fonts, CDNs, analytics, an icon from elsewhere: DESIGN.md's page rules allow
    // none. Chromium reports a CSP block (an inline script or style, a foreign
    // load) only as a console message, with or without JavaScript.
    expect(allRequests.length).toBeGreaterThan(CASES.length * 4);
    expect(allRequests.filter((u) => new URL(u).origin !== serverOrigin)).toEqual([]);
    expect(consoleLines.filter((l) => l.includes('Content Security Policy'))).toEqual([]);
  });
});
