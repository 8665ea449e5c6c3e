/**
 * The source pages: landing, the tip form, the codename login and the
 * conversation. Every page works as plain HTML forms with JavaScript off; the
 * server then does the crypto in memory for that one request and forgets it.
 */
import { Hono, type Context } from 'hono';
import { getCookie } from 'hono/cookie';
import { hex, wipe } from '../../crypto/bytes.ts';
import { CodenameError, deriveCodenameKeys, generateCodename, parseCodename, threadIdOf } from '../../crypto/codename.ts';
import { largestFileWithin } from '../../crypto/file-padding.ts';
import { newsroomFingerprint } from '../../crypto/manifest.ts';
import { ReplyBoxError, openReply } from '../../crypto/reply-box.ts';
import { TipDocumentError, decodeTipDocument } from '../../crypto/tip-document.ts';
import { ATTACHMENT_FRAMING_BYTES, type Limits } from '../config.ts';
import { ManifestUnavailableError, type CurrentRecipients } from '../current-recipients.ts';
import { ApiError } from '../http/api-error.ts';
import { readBodyWithLimit } from '../http/read-body.ts';
import { findLanguage, negotiateLanguage, translator, type MessageKey } from '../../i18n/index.ts';
import type { ReplyStore } from '../store/reply-store.ts';
import type { TipIntake } from '../tip-intake.ts';
import { checkFollowupQuota, endSession, startSession } from './api.ts';
import type { TipStore } from '../store/tip-store.ts';
import type { NoJsBudget } from '../abuse/no-js-budget.ts';
import { FORM_TOKEN_FIELD, FormTokenRefused, type FormTokens, type FormTokenSpend } from '../abuse/form-tokens.ts';
import type { FormPurpose } from '../../crypto/form-token.ts';
import { SESSION_COOKIE, type SourceSessions } from './sessions.ts';
import type { LoginThrottle } from '../abuse/login-throttle.ts';
import { href, inboxPage, landingPage, loginPage, messagePage, submitPage, successPage, type AttachmentLimits, type PageContext, type ShownReply } from './views.ts';

export function pageContext(c: Context): PageContext {
  const chosen = c.req.query('lang');
  const lang = findLanguage(chosen)?.code ?? negotiateLanguage(c.req.header('accept-language'));
  return { t: translator(lang), lang, path: languageLinkPath(c.req.method, c.req.path), assets: c.get('pageAssets') };
}

/**
 * Where the language links on a page lead: one of the pages below, by name,
 * never the request's own path. A path such as `/%5Cclone.onion/` copied into
 * `href="…?lang=zh-Hans"` would point the link to another site; a form's
 * answer (`POST /inbox/reply`) would point it to a page that only takes posts.
 */
const LANGUAGE_LINK_PAGES: Record<string, string> = {
  'GET /': '/',
  'GET /submit': '/submit',
  'POST /submit': '/submit',
  'GET /login': '/login',
  'POST /login': '/login',
  'GET /inbox': '/inbox',
  'POST /inbox/reply': '/inbox',
  'POST /inbox/delete': '/inbox',
};

export function languageLinkPath(method: string, path: string): string {
  return Object.hasOwn(LANGUAGE_LINK_PAGES, `${method} ${path}`) ? LANGUAGE_LINK_PAGES[`${method} ${path}`]! : '/';
}

export type SourcePagesDeps = {
  newsroomPublicKey: Uint8Array;
  intake: TipIntake;
  recipients: CurrentRecipients;
  replies: ReplyStore;
  sessions: SourceSessions;
  /** Logins per conversation (login-throttle.ts). */
  logins: LoginThrottle;
  tips: TipStore;
  /** No-JavaScript posts can't do a proof of work; first tips and follow-ups each share a global budget. */
  noJs: NoJsBudget;
  /** …and each must carry a form token from the page it was posted from, checked before the budget is charged. */
  formTokens: FormTokens;
  limits: Limits;
  /** Earlier newsroom keys and the day each was replaced, for the landing page. */
  previousFingerprints?: { fingerprint: string; until: string }[];
};

/** A refused form token's status (a too-young one gets 429 and Retry-After). */
const TOKEN_STATUS = { missing: 400, forged: 403, expired: 410, replayed: 409 } as const;

