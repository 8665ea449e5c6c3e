/**
 * The source pages' HTML. Plain server-rendered forms that work with JavaScript
 * off; `submit.js` adds browser-side encryption where it runs. No inline script
 * or style (the CSP forbids both), nothing from another origin.
 */
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { LANGUAGES, findLanguage, type Translate } from '../../i18n/index.ts';
import { formatFileSize } from '../../i18n/file-size.ts';
import type { PageAssets } from './page-assets.ts';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export type PageContext = {
  t: Translate;
  lang: string;
  /** The page the language switcher links lead to: a fixed route chosen by pages.ts, never the request's path. */
  path: string;
  /** Integrity values of the static files, and the release the footer shows. */
  assets: PageAssets;
};

/**
 * A link that keeps the source's chosen language (there are no cookies to remember it).
 * English too: a source whose browser asks for another language and who picked
 * English must not be switched back by Accept-Language on the next page.
 */
export function href(ctx: PageContext, path: string): string {
  return `${path}?lang=${encodeURIComponent(ctx.lang)}`;
}

export function layout(ctx: PageContext, title: string, body: Html, extraHead: Html = html``, o: { languageSwitch?: boolean } = {}): Html {
  const dir = findLanguage(ctx.lang)?.dir ?? 'ltr';
  return html`<!doctype html>
<html lang="${ctx.lang}" dir="${dir}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · ${ctx.t('site.title')}</title>
<link rel="icon" ${staticFile(ctx, 'href', 'favicon.svg')} type="image/svg+xml">
<link rel="stylesheet" ${staticFile(ctx, 'href', 'style.css')}>
${extraHead}
<script type="module" ${staticFile(ctx, 'src', 'page.js')}></script>
</head>
<body>
<a class="skip" href="#main">${ctx.t('site.skip')}</a>
<header class="site">
<a class="brand" href="${href(ctx, '/')}">${ctx.t('site.title')}</a>
${o.languageSwitch === false ? '' : html`<nav aria-label="${ctx.t('nav.language')}" class="languages">
${LANGUAGES.map((l) =>
  l.code === ctx.lang
    ? html`<span lang="${l.code}" aria-current="true">${l.name}</span> `
    : html`<a lang="${l.code}" hreflang="${l.code}" href="${ctx.path}?lang=${l.code}">${l.name}</a> `,
)}
</nav>`}
</header>
<main id="main">
<p id="tor-hint" class="tor-hint" role="note" hidden>${ctx.t('hint.tor')}</p>
${body}
</main>
${releaseFooter(ctx)}
</body>
</html>`;
}

/**
 * `href="/static/NAME" integrity="sha384-…"`: Subresource Integrity, so the
 * browser uses only the exact bytes this page names. Chunks that scripts load
 * with `import()` can't carry it; the asset lock and `tipline verify` cover those.
 */
function staticFile(ctx: PageContext, attribute: 'href' | 'src', name: string): Html {
  return html`${raw(attribute)}="/static/${name}" integrity="${ctx.assets.integrity(name)}"`;
}

/** The release and the asset lock's hash, for people comparing out of band (not a security control). */
function releaseFooter(ctx: PageContext): Html {
  const { version, assetLockSha256 } = ctx.assets.release;
  return html`<footer class="release"><p><small>${ctx.t('footer.release', { version })}${
    assetLockSha256 ? html` · assets.lock.json SHA-256 <code id="assets-lock-sha256" title="${assetLockSha256}">${assetLockSha256.slice(0, 16)}</code>` : ''
  }</small></p></footer>`;
}

