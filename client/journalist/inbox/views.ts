/**
 * The inbox's pages, rendered on the server as plain HTML forms: they work
 * with JavaScript off, and there is no script at all. Every value that came
 * from a source, a server or the disk goes through hono/html's escaping, and
 * direction-changing characters are made visible (showControls), so a hostile
 * tip reads as inert text. No inline style or script (the CSP forbids both);
 * the only other file is the stylesheet, which has a print layout.
 *
 * @module
 * @example
 * c.html(listPage(ctx, conversations, filter));
 */
import { html, raw } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import { formatFileSize } from '../../../i18n/file-size.ts';
import type { Conversation, Message } from './conversations.ts';
import { hasControls, INBOX_LANGUAGES, showControls, type InboxTranslate } from './inbox-i18n.ts';
import type { InboxState } from './inbox-state.ts';
import { authorLabel } from './transcript.ts';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

export type ViewContext = {
  t: InboxTranslate;
  lang: string;
  /** `/<secret>`: every link and form starts with it. */
  base: string;
  /** The current page's path under base, for the language links. */
  path: string;
  online: { server: string } | null;
  outboxDir: string;
  state: InboxState;
};

export type ListFilter = { text: string; unread: boolean; starred: boolean; desk: string };

/** A link inside the inbox, keeping the chosen language. */
export function link(ctx: ViewContext, path: string, query: Record<string, string> = {}): string {
  const q = new URLSearchParams({ ...query, lang: ctx.lang });
  return `${ctx.base}${path}?${q.toString()}`;
}

function layout(ctx: ViewContext, title: string, body: Html): Html {
  return html`<!doctype html>
<html lang="${ctx.lang}" dir="ltr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title} · ${ctx.t('app.title')}</title>
<link rel="stylesheet" href="${ctx.base}/inbox.css">
</head>
<body>
<header class="top">
<a class="home" href="${link(ctx, '/')}">${ctx.t('app.title')}</a>
<nav aria-label="${ctx.t('nav.language')}" class="languages">${INBOX_LANGUAGES.map((l) =>
    l.code === ctx.lang
      ? html`<span lang="${l.code}" aria-current="true">${l.name}</span> `
      : html`<a lang="${l.code}" hreflang="${l.code}" href="${ctx.base}${ctx.path}?lang=${l.code}">${l.name}</a> `,
  )}</nav>
<p class="mode ${ctx.online ? 'online' : 'offline'}" id="mode">${ctx.online ? ctx.t('mode.online', { server: ctx.online.server }) : ctx.t('mode.offline', { outbox: ctx.outboxDir })}</p>
</header>
<main>
${body}
</main>
</body>
</html>`;
}

/** Untrusted text: escaped by html``, direction controls made visible, in an isolated block. */
function untrusted(text: string): Html {
  return html`<bdi>${showControls(text)}</bdi>`;
}

function unreadIn(ctx: ViewContext, c: Conversation): number {
  return c.messages.filter((m) => m.kind !== 'reply' && !ctx.state.isRead(m.id)).length;
}

export function matches(ctx: ViewContext, c: Conversation, f: ListFilter): boolean {
  if (f.unread && unreadIn(ctx, c) === 0) return false;
  if (f.starred && !ctx.state.isStarred(c.key)) return false;
  if (f.desk && !c.desks.includes(f.desk)) return false;
  if (f.text) {
    const needle = f.text.toLocaleLowerCase();
    const hay = (m: Message) => [m.text, ...Object.values(m.fields), ...m.attachments.map((a) => a.name)].some((s) => s.toLocaleLowerCase().includes(needle));
    if (!c.pseudonym.includes(needle) && !c.messages.some(hay)) return false;
  }
  return true;
}