const CODENAME_ERRORS: Record<CodenameError['code'], MessageKey> = {
  length: 'login.error.length',
  'unknown-word': 'login.error.unknownWord',
  checksum: 'login.error.checksum',
};

export function sourcePages(deps: SourcePagesDeps): Hono {
  const pages = new Hono();
  const fingerprint = newsroomFingerprint(deps.newsroomPublicKey);
  const newsroomKeyHex = hex.encode(deps.newsroomPublicKey);
  const formLimit = deps.limits.maxMessageChars * 12 + 4096;
  const unavailable = (c: Context, ctx: PageContext) => c.html(messagePage(ctx, ctx.t('unavailable.heading'), ctx.t('unavailable.text')), 503);
  const busy = (c: Context, ctx: PageContext, status: 429 | 503 = 429) => c.html(messagePage(ctx, ctx.t('busy.heading'), ctx.t('busy.text')), status);
  /** Why a form token was refused, in the source's words, and the status: the form is then shown again with the text in it. */
  const refusal = (c: Context, ctx: PageContext, e: FormTokenRefused): { error: string; status: 400 | 403 | 409 | 410 | 429 } => {
    if (e.code !== 'too-young') return { error: ctx.t('submit.error.formStale'), status: TOKEN_STATUS[e.code] };
    c.header('Retry-After', String(e.retryAfterSeconds ?? deps.limits.noJsFormMinSeconds));
    return { error: ctx.t('submit.error.formTooSoon', { seconds: String(deps.limits.noJsFormMinSeconds) }), status: 429 };
  };
  /** Shows the form again, with the source's text in it, saying why it was not sent. */
  type Again = (error: string, status: 400 | 403 | 409 | 410 | 413 | 429) => Promise<Response>;
  /**
   * The checks a no-JavaScript post (a first tip or a follow-up) passes before
   * any budget is charged: a message that is not empty or too long, then the
   * form token. Gives the token's spend, or the form shown again.
   */
  const checkPost = async (c: Context, ctx: PageContext, message: string, form: URLSearchParams, kind: FormPurpose, again: Again): Promise<FormTokenSpend | Response> => {
    if (message.trim() === '') return again(ctx.t('submit.error.empty'), 400);
    if ([...message].length > deps.limits.maxMessageChars) {
      return again(ctx.t('submit.error.tooLong', { limit: String(deps.limits.maxMessageChars) }), 413);
    }
    try {
      return await deps.formTokens.check(form.get(FORM_TOKEN_FIELD), kind);
    } catch (e) {
      if (!(e instanceof FormTokenRefused)) throw e;
      const r = refusal(c, ctx, e);
      return again(r.error, r.status);
    }
  };
  /** The server-rendered conversation, its reply form with a fresh token. */
  const inbox = async (ctx: PageContext, o: Omit<Parameters<typeof inboxPage>[1], 'newsroomPublicKey' | 'attachments' | 'formToken'>) =>
    inboxPage(ctx, { ...o, newsroomPublicKey: newsroomKeyHex, attachments, formToken: await deps.formTokens.issue('followup') });

  pages.get('/', (c) => c.html(landingPage(pageContext(c), fingerprint, deps.previousFingerprints)));

  // The server's limits count ciphertext; a source picks files by their own size.
  const attachments: AttachmentLimits = {
    maxFiles: deps.limits.maxFilesPerTip,
    // Files are padded to a size bucket before encryption (crypto/file-padding.ts).
    maxFileBytes: largestFileWithin(deps.limits.maxFileBytes - ATTACHMENT_FRAMING_BYTES),
    maxUploadBytes: deps.limits.maxFileBytes,
    maxTipBytes: deps.limits.maxAttachmentBytesPerTip,
  };

  /** What the form needs from the current manifest; undefined when there is no valid one. */
  const formInfo = async () => {
    try {
      const { manifest, desks } = await deps.recipients.get();
      return { newsroomPublicKey: newsroomKeyHex, maxMessageChars: deps.limits.maxMessageChars, manifestVersion: manifest.version, desks: desks.map((d) => ({ id: d.id, name: d.name })), attachments };
    } catch (e) {
      if (e instanceof ManifestUnavailableError) return undefined;
      throw e;
    }
  };

  pages.get('/submit', async (c) => {
    const ctx = pageContext(c);
    const info = await formInfo();
    // No keys, or stale ones: say so plainly rather than offer a form that can't work.
    if (!info) return unavailable(c, ctx);
    return c.html(submitPage(ctx, { ...info, formToken: await deps.formTokens.issue('tip') }));
  });

  // The no-JavaScript path: the plain form posts here and the server encrypts in memory.
  pages.post('/submit', async (c) => {
    const ctx = pageContext(c);
    const form = await readForm(c.req.raw, formLimit);
    const message = (form.get('message') ?? '').replace(/\r\n/g, '\n');
    const desk = form.get('desk') ?? undefined;
    const info = await formInfo();
    if (!info) return unavailable(c, ctx);
    // Every refusal shows the form again with the source's text in it, and a fresh token.
    const again: Again = async (error, status) => c.html(submitPage(ctx, { ...info, message, error, desk, formToken: await deps.formTokens.issue('tip') }), status);
    if (info.desks.length > 1 && !info.desks.some((d) => d.id === desk)) return again(ctx.t('submit.error.desk'), 400);
    // The token before the budget: a forged, early, late or replayed one uses none of it.
    const spend = await checkPost(c, ctx, message, form, 'tip', again);
    if (spend instanceof Response) return spend;
    // A dry budget leaves the token unspent: the same form can be sent again later.
    if (!deps.noJs.take('tip')) return busy(c, ctx);
    // The codename is made here, shown once in the response, and never stored.
    const codename = generateCodename(ctx.lang);
    const keys = deriveCodenameKeys(parseCodename(codename, ctx.lang).entropy);
    try {
      await deps.intake.encryptAndStore(
        { type: 'tip', message, fields: {}, lang: ctx.lang, replyPublicKey: hex.encode(keys.replyPublicKey) },
        { threadId: threadIdOf(keys.lookupSecret), kind: 'tip', desk },
        spend,
      );
    } catch (e) {
      if (e instanceof ManifestUnavailableError) return unavailable(c, ctx);
      // Another post spent the same token first (a double click): this one stored nothing.
      if (e instanceof FormTokenRefused) return again(refusal(c, ctx, e).error, 409);
      throw e;
    } finally {
      wipe(keys.lookupSecret, keys.replySecretKey);
    }
    return c.html(successPage(ctx, 'server', codename), 201);
  });

  pages.get('/login', (c) => c.html(loginPage(pageContext(c), { newsroomPublicKey: newsroomKeyHex, attachments })));

  // No-JavaScript login: derive the keys in memory, open the replies for this one response, forget.
  pages.post('/login', async (c) => {
    const ctx = pageContext(c);
    const form = await readForm(c.req.raw, 4096);
    let entropy: Uint8Array;
    try {
      entropy = parseCodename(form.get('codename') ?? '', ctx.lang).entropy;
    } catch (e) {
      if (e instanceof CodenameError) return c.html(loginPage(ctx, { newsroomPublicKey: newsroomKeyHex, attachments, error: ctx.t(CODENAME_ERRORS[e.code]) }), 400);
      throw e;
    }
    const keys = deriveCodenameKeys(entropy);
    try {
      const threadId = threadIdOf(keys.lookupSecret);
      if (!(await deps.replies.threadExists(threadId))) {
        // The same answer for a codename that never existed and one whose conversation was deleted.
        return c.html(loginPage(ctx, { newsroomPublicKey: newsroomKeyHex, attachments, error: ctx.t('login.error.unknown') }), 401);
      }
      try {
        startSession(c, deps.sessions, deps.logins, threadId);
      } catch (e) {
        // Refused before any reply is opened: a flood of logins costs no decryption.
        if (e instanceof ApiError && e.code === 'too-many-logins') return c.html(loginPage(ctx, { newsroomPublicKey: newsroomKeyHex, attachments, error: ctx.t('login.error.tooMany') }), 429);
        if (e instanceof ApiError && e.code === 'busy') return busy(c, ctx, 503);
        throw e;
      }
      const shown: ShownReply[] = [];
      for (const r of await deps.replies.forSource(threadId)) {
        shown.push({ id: r.id, day: r.day, text: replyText(ctx, r.box, keys.replySecretKey) });
      }
      return c.html(await inbox(ctx, { replies: shown }));
    } finally {
      wipe(entropy, keys.lookupSecret, keys.replySecretKey);
    }
  });

  // After login, without the codename the server can't open replies: it says so and offers the reply form.
  pages.get('/inbox', async (c) => {
    const ctx = pageContext(c);
    if (!deps.sessions.threadOf(getCookie(c, SESSION_COOKIE))) return c.redirect(href(ctx, '/login'), 303);
    return c.html(await inbox(ctx, { replies: 'locked' }));
  });

  pages.post('/inbox/reply', async (c) => {
    const ctx = pageContext(c);
    const threadId = deps.sessions.threadOf(getCookie(c, SESSION_COOKIE));
    if (!threadId) return c.html(messagePage(ctx, ctx.t('login.heading'), ctx.t('inbox.expired')), 401);
    const form = await readForm(c.req.raw, formLimit);
    const message = (form.get('message') ?? '').replace(/\r\n/g, '\n');
    const again: Again = async (error, status) => c.html(await inbox(ctx, { replies: 'locked', error, message }), status);
    // As for a first tip: the token before the budget (and before the conversation's daily quota is counted).
    const spend = await checkPost(c, ctx, message, form, 'followup', again);
    if (spend instanceof Response) return spend;
    await checkFollowupQuota(deps.tips, threadId, deps.limits.maxFollowupsPerThreadPerDay);
    if (!deps.noJs.take('followup')) return busy(c, ctx);
    try {
      await deps.intake.encryptAndStore({ type: 'followup', message, fields: {}, lang: ctx.lang }, { threadId, kind: 'followup' }, spend);
    } catch (e) {
      if (e instanceof ManifestUnavailableError) return unavailable(c, ctx);
      if (e instanceof FormTokenRefused) return again(refusal(c, ctx, e).error, 409);
      throw e;
    }
    return c.html(await inbox(ctx, { replies: 'locked', notice: ctx.t('inbox.sent') }), 201);
  });

  pages.post('/inbox/delete', async (c) => {
    const ctx = pageContext(c);
    const threadId = deps.sessions.threadOf(getCookie(c, SESSION_COOKIE));
    if (!threadId) return c.html(messagePage(ctx, ctx.t('login.heading'), ctx.t('inbox.expired')), 401);
    const id = (await readForm(c.req.raw, 1024)).get('id') ?? '';
    if (!/^[A-Za-z0-9_-]{22}$/.test(id) || !(await deps.replies.deleteForSource(threadId, id))) throw new ApiError(404, 'not-found', ctx.t('error.notFound'));
    return c.html(await inbox(ctx, { replies: 'locked', notice: ctx.t('inbox.deleted') }));
  });

  pages.post('/logout', (c) => {
    endSession(c, deps.sessions);
    return c.redirect(href(pageContext(c), '/'), 303);
  });

  pages.get('/robots.txt', (c) => c.text('User-agent: *\nDisallow: /\n'));

  return pages;
}

