/**
 * The inbox's interface text, in plain JSON files under `messages/` (the same
 * kind as the source pages' server/i18n), English as the reference; a test
 * fails if another language lacks one of its keys. And `showControls`, which
 * makes invisible direction-changing characters visible in untrusted text.
 *
 * @module
 * @example
 * const t = inboxTranslator('zh-Hans');
 * t('reply.heading'); // '回复'
 * showControls('abc\u202Eexe.txt'); // 'abc[U+202E]exe.txt'
 */
import en from './messages/en.json' with { type: 'json' };
import zhHans from './messages/zh-Hans.json' with { type: 'json' };

export type InboxMessageKey = keyof typeof en;
export type InboxTranslate = (key: InboxMessageKey, params?: Record<string, string>) => string;

/** In the order the switcher shows them; `name` is in the language itself. */
export const INBOX_LANGUAGES = [
  { code: 'en', name: 'English', messages: en as Record<string, string> },
  { code: 'zh-Hans', name: '简体中文', messages: zhHans as Record<string, string> },
] as const;

export function inboxLanguage(code: string | undefined): string {
  return INBOX_LANGUAGES.find((l) => l.code === code)?.code ?? 'en';
}

export function inboxTranslator(code: string): InboxTranslate {
  const lang = INBOX_LANGUAGES.find((l) => l.code === code) ?? INBOX_LANGUAGES[0];
  return (key, params) => {
    const text = lang.messages[key] ?? en[key];
    return params ? text.replace(/\{(\w+)\}/g, (m, name: string) => params[name] ?? m) : text;
  };
}

/** Bidi overrides, embeddings, isolates and marks: they can make text read in another order than it is stored. */
const BIDI_CONTROLS = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g;

export function hasControls(text: string): boolean {
  BIDI_CONTROLS.lastIndex = 0;
  return BIDI_CONTROLS.test(text);
}

export function showControls(text: string): string {
  return text.replace(BIDI_CONTROLS, (ch) => `[U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
}