export function landingPage(ctx: PageContext, newsroomFingerprint: string, previous: { fingerprint: string; until: string }[] = []): Html {
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
<p>${t('landing.return')} <a href="${href(ctx, '/login')}">${t('nav.login')}</a></p>
<section aria-labelledby="key">
<h2 id="key">${t('landing.fingerprint.heading')}</h2>
<p>${t('landing.fingerprint.text')}</p>
<p class="fingerprint" id="newsroom-fingerprint">${newsroomFingerprint}</p>
${previous.map((p) => html`<p class="note">${t('landing.fingerprint.previous', { day: p.until })}</p><p class="fingerprint previous">${p.fingerprint}</p>`)}
</section>`,
  );
}

export type SubmitPageOptions = {
  newsroomPublicKey: string;
  manifestVersion: number;
  desks: { id: string; name: string }[];
  desk?: string;
  maxMessageChars: number;
  /** Attachment limits for the file picker (shown only where JavaScript runs); none, no picker. */
  attachments?: AttachmentLimits;
  message?: string;
  error?: string;
  /** The no-JavaScript post's form token (server/abuse/form-tokens.ts), in a hidden field; the page script ignores it. */
  formToken?: string;
};

/** The hidden field that carries a form token, when there is one. */
function formTokenField(token: string | undefined): Html | string {
  return token ? html`<input type="hidden" name="form_token" value="${token}">` : '';
}

export function submitPage(ctx: PageContext, o: SubmitPageOptions): Html {
  const { t } = ctx;
  // Strings the script needs, handed over as data attributes (no inline script allowed).
  const strings = {
    checking: t('submit.status.checking'),
    encrypting: t('submit.status.encrypting'),
    working: t('submit.status.working'),
    sending: t('submit.status.sending'),
    notSent: t('submit.notSent'),
    errorManifest: t('submit.error.manifest'),
    errorNetwork: t('submit.error.network'),
    errorServer: t('submit.error.server'),
    errorNoRoom: t('submit.error.noRoom'),
    errorEmpty: t('submit.error.empty'),
    errorTooLong: t('submit.error.tooLong', { limit: String(o.maxMessageChars) }),
    encryptionJs: t('submit.encryption.js'),
  };
  const data = dataAttributes(strings);
  return layout(
    ctx,
    t('submit.heading'),
    html`<h1>${t('submit.heading')}</h1>
<form id="tip-form" method="post" action="${href(ctx, '/submit')}" accept-charset="utf-8"${data}>
${formTokenField(o.formToken)}
<p id="encryption-note" class="note">${t('submit.encryption.nojs')}</p>
${o.error ? html`<div id="form-error" class="error" role="alert"><strong>${t('submit.notSent')}</strong> ${o.error}</div>` : html`<div id="form-error" class="error" role="alert" hidden></div>`}
<label for="desk">${t('submit.desk')}</label>
<p id="desk-hint" class="hint">${t('submit.deskHint')}</p>
<select id="desk" name="desk" aria-describedby="desk-hint">
${o.desks.map((d) => html`<option value="${d.id}"${d.id === o.desk ? raw(' selected') : ''}>${d.name}</option>`)}
</select>
<label for="message">${t('submit.message')}</label>
<p id="message-hint" class="hint">${t('submit.messageHint')}</p>
<textarea id="message" name="message" rows="12" maxlength="${o.maxMessageChars}" aria-describedby="message-hint" required>${o.message ?? ''}</textarea>
${o.attachments ? attachmentPicker(ctx, o.attachments, 'tip') : ''}
<p id="status" class="status" role="status" aria-live="polite"></p>
<button type="submit" id="submit-button">${t('submit.button')}</button>
</form>
<section id="tip-sent" hidden aria-labelledby="sent-heading">
<h2 id="sent-heading" tabindex="-1">${t('success.heading')}</h2>
<p>${t('success.browser')}</p>
${codenameBlock(ctx, '')}
</section>`,
    html`<meta name="tipline-newsroom-key" content="${o.newsroomPublicKey}">
<meta name="tipline-lang" content="${ctx.lang}">`,
  );
}

/** The codename, shown once, with what it is for and a check that the source wrote it down. */
function codenameBlock(ctx: PageContext, codename: string): Html {
  const { t } = ctx;
  return html`<div class="codename-box">
<h3>${t('codename.heading')}</h3>
<p id="codename" class="codename" lang="${ctx.lang}">${codename}</p>
<p>${t('codename.explain')}</p>
<form method="get" action="/">
<input type="hidden" name="lang" value="${ctx.lang}">
<label class="check"><input type="checkbox" name="confirmed" required> ${t('codename.confirm')}</label>
<button type="submit">${t('codename.continue')}</button>
</form>
</div>`;
}

export type AttachmentLimits = {
  maxFiles: number;
  /** Largest file a source may pick (its own size, before encryption). */
  maxFileBytes: number;
  /** Largest upload the server takes for one file (ciphertext): the cap for the size an upload declares. */
  maxUploadBytes: number;
  /** All of a tip's attachments together (ciphertext). */
  maxTipBytes: number;
};

/**
 * "Attach files", for the page script only: the container starts `hidden` and
 * the input has no `name`, so a form posted without JavaScript never carries a
 * file (or its name); on the tip form `<noscript>` says why there is no picker
 * (the conversation's picker is inside a part of the page only the script
 * shows). Limits and strings reach the script as data attributes, limits
 * already in words. A follow-up has the same limits as a tip, and says so.
 */
function attachmentPicker(ctx: PageContext, a: AttachmentLimits, on: 'tip' | 'followup'): Html {
  const { t } = ctx;
  const size = (bytes: number) => formatFileSize(bytes, ctx.lang);
  const strings = {
    cleaned: t('submit.attach.cleaned'),
    clean: t('submit.attach.clean'),
    cannotClean: t('submit.attach.cannotClean'),
    damaged: t('submit.attach.damaged'),
    unreadable: t('submit.attach.unreadable'),
    tooMany: on === 'tip' ? t('submit.attach.tooMany', { max: String(a.maxFiles) }) : t('inbox.attach.tooMany', { max: String(a.maxFiles) }),
    fileTooLarge: t('submit.attach.fileTooLarge', { limit: size(a.maxFileBytes) }),
    tipTooLarge: on === 'tip' ? t('submit.attach.tipTooLarge', { limit: size(a.maxTipBytes) }) : t('inbox.attach.tooLarge', { limit: size(a.maxTipBytes) }),
    preparing: t('submit.attach.preparing'),
    pause: t('submit.attach.pause'),
    resume: t('submit.attach.resume'),
    waiting: t('submit.attach.waiting'),
    sending: t('submit.attach.sending'),
    paused: t('submit.attach.paused'),
    retrying: t('submit.attach.retrying'),
    stalled: t('submit.attach.stalled'),
    sent: t('submit.attach.sent'),
    failed: t('submit.attach.failed'),
    files: t('submit.status.files'),
  };
  return html`<div id="attachments" class="attachments" hidden data-max-files="${a.maxFiles}" data-max-file-bytes="${a.maxFileBytes}" data-max-upload-bytes="${a.maxUploadBytes}" data-max-tip-bytes="${a.maxTipBytes}"${dataAttributes(strings)}>
<label for="attach">${t('submit.attach.label')}</label>
<p id="attach-hint" class="hint">${t('submit.attach.hint', { files: String(a.maxFiles), fileLimit: size(a.maxFileBytes), tipLimit: size(a.maxTipBytes) })}</p>
<input type="file" id="attach" multiple aria-describedby="attach-hint">
<div id="attach-error" class="error" role="alert" hidden></div>
<ul id="attachment-list" class="attachment-list"></ul>
</div>
${on === 'tip' ? html`<noscript><p class="note">${t('submit.attach.noscript')}</p></noscript>` : ''}`;
}

/** Strings for the page script, as `data-t-*` attributes (the CSP forbids inline script). */
function dataAttributes(strings: Record<string, string>): Html {
  return html`${Object.entries(strings).map(([k, v]) => html` data-t-${raw(k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`))}="${v}"`)}`;
}

