/**
 * `tipline journalist inbox`: a small web app over the folder `decrypt`
 * writes, for the journalist's own browser on the same machine. It is built
 * like the source pages (server-rendered forms, no script, strict CSP,
 * everything escaped) and locked to its one user:
 *
 * - it listens on 127.0.0.1 only, and refuses to start on any other address;
 * - every URL starts with a random per-run secret (`/<secret>/…`), checked in
 *   constant time on every request, so another local user or another site in
 *   the same browser can't read it (404 without it);
 * - `Host` must be `127.0.0.1:PORT` or `localhost:PORT`, so a DNS-rebinding
 *   page (evil.example resolving to 127.0.0.1) is refused;
 * - a form post from another origin (`Origin`, `Sec-Fetch-Site`) is refused.
 *
 * Marks (read, star) go to the state file (inbox-state.ts); search runs over
 * the messages as read into memory for each request; nothing else is written
 * except replies (sent, or sealed into the outbox) and deletions.
 *
 * @module
 * @example
 * const inbox = await startInbox({ decryptedDir: 'read', outboxDir: 'outbox' });
 * console.log(inbox.url); // http://127.0.0.1:PORT/<secret>/
 */
import { createReadStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { timingSafeEqual } from 'node:crypto';
import { serve } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { base64url, randomBytes } from '../../../crypto/bytes.ts';
import type { SocksProxy } from '../../verify/socks5.ts';
import { deleteConversation } from '../delete-thread.ts';
import { JournalistClientError } from '../journalist-api.ts';
import { MAX_REPLY_CHARS, sealReplyOffline, sendReply } from '../send-reply.ts';
import { readConversations, type Conversation } from './conversations.ts';
import { inboxLanguage, inboxTranslator } from './inbox-i18n.ts';
import { InboxState } from './inbox-state.ts';
import { INBOX_CSS } from './inbox-style.ts';
import { writeToOutbox } from './outbox.ts';
import { transcriptOf } from './transcript.ts';
import { conversationPage, deletePage, errorPage, link, listPage, type ListFilter, type ViewContext } from './views.ts';

export const INBOX_HOST = '127.0.0.1';

/** No script at all; one same-origin stylesheet; forms post only here; never framed. */
export const INBOX_CSP = ["default-src 'none'", "style-src 'self'", "form-action 'self'", "frame-ancestors 'none'", "base-uri 'none'"].join('; ');

const PAGE_HEADERS: Record<string, string> = {
  'Content-Security-Policy': INBOX_CSP,
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=()',
};

/** A reply form is at most MAX_REPLY_CHARS characters of up to 4 bytes, form-encoded (×3). */
const MAX_FORM_BYTES = MAX_REPLY_CHARS * 12 + 4096;

export type InboxOptions = {
  /** The folder `decrypt --out` wrote. */
  decryptedDir: string;
  /** Fetch's `--out`, with the pinned newsroom key (default: what each thread.json records). */
  inboxDir?: string | undefined;
  /** Where offline replies are written, sealed. */
  outboxDir: string;
  /** Given: replies and deletions go to this server. Absent: the inbox is offline. */
  /** `socks`: Tor's SOCKS port, for an onion server (as `--socks` for the other commands). */
  online?: { server: string; token: string; socks?: SocksProxy | undefined } | undefined;
  port?: number | undefined;
  host?: string | undefined;
  /** Interface language when a page has no `?lang=`. */
  lang?: string | undefined;
  /** Tests only: a fixed secret. */
  secret?: string | undefined;
};

export type RunningInbox = { url: string; port: number; secret: string; close: () => Promise<void> };

export class InboxAddressError extends Error {
  override name = 'InboxAddressError';
}

export async function startInbox(o: InboxOptions): Promise<RunningInbox> {
  const host = o.host ?? INBOX_HOST;
  if (host !== INBOX_HOST) throw new InboxAddressError(`the inbox listens on ${INBOX_HOST} only (it shows decrypted tips); refusing --host ${host}`);
  const port = o.port ?? 0;
  if (!Number.isSafeInteger(port) || port < 0 || port > 65535) throw new InboxAddressError(`--port must be a port number (0–65535), not ${o.port}`);
  const secret = o.secret ?? base64url.encode(randomBytes(32));
  const state = await InboxState.open(o.decryptedDir);
  let listeningPort = port;
  const app = createInboxApp({ ...o, secret, state, port: () => listeningPort });
  const server = await new Promise<ReturnType<typeof serve>>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port, hostname: INBOX_HOST }, () => resolve(s));
    s.once('error', reject);
  });
  listeningPort = (server.address() as AddressInfo).port;
  return {
    url: `http://${INBOX_HOST}:${listeningPort}/${secret}/`,
    port: listeningPort,
    secret,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      (server as unknown as { closeAllConnections?: () => void }).closeAllConnections?.();
    }),
  };
}

type AppDeps = Omit<InboxOptions, 'port'> & { secret: string; state: InboxState; port: () => number };

