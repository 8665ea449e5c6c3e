/** Codenames and their key derivation, against published BIP39 vectors and our own pinned vectors. */
import { describe, expect, it } from 'vitest';
import { hex } from '../crypto/bytes.ts';
import { CodenameError, WORDLISTS, deriveCodenameKeys, generateCodename, parseCodename, threadIdOf } from '../crypto/codename.ts';
import vectors from './vectors/codename.json' with { type: 'json' };

describe('codename vectors', () => {
  it('agree with the BIP39 reference vectors (English)', () => {
    // From the BIP39 reference test vectors (trezor/python-mnemonic vectors.json).
    const published: Record<string, string> = {
      '00000000000000000000000000000000': 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about',
      '7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f': 'legal winner thank year wave sausage worth useful legal winner thank yellow',
      ffffffffffffffffffffffffffffffff: 'zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo wrong',
      '9e885d952ad362caeb4efe34a8e91bd2': 'ozone drill grab fiber curtain grace pudding thank cruise elder eight picnic',
    };
    for (const c of vectors.cases) expect(c.codenames.en).toBe(published[c.entropy]);
  });

  it('derive the pinned lookup secret, thread id and reply key from every word list', () => {
    for (const c of vectors.cases) {
      for (const [lang, codename] of Object.entries(c.codenames)) {
        const { entropy, lang: found } = parseCodename(codename, lang);
        expect(hex.encode(entropy)).toBe(c.entropy);
        expect(WORDLISTS[found]).toBe(WORDLISTS[lang]);
        const keys = deriveCodenameKeys(entropy);
        expect(hex.encode(keys.lookupSecret)).toBe(c.lookupSecret);
        expect(threadIdOf(keys.lookupSecret)).toBe(c.threadId);
        expect(hex.encode(keys.replySecretKey)).toBe(c.replySecretKey);
        expect(hex.encode(keys.replyPublicKey)).toBe(c.replyPublicKey);
      }
    }
  });

  it('keeps the lookup secret, the reply key and the thread id apart', () => {
    const k = deriveCodenameKeys(new Uint8Array(16).fill(7));
    expect(hex.encode(k.lookupSecret)).not.toBe(hex.encode(k.replySecretKey));
    expect(threadIdOf(k.lookupSecret)).not.toBe(hex.encode(k.lookupSecret));
  });
});

describe('generateCodename', () => {
  it('makes 12 words from the page language, English otherwise, different each time', () => {
    for (const lang of ['en', 'zh-Hans', 'zh-Hant', 'fr', 'es']) {
      const words = generateCodename(lang).split(' ');
      expect(words).toHaveLength(12);
      for (const w of words) expect(WORDLISTS[lang]).toContain(w);
    }
    expect(WORDLISTS.en).toContain(generateCodename('xx').split(' ')[0]);
    expect(generateCodename()).not.toBe(generateCodename());
  });
});

describe('parseCodename is forgiving but exact', () => {
  const fr = vectors.cases[3]!.codenames.fr;
  const es = vectors.cases[3]!.codenames.es;
  const en = vectors.cases[3]!.codenames.en;
  const zh = vectors.cases[3]!.codenames['zh-Hans'];
  const entropy = vectors.cases[3]!.entropy;

  it('ignores case, extra spaces and line breaks', () => {
    expect(hex.encode(parseCodename(`  ${en.toUpperCase().replace(/ /g, '   ')}\n`).entropy)).toBe(entropy);
  });

  it('accepts accented words composed or decomposed, and without accents', () => {
    for (const variant of [fr.normalize('NFC'), fr.normalize('NFKD'), fr.normalize('NFKD').replace(/\p{M}/gu, '')]) {
      expect(hex.encode(parseCodename(variant, 'fr').entropy)).toBe(entropy);
    }
    expect(hex.encode(parseCodename(es.normalize('NFC').toUpperCase()).entropy)).toBe(entropy);
  });

  it('accepts Chinese with or without spaces, and full-width separators', () => {
    expect(hex.encode(parseCodename(zh.replace(/ /g, ''), 'zh-Hans').entropy)).toBe(entropy);
    expect(hex.encode(parseCodename(zh.replace(/ /g, '，')).entropy)).toBe(entropy);
  });

  it('finds the word list without a hint', () => {
    expect(parseCodename(fr).lang).toBe('fr');
    expect(parseCodename(es).lang).toBe('es');
  });

  it('catches a mistyped word in every list by the checksum', () => {
    for (const [lang, list] of Object.entries(WORDLISTS)) {
      const words = vectors.cases[3]!.codenames[lang as keyof typeof vectors.cases[3]['codenames']].split(' ');
      // Swap one word for another valid word: still 12 known words, wrong checksum (2048 choices; skip the rare lucky one).
      let caught = 0;
      for (let i = 0; i < 8; i++) {
        const bad = [...words];
        bad[i] = list[(list.indexOf(bad[i]!) + 1 + i) % list.length]!;
        try {
          parseCodename(bad.join(' '), lang);
        } catch (e) {
          expect(e).toBeInstanceOf(CodenameError);
          expect((e as CodenameError).code).toBe('checksum');
          caught++;
        }
      }
      expect(caught, lang).toBeGreaterThanOrEqual(6);
    }
  });

  it('says what is wrong: too few words, an unknown word', () => {
    expect(() => parseCodename('abandon abandon')).toThrow(expect.objectContaining({ code: 'length' }));
    expect(() => parseCodename(en.replace('ozone', 'ozonee'))).toThrow(expect.objectContaining({ code: 'unknown-word' }));
    expect(() => parseCodename('')).toThrow(expect.objectContaining({ code: 'length' }));
    expect(() => parseCodename(42 as never)).toThrow(TypeError);
  });

  it('checks inputs at the door', () => {
    for (const bad of [new Uint8Array(15), new Uint8Array(17), 'x', null]) expect(() => deriveCodenameKeys(bad as never)).toThrow();
    for (const bad of [new Uint8Array(31), 'x', null]) expect(() => threadIdOf(bad as never)).toThrow();
  });
});