export function successPage(ctx: PageContext, via: 'browser' | 'server', codename: string): Html {
  const { t } = ctx;
  return layout(
    ctx,
    t('success.heading'),
    html`<h1>${t('success.heading')}</h1>
<p>${via === 'server' ? t('success.server') : t('success.browser')}</p>
${codenameBlock(ctx, codename)}`,
    html``,
    // Switching language would leave this page, and the codename is shown only once.
    { languageSwitch: false },
  );
}

export function loginPage(ctx: PageContext, o: { newsroomPublicKey: string; error?: string; attachments?: AttachmentLimits }): Html {
  const { t } = ctx;
  const strings = {
    checking: t('login.status.checking'),
    errorUnknown: t('login.error.unknown'),
    errorChecksum: t('login.error.checksum'),
    errorLength: t('login.error.length'),
    errorUnknownWord: t('login.error.unknownWord'),
    errorNetwork: t('submit.error.network'),
    errorDecrypt: t('inbox.error.decrypt'),
    replyOn: t('inbox.replyOn'),
    delete: t('inbox.delete'),
    deleted: t('inbox.deleted'),
    noReplies: t('inbox.noReplies'),
    sent: t('inbox.sent'),
    notSent: t('submit.notSent'),
    errorManifest: t('submit.error.manifest'),
    errorServer: t('submit.error.server'),
    errorNoRoom: t('submit.error.noRoom'),
    errorEmpty: t('submit.error.empty'),
    encrypting: t('submit.status.encrypting'),
    working: t('submit.status.working'),
    sending: t('submit.status.sending'),
    expired: t('inbox.expired'),
  };
  return layout(
    ctx,
    t('login.heading'),
    html`<h1>${t('login.heading')}</h1>
<form id="login-form" method="post" action="${href(ctx, '/login')}" accept-charset="utf-8"${dataAttributes(strings)}>
${o.error ? html`<div id="login-error" class="error" role="alert">${o.error}</div>` : html`<div id="login-error" class="error" role="alert" hidden></div>`}
<label for="codename-input">${t('login.codename')}</label>
<p id="codename-hint" class="hint">${t('login.hint')}</p>
<input id="codename-input" name="codename" type="text" autocomplete="off" autocorrect="off" autocapitalize="off" spellcheck="false" data-lpignore="true" aria-describedby="codename-hint" required>
<p id="login-status" class="status" role="status" aria-live="polite"></p>
<button type="submit">${t('login.button')}</button>
</form>
<div id="js-inbox" hidden>${inboxBody(ctx, { replies: [], newsroomPublicKey: o.newsroomPublicKey, files: o.attachments ?? 'none' })}</div>`,
    html`<meta name="tipline-newsroom-key" content="${o.newsroomPublicKey}">
<meta name="tipline-lang" content="${ctx.lang}">`,
  );
}

