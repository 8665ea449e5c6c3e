/** Source-facing text: every language complete, and the language chosen the way a source expects. */
import { describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LANGUAGES, negotiateLanguage, translator } from '../i18n/index.ts';
import { addTestJournalist, makeNewsroom, openTestApp } from './helpers/newsroom.ts';

const dir = join(import.meta.dirname, '..', 'i18n', 'messages');
const read = async (file: string) => JSON.parse(await readFile(join(dir, file), 'utf8')) as Record<string, string>;
const placeholders = (s: string) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('message files', () => {
  it('include the five required languages, each registered', async () => {
    const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
    expect(files).toEqual(expect.arrayContaining(['en', 'es', 'fr', 'zh-Hans', 'zh-Hant']));
    expect(LANGUAGES.map((l) => l.code).sort()).toEqual(files);
  });

  it('have every key English has, no stray keys, and the same placeholders', async () => {
    const en = await read('en.json');
    for (const lang of LANGUAGES.filter((l) => l.code !== 'en')) {
      const messages = await read(`${lang.code}.json`);
      const missing = Object.keys(en).filter((k) => !(k in messages));
      const extra = Object.keys(messages).filter((k) => !(k in en));
      expect(missing, `${lang.code} is missing keys`).toEqual([]);
      expect(extra, `${lang.code} has keys English lacks`).toEqual([]);
      for (const key of Object.keys(en)) {
        expect(messages[key]!.trim().length, `${lang.code} ${key} is empty`).toBeGreaterThan(0);
        expect(placeholders(messages[key]!), `${lang.code} ${key}`).toEqual(placeholders(en[key]!));
      }
    }
  });

  it('fills placeholders', () => {
    expect(translator('fr')('submit.error.tooLong', { limit: '42' })).toContain('42');
  });
});

describe('choosing a language', () => {
  it('takes Accept-Language only as a default', () => {
    expect(negotiateLanguage('fr-CA,fr;q=0.9,en;q=0.5')).toBe('fr');
    expect(negotiateLanguage('zh-CN,zh;q=0.9')).toBe('zh-Hans');
    expect(negotiateLanguage('zh-TW')).toBe('zh-Hant');
    expect(negotiateLanguage('zh-Hant-HK')).toBe('zh-Hant');
    expect(negotiateLanguage('de-DE, es;q=0.3')).toBe('es');
    expect(negotiateLanguage('de')).toBe('en');
    expect(negotiateLanguage(undefined)).toBe('en');
    expect(negotiateLanguage(';;;q=,,')).toBe('en');
  });

  it('renders pages in the chosen language, with lang and dir, and a switcher that works without JavaScript', async () => {
    const newsroom = await makeNewsroom();
    await addTestJournalist(newsroom, 'Ana');
    const t = await openTestApp(newsroom);
    try {
      for (const lang of LANGUAGES) {
        const html = await (await t.app.request(`/submit?lang=${lang.code}`, { headers: { 'accept-language': 'es' } })).text();
        expect(html).toContain(`<html lang="${lang.code}" dir="${lang.dir}">`);
        expect(html).toContain(lang.messages['submit.button']!);
        // The form posts back in the same language; links keep it too.
        if (lang.code !== 'en') expect(html).toContain(`action="/submit?lang=${lang.code}"`);
        for (const other of LANGUAGES) if (other.code !== lang.code) expect(html).toContain(`href="/submit?lang=${other.code}"`);
      }
      const byHeader = await (await t.app.request('/', { headers: { 'accept-language': 'zh-TW' } })).text();
      expect(byHeader).toContain('<html lang="zh-Hant"');
      const unknown = await (await t.app.request('/?lang=xx', { headers: { 'accept-language': 'fr' } })).text();
      expect(unknown).toContain('<html lang="fr"');
    } finally {
      await t.close();
      await newsroom.cleanup();
    }
  });
});