/**
 * A reply's text, or (as on the JavaScript page) a note that it could not be
 * opened: the server checks only a box's shape, so one bad box must not lock
 * the source out of every other reply.
 */
function replyText(ctx: PageContext, box: Uint8Array, replySecretKey: Uint8Array): string {
  let plain: Uint8Array | undefined;
  try {
    plain = openReply(box, replySecretKey);
    return decodeTipDocument(plain).message;
  } catch (e) {
    if (e instanceof ReplyBoxError || e instanceof TipDocumentError) return ctx.t('inbox.error.decrypt', { reason: e.message });
    throw e;
  } finally {
    if (plain) wipe(plain);
  }
}

/**
 * Reads an urlencoded form with a byte limit (percent-encoding can make one
 * character up to 12 bytes, hence the caller's allowance).
 */
async function readForm(request: Request, limit: number): Promise<URLSearchParams> {
  const type = request.headers.get('content-type') ?? '';
  if (!/^application\/x-www-form-urlencoded\b/i.test(type)) {
    throw new ApiError(415, 'unsupported-media-type', 'The form must be sent as application/x-www-form-urlencoded.');
  }
  const bytes = await readBodyWithLimit(request, limit);
  try {
    return new URLSearchParams(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new ApiError(400, 'bad-request', 'The form is not valid UTF-8.');
  } finally {
    // The raw body holds the plaintext: wipe our copy. (Strings can't be wiped in JavaScript.)
    bytes.fill(0);
  }
}
