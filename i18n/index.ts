/**
 * Source-facing text. Each language is a plain JSON file in `messages/`, so a
 * translator edits text without reading code. English is the reference: a test
 * fails if another language lacks one of its keys.
 *
 * @example
 * const t = translator('fr');
 * t('submit.button'); // 'Envoyer'
 * t('submit.error.tooLong', { limit: '10000' });
 */
import en from './messages/en.json' with { type: 'json' };
import es from './messages/es.json' with { type: 'json' };
import fr from './messages/fr.json' with { type: 'json' };
import zhHans from './messages/zh-Hans.json' with { type: 'json' };
import zhHant from './messages/zh-Hant.json' with { type: 'json' };

export type MessageKey = keyof typeof en;
export type Language = { code: string; name: string; dir: 'ltr' | 'rtl'; messages: Record<string, string> };

/** In the order the switcher shows them. `name` is in the language itself. */
export const LANGUAGES: Language[] = [
  { code: 'en', name: 'English', dir: 'ltr', messages: en },
  { code: 'zh-Hans', name: '简体中文', dir: 'ltr', messages: zhHans },
  { code: 'zh-Hant', name: '繁體中文', dir: 'ltr', messages: zhHant },
  { code: 'fr', name: 'Français', dir: 'ltr', messages: fr },
  { code: 'es', name: 'Español', dir: 'ltr', messages: es },
];

export const DEFAULT_LANGUAGE = 'en';

export function findLanguage(code: string | undefined): Language | undefined {
  return LANGUAGES.find((l) => l.code === code);
}

export type Translate = (key: MessageKey, params?: Record<string, string>) => string;

export function translator(code: string): Translate {
  const lang = findLanguage(code) ?? findLanguage(DEFAULT_LANGUAGE)!;
  return (key, params) => {
    const text = lang.messages[key] ?? en[key];
    return params ? text.replace(/\{(\w+)\}/g, (m, name: string) => params[name] ?? m) : text;
  };
}

/** Picks a language from `Accept-Language`; only a default, the visible switcher wins. */
export function negotiateLanguage(acceptLanguage: string | undefined): string {
  if (!acceptLanguage) return DEFAULT_LANGUAGE;
  const wanted = acceptLanguage
    .split(',')
    .map((part) => {
      const [tag, ...params] = part.trim().split(';');
      const q = params.find((p) => p.trim().startsWith('q='));
      return { tag: (tag ?? '').toLowerCase(), q: q ? Number(q.trim().slice(2)) || 0 : 1 };
    })
    .sort((a, b) => b.q - a.q);
  for (const { tag } of wanted) {
    const match = matchTag(tag);
    if (match) return match;
  }
  return DEFAULT_LANGUAGE;
}

function matchTag(tag: string): string | undefined {
  if (tag.startsWith('zh')) {
    const traditional = /hant|-tw|-hk|-mo/.test(tag);
    return findLanguage(traditional ? 'zh-Hant' : 'zh-Hans')?.code;
  }
  const base = tag.split('-')[0];
  return LANGUAGES.find((l) => l.code === base)?.code;
}