export function createInboxApp(d: AppDeps): Hono {
  // strict: false, so the printed URL's `/<secret>/` and `/<secret>` are the same page.
  const app = new Hono({ strict: false });
  const secretBytes = new TextEncoder().encode(d.secret);

  app.use('*', async function inboxGate(c, next) {
    const allowed = [`${INBOX_HOST}:${d.port()}`, `localhost:${d.port()}`];
    if (!allowed.includes(c.req.header('host') ?? '')) {
      c.res = withHeaders(c.text('This inbox answers only at 127.0.0.1 or localhost.', 421));
      return;
    }
    const first = c.req.path.split('/')[1] ?? '';
    const given = new TextEncoder().encode(first);
    if (given.length !== secretBytes.length || !timingSafeEqual(given, secretBytes)) {
      c.res = withHeaders(c.text('Not found.', 404));
      return;
    }
    if (c.req.method === 'POST') {
      // Sec-Fetch-Site first: with Referrer-Policy no-referrer (the secret is in every URL),
      // Chromium sends `Origin: null` even for the inbox's own forms. Without it, Origin decides.
      const origin = c.req.header('origin');
      const site = c.req.header('sec-fetch-site');
      const crossSite = site !== undefined ? site !== 'same-origin' : origin !== undefined && !allowed.some((h) => origin === `http://${h}`);
      if (crossSite) {
        c.res = withHeaders(c.text('Refused: this form was not posted from the inbox.', 403));
        return;
      }
      if (Number(c.req.header('content-length') ?? '0') > MAX_FORM_BYTES) {
        c.res = withHeaders(c.text('Too large.', 413));
        return;
      }
    }
    await next();
    withHeaders(c.res);
  });
  // Content-Length can be left out (chunked): the body itself is counted too.
  app.post('*', bodyLimit({ maxSize: MAX_FORM_BYTES, onError: (c) => c.text('Too large.', 413) }));

  const inbox = new Hono({ strict: false });
  const ctxOf = (c: Context, path: string): ViewContext => {
    const lang = inboxLanguage(c.req.query('lang') ?? d.lang);
    return {
      t: inboxTranslator(lang),
      lang,
      base: `/${d.secret}`,
      path,
      online: d.online ? { server: d.online.server } : null,
      outboxDir: d.outboxDir,
      state: d.state,
    };
  };
  const find = async (key: string): Promise<Conversation | undefined> => (await readConversations(d.decryptedDir)).find((c) => c.key === key);
  const notFound = (c: Context, ctx: ViewContext) => c.html(errorPage(ctx, ctx.t('error.notFound')), 404);
  const formOf = async (c: Context): Promise<Record<string, string>> => {
    const body = await c.req.parseBody().catch(() => ({}));
    return Object.fromEntries(Object.entries(body).filter((e): e is [string, string] => typeof e[1] === 'string'));
  };

  inbox.get('/inbox.css', (c) => c.body(INBOX_CSS, 200, { 'content-type': 'text/css; charset=utf-8' }));

  inbox.get('/', async (c) => {
    const ctx = ctxOf(c, '/');
    const filter: ListFilter = {
      text: (c.req.query('q') ?? '').slice(0, 500).trim(),
      unread: c.req.query('unread') === '1',
      starred: c.req.query('starred') === '1',
      desk: c.req.query('desk') ?? '',
    };
    const done = c.req.query('deleted');
    const notice = done && /^[A-Za-z0-9_-]{1,200}$/.test(done) ? ctx.t('delete.done', { name: done }) : undefined;
    return c.html(listPage(ctx, await readConversations(d.decryptedDir), filter, notice));
  });

  inbox.get('/c/:key', async (c) => {
    const key = c.req.param('key');
    const ctx = ctxOf(c, `/c/${key}`);
    const conv = await find(key);
    if (!conv) return notFound(c, ctx);
    // Opening a conversation reads it, as in any mail client; "mark as unread" undoes it.
    const unread = conv.messages.filter((m) => !d.state.isRead(m.id)).map((m) => m.id);
    if (unread.length) await d.state.markRead(unread, true);
    const done = c.req.query('reply');
    const notice = done === 'sent' ? { text: ctx.t('reply.sent'), kind: 'ok' as const } : done === 'queued' ? { text: ctx.t('reply.queued'), kind: 'ok' as const } : undefined;
    return c.html(conversationPage(ctx, conv, conv.canReply, notice));
  });

  inbox.post('/c/:key/read', async (c) => {
    const key = c.req.param('key');
    const ctx = ctxOf(c, `/c/${key}`);
    const conv = await find(key);
    if (!conv) return notFound(c, ctx);
    const read = (await formOf(c)).read === '1';
    await d.state.markRead(conv.messages.filter((m) => m.kind !== 'reply').map((m) => m.id), read);
    return c.redirect(read ? link(ctx, `/c/${key}`) : link(ctx, '/'), 303);
  });

  inbox.post('/c/:key/star', async (c) => {
    const key = c.req.param('key');
    const ctx = ctxOf(c, `/c/${key}`);
    const conv = await find(key);
    if (!conv) return notFound(c, ctx);
    await d.state.star(conv.key, (await formOf(c)).star === '1');
    return c.redirect(link(ctx, `/c/${key}`), 303);
  });

  inbox.get('/c/:key/transcript.txt', async (c) => {
    const key = c.req.param('key');
    const ctx = ctxOf(c, `/c/${key}`);
    const conv = await find(key);
    if (!conv) return notFound(c, ctx);
    return c.body(transcriptOf(conv, ctx.t), 200, {
      'content-type': 'text/plain; charset=utf-8',
      'content-disposition': `attachment; filename="${safeFileName(conv.key)}-transcript.txt"`,
    });
  });

  inbox.get('/c/:key/m/:message/a/:index', async (c) => {
    const key = c.req.param('key');
    const ctx = ctxOf(c, `/c/${key}`);
    const conv = await find(key);
    const m = conv?.messages.find((x) => x.folderName === c.req.param('message'));
    const a = /^\d{1,4}$/.test(c.req.param('index')) ? m?.attachments[Number(c.req.param('index'))] : undefined;
    if (!m || !a) return notFound(c, ctx);
    // Always a download, never shown: no type the browser could render or run, and a sandbox if it tried.
    const body = Readable.toWeb(createReadStream(join(m.folder, a.savedAs))) as ReadableStream;
    return c.body(body, 200, {
      'content-type': 'application/octet-stream',
      'content-disposition': `attachment; filename="${safeFileName(basename(a.savedAs))}"`,
      'content-security-policy': "sandbox; default-src 'none'",
    });
  });

  inbox.post('/c/:key/reply', async (c) => {
    const key = c.req.param('key');
    const ctx = ctxOf(c, `/c/${key}`);
    const conv = await find(key);
    if (!conv) return notFound(c, ctx);
    const message = ((await formOf(c)).message ?? '').replace(/\r\n/g, '\n');
    const input = { decryptedDir: d.decryptedDir, messageId: conv.messages[0]!.id, message, ...(d.inboxDir ? { inboxDir: d.inboxDir } : {}) };
    try {
      if (!conv.canReply) throw new JournalistClientError(ctx.t('reply.noKey'));
      if (d.online) {
        await sendReply({ ...input, server: d.online.server, token: d.online.token, socks: d.online.socks });
        return c.redirect(link(ctx, `/c/${key}`, { reply: 'sent' }), 303);
      }
      await writeToOutbox(d.outboxDir, await sealReplyOffline(input));
      return c.redirect(link(ctx, `/c/${key}`, { reply: 'queued' }), 303);
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e);
      return c.html(conversationPage(ctx, conv, conv.canReply, { text: ctx.t('reply.failed', { reason }), kind: 'error' }), e instanceof JournalistClientError ? 422 : 502);
    }
  });

  inbox.get('/c/:key/delete', async (c) => {
    const key = c.req.param('key');
    const ctx = ctxOf(c, `/c/${key}/delete`);
    const conv = await find(key);
    if (!conv) return notFound(c, ctx);
    return c.html(deletePage(ctx, conv));
  });

  inbox.post('/c/:key/delete', async (c) => {
    const key = c.req.param('key');
    const ctx = ctxOf(c, `/c/${key}/delete`);
    const conv = await find(key);
    if (!conv) return notFound(c, ctx);
    if (((await formOf(c)).confirm ?? '').trim() !== conv.pseudonym) {
      return c.html(deletePage(ctx, conv, ctx.t('delete.mismatch', { name: conv.pseudonym })), 422);
    }
    try {
      if (d.online && conv.threadId !== null) await deleteConversation({ server: d.online.server, token: d.online.token, socks: d.online.socks, thread: conv.threadId });
    } catch (e) {
      return c.html(deletePage(ctx, conv, ctx.t('delete.failed', { reason: e instanceof Error ? e.message : String(e) })), 502);
    }
    await rm(conv.folder, { recursive: true, force: true });
    await d.state.forget(conv.key, conv.messages.map((m) => m.id));
    return c.redirect(link(ctx, '/', { deleted: conv.key }), 303);
  });

  inbox.notFound((c) => notFound(c, ctxOf(c, '/')));
  // Never the error's text or stack (Hono's default prints both): it may quote a message. Only its class.
  const onError = (e: Error, c: Context) => {
    process.stderr.write(`inbox: ${e.name} on ${c.req.method}\n`);
    return withHeaders(c.text('Internal error.', 500));
  };
  inbox.onError(onError);
  app.onError(onError);
  app.route(`/${d.secret}`, inbox);
  return app;
}

function withHeaders(res: Response): Response {
  for (const [name, value] of Object.entries(PAGE_HEADERS)) if (!res.headers.has(name) || name !== 'Content-Security-Policy') res.headers.set(name, value);
  for (const name of ['Server', 'X-Powered-By', 'ETag', 'Last-Modified']) res.headers.delete(name);
  return res;
}

function safeFileName(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_').slice(0, 150) || 'file';
}