export type ShownReply = { id: string; day: string; text: string };

type InboxOptions = {
  replies: ShownReply[] | 'locked';
  notice?: string;
  error?: string;
  newsroomPublicKey: string;
  /** The reply form's token for a post without JavaScript (absent in the page script's inbox, which never posts the form). */
  formToken?: string;
  /** Put back in the reply box when a post was refused. */
  message?: string;
};

/**
 * The conversation: replies (when they could be decrypted for this request),
 * the reply form, log out. `files`: the picker (the page script's inbox), a
 * plain note that files need JavaScript (the server-rendered inbox, whose form
 * posts without the script), or nothing.
 */
function inboxBody(ctx: PageContext, o: InboxOptions & { files: AttachmentLimits | 'needs-js' | 'none' }): Html {
  const { t } = ctx;
  return html`<h2 id="inbox-heading" tabindex="-1">${t('inbox.heading')}</h2>
${o.notice ? html`<p class="notice" role="status">${o.notice}</p>` : ''}
<section aria-labelledby="replies-heading">
<h3 id="replies-heading">${t('inbox.replies')}</h3>
<ol id="replies" class="replies">
${o.replies === 'locked' ? '' : o.replies.map(
  (r) => html`<li data-reply-id="${r.id}"><p class="reply-day">${t('inbox.replyOn', { day: r.day })}</p><div class="reply-text">${r.text}</div>
<form method="post" action="${href(ctx, '/inbox/delete')}" class="delete-reply"><input type="hidden" name="id" value="${r.id}"><button type="submit" class="secondary">${t('inbox.delete')}</button></form></li>`,
)}
</ol>
<p id="no-replies"${o.replies !== 'locked' && o.replies.length === 0 ? '' : raw(' hidden')}>${t('inbox.noReplies')}</p>
${o.replies === 'locked' ? html`<p class="note">${t('inbox.locked')}</p>` : ''}
</section>
<form id="reply-form" method="post" action="${href(ctx, '/inbox/reply')}" accept-charset="utf-8">
${formTokenField(o.formToken)}
${o.error ? html`<div id="reply-error" class="error" role="alert"><strong>${t('submit.notSent')}</strong> ${o.error}</div>` : html`<div id="reply-error" class="error" role="alert" hidden></div>`}
<label for="reply">${t('inbox.reply')}</label>
<p id="reply-hint" class="hint">${t('inbox.replyHint')}</p>
<textarea id="reply" name="message" rows="8" aria-describedby="reply-hint" required>${o.message ?? ''}</textarea>
${o.files === 'none' ? '' : o.files === 'needs-js' ? html`<p id="attach-needs-js" class="note">${t('inbox.attach.needsJs')}</p>` : attachmentPicker(ctx, o.files, 'followup')}
<p id="reply-status" class="status" role="status" aria-live="polite"></p>
<button type="submit">${t('inbox.send')}</button>
</form>
<form method="post" action="${href(ctx, '/logout')}" id="logout-form"><button type="submit" class="secondary">${t('inbox.logout')}</button></form>`;
}

export function inboxPage(ctx: PageContext, o: InboxOptions & { attachments?: AttachmentLimits }): Html {
  // Without JavaScript the replies are shown only on this response: don't offer a link that loses them.
  // This page's reply form posts to the server, which can't take files: say so where there would be a picker.
  return layout(ctx, ctx.t('inbox.heading'), html`<div id="inbox">${inboxBody(ctx, { ...o, files: o.attachments ? 'needs-js' : 'none' })}</div>`, html``, { languageSwitch: o.replies === 'locked' });
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