export function listPage(ctx: ViewContext, all: Conversation[], f: ListFilter, notice?: string): Html {
  const { t } = ctx;
  const desks = [...new Set(all.flatMap((c) => c.desks))].sort();
  const shown = all.filter((c) => matches(ctx, c, f));
  return layout(
    ctx,
    t('list.heading'),
    html`<h1>${t('list.heading')}</h1>
${notice ? html`<p class="notice" role="status">${notice}</p>` : ''}
<form method="get" action="${ctx.base}/" class="filter" role="search">
<fieldset><legend>${t('filter.legend')}</legend>
<input type="hidden" name="lang" value="${ctx.lang}">
<label>${t('filter.text')} <input type="search" name="q" value="${f.text}" maxlength="500"></label>
<label><input type="checkbox" name="unread" value="1"${f.unread ? raw(' checked') : ''}> ${t('filter.unread')}</label>
<label><input type="checkbox" name="starred" value="1"${f.starred ? raw(' checked') : ''}> ${t('filter.starred')}</label>
<label>${t('filter.desk')} <select name="desk"><option value="">${t('filter.anyDesk')}</option>${desks.map(
      (d) => html`<option value="${d}"${d === f.desk ? raw(' selected') : ''}>${showControls(d)}</option>`,
    )}</select></label>
<button type="submit">${t('filter.apply')}</button> <a href="${link(ctx, '/')}">${t('filter.clear')}</a>
</fieldset>
</form>
${
  shown.length === 0
    ? html`<p class="empty">${t('list.empty')}</p>`
    : html`<table class="conversations">
<thead><tr><th scope="col">${t('col.name')}</th><th scope="col">${t('col.desk')}</th><th scope="col">${t('col.days')}</th><th scope="col">${t('col.count')}</th><th scope="col">${t('col.marks')}</th></tr></thead>
<tbody>${shown.map((c) => {
        const unread = unreadIn(ctx, c);
        return html`<tr class="conversation${unread ? ' unread' : ''}" data-key="${c.key}">
<td><a href="${link(ctx, `/c/${c.key}`)}">${c.pseudonym}</a></td>
<td>${c.desks.map((d) => showControls(d)).join(', ')}</td>
<td>${t('list.days', { first: c.firstDay ?? t('day.unknown'), last: c.lastDay ?? t('day.unknown') })}</td>
<td>${t('list.count', { count: String(c.messages.length) })}</td>
<td>${unread ? html`<span class="mark unread-mark">● ${t('list.unread')}</span> ` : ''}${ctx.state.isStarred(c.key) ? html`<span class="mark star-mark">★ ${t('list.starred')}</span>` : ''}</td>
</tr>`;
      })}</tbody>
</table>`
}`,
  );
}

export function conversationPage(ctx: ViewContext, c: Conversation, canReply: boolean, notice?: { text: string; kind: 'ok' | 'error' }): Html {
  const { t } = ctx;
  const starred = ctx.state.isStarred(c.key);
  const post = (action: string, name: string, value: string, label: string, cls: string) =>
    html`<form method="post" action="${link(ctx, `/c/${c.key}/${action}`)}" class="inline ${cls}"><input type="hidden" name="${name}" value="${value}"><button type="submit">${label}</button></form>`;
  return layout(
    ctx,
    t('conversation.heading', { name: c.pseudonym }),
    html`<p class="back"><a href="${link(ctx, '/')}">← ${t('nav.all')}</a></p>
<h1>${t('conversation.heading', { name: c.pseudonym })}${starred ? html` <span class="mark star-mark">★</span>` : ''}</h1>
${notice ? html`<p class="notice ${notice.kind}" role="status" id="notice">${notice.text}</p>` : ''}
<div class="actions">
${post('read', 'read', '0', t('conversation.markUnread'), 'mark-unread')}
${post('star', 'star', starred ? '0' : '1', starred ? t('conversation.unstar') : t('conversation.star'), 'star')}
<a class="transcript" href="${ctx.base}/c/${c.key}/transcript.txt?lang=${ctx.lang}" download>${t('conversation.transcript')}</a>
<a class="delete" href="${link(ctx, `/c/${c.key}/delete`)}">${t('conversation.delete')}</a>
</div>
<p class="print-hint">${t('conversation.print')}</p>
<ol class="messages">${c.messages.map((m) => messageView(ctx, c, m))}</ol>
${replyForm(ctx, c, canReply)}`,
  );
}

