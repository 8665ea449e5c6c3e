/**
 * The source pages' HTML. Plain server-rendered forms that work with JavaScript
 * off; `submit.js` adds browser-side encryption where it runs. No inline script
 * or style (the CSP forbids both), nothing from another origin.
 */
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { LANGUAGES, findLanguage, type Translate } from '../i18n/index.ts';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export type PageContext = {
  t: Translate;
  lang: string;
  /** Path of the current page, for the language switcher links. */
  path: string;
};

/** A link that keeps the source's chosen language (there are no cookies to remember it). */
export function href(ctx: PageContext, path: string): string {
  return ctx.lang === 'en' ? path : `${path}?lang=${encodeURIComponent(ctx.lang)}`;
}

export function layout(ctx: PageContext, title: string, body: Html, extraHead: Html = html``): Html {
  const dir = findLanguage(ctx.lang)?.dir ?? 'ltr';
  return html`<!doctype html>
<html lang="${ctx.lang}" dir="${dir}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · ${ctx.t('site.title')}</title>
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/static/style.css">
${extraHead}
<script type="module" src="/static/page.js"></script>
</head>
<body>
<a class="skip" href="#main">${ctx.t('site.skip')}</a>
<header class="site">
<a class="brand" href="${href(ctx, '/')}">${ctx.t('site.title')}</a>
<nav aria-label="${ctx.t('nav.language')}" class="languages">
${LANGUAGES.map((l) =>
  l.code === ctx.lang
    ? html`<span lang="${l.code}" aria-current="true">${l.name}</span> `
    : html`<a lang="${l.code}" hreflang="${l.code}" href="${ctx.path}?lang=${l.code}">${l.name}</a> `,
)}
</nav>
</header>
<main id="main">
<p id="tor-hint" class="tor-hint" role="note" hidden>${ctx.t('hint.tor')}</p>
${body}
</main>
</body>
</html>`;
}

export function landingPage(ctx: PageContext, newsroomFingerprint: string): Html {
  const { t } = ctx;
  return layout(
    ctx,
    t('landing.heading'),
    html`<h1>${t('landing.heading')}</h1>
<p>${t('landing.intro')}</p>
<section aria-labelledby="safety">
<h2 id="safety">${t('landing.safety.heading')}</h2>
<ul>
<li>${t('landing.safety.tor')}</li>
<li>${t('landing.safety.device')}</li>
<li>${t('landing.safety.network')}</li>
<li>${t('landing.safety.identify')}</li>
</ul>
</section>
<p><a class="button" href="${href(ctx, '/submit')}">${t('landing.start')}</a></p>
<section aria-labelledby="key">
<h2 id="key">${t('landing.fingerprint.heading')}</h2>
<p>${t('landing.fingerprint.text')}</p>
<p class="fingerprint" id="newsroom-fingerprint">${newsroomFingerprint}</p>
</section>`,
  );
}

export type SubmitPageOptions = {
  newsroomPublicKey: string;
  maxMessageChars: number;
  message?: string;
  error?: string;
};

export function submitPage(ctx: PageContext, o: SubmitPageOptions): Html {
  const { t } = ctx;
  // Strings the script needs, handed over as data attributes (no inline script allowed).
  const strings = {
    checking: t('submit.status.checking'),
    encrypting: t('submit.status.encrypting'),
    sending: t('submit.status.sending'),
    notSent: t('submit.notSent'),
    errorManifest: t('submit.error.manifest'),
    errorNetwork: t('submit.error.network'),
    errorServer: t('submit.error.server'),
    errorEmpty: t('submit.error.empty'),
    errorTooLong: t('submit.error.tooLong', { limit: String(o.maxMessageChars) }),
    encryptionJs: t('submit.encryption.js'),
  };
  const data = Object.entries(strings).map(([k, v]) => html` data-t-${raw(k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`))}="${v}"`);
  return layout(
    ctx,
    t('submit.heading'),
    html`<h1>${t('submit.heading')}</h1>
<form id="tip-form" method="post" action="${href(ctx, '/submit')}" accept-charset="utf-8"${data}>
<p id="encryption-note" class="note">${t('submit.encryption.nojs')}</p>
${o.error ? html`<div id="form-error" class="error" role="alert"><strong>${t('submit.notSent')}</strong> ${o.error}</div>` : html`<div id="form-error" class="error" role="alert" hidden></div>`}
<label for="message">${t('submit.message')}</label>
<p id="message-hint" class="hint">${t('submit.messageHint')}</p>
<textarea id="message" name="message" rows="12" maxlength="${o.maxMessageChars}" aria-describedby="message-hint" required>${o.message ?? ''}</textarea>
<p id="status" class="status" role="status" aria-live="polite"></p>
<button type="submit" id="submit-button">${t('submit.button')}</button>
</form>
<section id="tip-sent" hidden aria-labelledby="sent-heading">
<h2 id="sent-heading" tabindex="-1">${t('success.heading')}</h2>
<p>${t('success.browser')}</p>
<p><a href="${href(ctx, '/submit')}">${t('success.another')}</a></p>
</section>`,
    html`<meta name="tipline-newsroom-key" content="${o.newsroomPublicKey}">
<meta name="tipline-lang" content="${ctx.lang}">`,
  );
}

export function successPage(ctx: PageContext, via: 'browser' | 'server'): Html {
  const { t } = ctx;
  return layout(
    ctx,
    t('success.heading'),
    html`<h1>${t('success.heading')}</h1>
<p>${via === 'server' ? t('success.server') : t('success.browser')}</p>
<p><a href="${href(ctx, '/submit')}">${t('success.another')}</a></p>`,
  );
}

export function messagePage(ctx: PageContext, heading: string, text: string): Html {
  return layout(
    ctx,
    heading,
    html`<h1>${heading}</h1>
<p>${text}</p>
<p><a href="${href(ctx, '/')}">${ctx.t('error.back')}</a></p>`,
  );
}
