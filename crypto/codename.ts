/**
 * Codenames: how a source comes back. Twelve BIP39 words (128 bits of entropy,
 * from `@scure/bip39`) in the page's language when BIP39 has a word list for it
 * (zh-Hans, zh-Hant, fr, es), otherwise English.
 *
 * From the codename's 128-bit entropy, HKDF-SHA256 derives, with separate
 * `info` strings:
 * - a 32-byte **lookup secret**; the server stores only SHA-256 of it, the
 *   thread id, so a seized database can't be used to log in;
 * - an **X25519 reply key pair**; journalists encrypt replies to its public half.
 *
 * There is no slow KDF on purpose: 128 random bits need no stretching, and Tor
 * Browser without its JIT would take seconds for scrypt or BIP39's PBKDF2.
 *
 * @module
 * @example
 * import { generateCodename, parseCodename, deriveCodenameKeys, threadIdOf } from './codename.ts';
 * const codename = generateCodename('fr');
 * const { entropy } = parseCodename(codename); // forgiving: case, spaces, accents
 * const { lookupSecret, replySecretKey, replyPublicKey } = deriveCodenameKeys(entropy);
 * threadIdOf(lookupSecret); // hex, what the server stores
 */
import { generateMnemonic, mnemonicToEntropy } from '@scure/bip39';
import { wordlist as english } from '@scure/bip39/wordlists/english.js';
import { wordlist as french } from '@scure/bip39/wordlists/french.js';
import { wordlist as simplifiedChinese } from '@scure/bip39/wordlists/simplified-chinese.js';
import { wordlist as spanish } from '@scure/bip39/wordlists/spanish.js';
import { wordlist as traditionalChinese } from '@scure/bip39/wordlists/traditional-chinese.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { abytes, concatBytes, hex, utf8 } from './bytes.ts';

export const CODENAME_WORDS = 12;
const SALT = utf8.encode('tipline codename v1');
const INFO_LOOKUP = utf8.encode('tipline lookup secret');
const INFO_REPLY_KEY = utf8.encode('tipline x25519 reply key');
const THREAD_CONTEXT = utf8.encode('tipline thread id v1\n');

/** Word lists by page language, in the order `parseCodename` tries them after the hinted one. */
export const WORDLISTS: Record<string, string[]> = {
  en: english,
  'zh-Hans': simplifiedChinese,
  'zh-Hant': traditionalChinese,
  fr: french,
  es: spanish,
};

export class CodenameError extends Error {
  override name = 'CodenameError';
  constructor(
    readonly code: 'length' | 'unknown-word' | 'checksum',
    message: string,
  ) {
    super(message);
  }
}

/** A fresh 12-word codename in `lang`'s word list (English when BIP39 has none for it). */
export function generateCodename(lang = 'en'): string {
  return generateMnemonic(WORDLISTS[lang] ?? english, 128);
}

/** Case, accents and spacing don't matter; Chinese may be typed without spaces. */
function tokens(input: string): string[] {
  const text = input.normalize('NFKD').toLowerCase().replace(/\p{M}/gu, '');
  const parts = text.split(/[\s,.;:、，。]+/u).filter(Boolean);
  // A Chinese codename typed without spaces: one word per character.
  if (parts.length < CODENAME_WORDS && parts.some((p) => /\p{Script=Han}/u.test(p))) {
    return parts.flatMap((p) => (/\p{Script=Han}/u.test(p) ? [...p] : [p]));
  }
  return parts;
}

const lookupCache = new Map<string[], Map<string, string>>();
function lookupFor(list: string[]): Map<string, string> {
  let map = lookupCache.get(list);
  if (!map) {
    map = new Map(list.map((w) => [w.normalize('NFKD').toLowerCase().replace(/\p{M}/gu, ''), w]));
    lookupCache.set(list, map);
  }
  return map;
}

/**
 * Reads a codename as typed. Returns its 16-byte entropy and the word list it
 * came from, or throws {@link CodenameError}: `length` (not 12 words),
 * `unknown-word` (a word no list has), `checksum` (a mistyped word).
 */
export function parseCodename(input: string, langHint?: string): { entropy: Uint8Array; lang: string } {
  if (typeof input !== 'string') throw new TypeError('codename must be a string');
  const words = tokens(input);
  if (words.length !== CODENAME_WORDS) {
    throw new CodenameError('length', `a codename has ${CODENAME_WORDS} words; this has ${words.length}`);
  }
  const order = [langHint, ...Object.keys(WORDLISTS)].filter((l, i, all): l is string => !!l && !!WORDLISTS[l] && all.indexOf(l) === i);
  let sawAllWords = false;
  for (const lang of order) {
    const list = WORDLISTS[lang]!;
    const map = lookupFor(list);
    const canonical = words.map((w) => map.get(w));
    if (canonical.some((w) => w === undefined)) continue;
    sawAllWords = true;
    try {
      return { entropy: mnemonicToEntropy(canonical.join(' '), list), lang };
    } catch {
      /* checksum failed for this list; another list may share these words (zh-Hans/zh-Hant) */
    }
  }
  if (sawAllWords) throw new CodenameError('checksum', 'one of the words is mistyped: check each word against what you wrote down');
  throw new CodenameError('unknown-word', 'a word is not in the codename word list: check the spelling');
}

export type CodenameKeys = { lookupSecret: Uint8Array; replySecretKey: Uint8Array; replyPublicKey: Uint8Array };

/** HKDF-SHA256 from the codename's entropy to the lookup secret and the reply key pair. */
export function deriveCodenameKeys(entropy: Uint8Array): CodenameKeys {
  abytes(entropy, 16, 'entropy');
  const lookupSecret = hkdf(sha256, entropy, SALT, INFO_LOOKUP, 32);
  const replySecretKey = hkdf(sha256, entropy, SALT, INFO_REPLY_KEY, 32);
  return { lookupSecret, replySecretKey, replyPublicKey: x25519.getPublicKey(replySecretKey) };
}

/** The thread id the server stores: SHA-256(context ‖ lookup secret), hex. */
export function threadIdOf(lookupSecret: Uint8Array): string {
  abytes(lookupSecret, 32, 'lookupSecret');
  return hex.encode(sha256(concatBytes(THREAD_CONTEXT, lookupSecret)));
}