function messageView(ctx: ViewContext, c: Conversation, m: Message): Html {
  const { t } = ctx;
  const fields = Object.entries(m.fields);
  const suspicious = hasControls(m.text) || fields.some(([k, v]) => hasControls(k) || hasControls(v));
  return html`<li class="message ${m.kind}" id="m-${m.id}">
<p class="byline"><span class="author">${authorLabel(m, t)}</span> · <span class="kind">${t(`kind.${m.kind}`)}</span> · <span class="day">${m.day ?? t('day.unknown')}</span></p>
${m.kind === 'reply' ? '' : m.encryptedBy === 'server' ? html`<p class="warning server-encrypted">${t('message.serverEncrypted')}</p>` : m.encryptedBy === 'browser' ? html`<p class="note">${t('message.browserEncrypted')}</p>` : ''}
${suspicious ? html`<p class="warning controls">${t('message.controls')}</p>` : ''}
${fields.length ? html`<dl class="fields" aria-label="${t('message.fields')}">${fields.map(([k, v]) => html`<dt>${untrusted(k)}</dt><dd>${untrusted(v)}</dd>`)}</dl>` : ''}
${shownText(ctx, c, m)}
${m.attachments.length ? html`<section class="attachments"><h3>${t('attachment.heading')}</h3><p class="note">${t('attachment.notShown')}</p><ul>${m.attachments.map(
      (a, i) => html`<li class="attachment${a.risky ? ' risky' : ''}"><span class="name">${untrusted(a.name)}</span> · <span class="size">${formatFileSize(a.size, ctx.lang)}</span>
<br><span class="sha">${t('attachment.sha256')} <code>${a.sha256}</code></span>
${a.risky ? html`<p class="warning risky-warning">${t('attachment.risky')}</p>` : ''}
${a.metadataFound.length ? html`<p class="warning metadata-warning">${t('attachment.metadata', { found: showControls(a.metadataFound.join('; ')) })}</p>` : ''}
<a class="save" href="${ctx.base}/c/${c.key}/m/${m.folderName}/a/${i}" download>${t('attachment.save')}</a></li>`,
    )}</ul></section>` : ''}
</li>`;
}

/**
 * A message's text, cut at MAX_SHOWN_CHARS: a source's message is at most
 * 100,000 characters, so only a forged or broken one is longer, and a browser
 * laying out megabytes of text would hang the journalist's inbox. The whole
 * text stays searchable and is in the transcript.
 */
export const MAX_SHOWN_CHARS = 200_000;

function shownText(ctx: ViewContext, c: Conversation, m: Message): Html {
  if (m.text.length <= MAX_SHOWN_CHARS) return html`<pre class="text" dir="auto">${showControls(m.text)}</pre>`;
  // Never split a surrogate pair.
  const end = /[\uD800-\uDBFF]/.test(m.text[MAX_SHOWN_CHARS - 1]!) ? MAX_SHOWN_CHARS - 1 : MAX_SHOWN_CHARS;
  return html`<pre class="text" dir="auto">${showControls(m.text.slice(0, end))}</pre>
<p class="warning truncated">${ctx.t('message.truncated', { shown: end.toLocaleString('en'), total: m.text.length.toLocaleString('en') })} <a href="${ctx.base}/c/${c.key}/transcript.txt?lang=${ctx.lang}" download>${ctx.t('conversation.transcript')}</a></p>`;
}

function replyForm(ctx: ViewContext, c: Conversation, canReply: boolean): Html {
  const { t } = ctx;
  if (!canReply) return html`<section class="reply"><h2>${t('reply.heading')}</h2><p class="note" id="no-reply">${t('reply.noKey')}</p></section>`;
  return html`<section class="reply"><h2>${t('reply.heading')}</h2>
<form method="post" action="${link(ctx, `/c/${c.key}/reply`)}">
<label for="reply-text">${t('reply.label')}</label>
<textarea id="reply-text" name="message" rows="6" required maxlength="100000" dir="auto"></textarea>
<button type="submit" id="send-reply">${ctx.online ? t('reply.sendOnline') : t('reply.sendOffline')}</button>
</form></section>`;
}

export function deletePage(ctx: ViewContext, c: Conversation, error?: string): Html {
  const { t } = ctx;
  return layout(
    ctx,
    t('delete.heading', { name: c.pseudonym }),
    html`<h1>${t('delete.heading', { name: c.pseudonym })}</h1>
${error ? html`<p class="notice error" role="alert" id="notice">${error}</p>` : ''}
<p class="warning">${ctx.online ? t('delete.explainOnline') : t('delete.explainOffline')}</p>
<form method="post" action="${link(ctx, `/c/${c.key}/delete`)}">
<label for="confirm-name">${t('delete.confirmLabel', { name: c.pseudonym })}</label>
<input id="confirm-name" name="confirm" autocomplete="off" required>
<button type="submit" class="danger">${t('delete.confirm', { name: c.pseudonym })}</button>
<a href="${link(ctx, `/c/${c.key}`)}">${t('delete.cancel')}</a>
</form>`,
  );
}

export function errorPage(ctx: ViewContext, text: string): Html {
  return layout(ctx, text, html`<h1>${text}</h1><p><a href="${link(ctx, '/')}">${ctx.t('nav.all')}</a></p>`);
}
