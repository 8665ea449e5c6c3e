/**
 * The source pages: landing, the tip form (which also takes the no-JavaScript
 * POST), and robots.txt. Every page works with JavaScript off.
 */
import { Hono, type Context } from 'hono';
import { hex } from '../../crypto/bytes.ts';
import { newsroomFingerprint } from '../../crypto/manifest.ts';
import type { Limits } from '../config.ts';
import { ManifestUnavailableError, type CurrentRecipients } from '../current-recipients.ts';
import { findLanguage, negotiateLanguage, translator } from '../i18n/index.ts';
import type { TipIntake } from '../tip-intake.ts';
import { ApiError } from '../http/api-error.ts';
import { readBodyWithLimit } from '../http/read-body.ts';
import { landingPage, messagePage, submitPage, successPage, type PageContext } from './views.ts';

export function pageContext(c: Context): PageContext {
  const chosen = c.req.query('lang');
  const lang = findLanguage(chosen)?.code ?? negotiateLanguage(c.req.header('accept-language'));
  return { t: translator(lang), lang, path: c.req.path };
}

export function sourcePages(deps: { newsroomPublicKey: Uint8Array; intake: TipIntake; recipients: CurrentRecipients; limits: Limits }): Hono {
  const pages = new Hono();
  const fingerprint = newsroomFingerprint(deps.newsroomPublicKey);
  const newsroomKeyHex = hex.encode(deps.newsroomPublicKey);

  pages.get('/', (c) => c.html(landingPage(pageContext(c), fingerprint)));

  pages.get('/submit', async (c) => {
    const ctx = pageContext(c);
    try {
      await deps.recipients.get();
    } catch (e) {
      // No keys, or stale ones: say so plainly rather than offer a form that can't work.
      if (e instanceof ManifestUnavailableError) return c.html(messagePage(ctx, ctx.t('unavailable.heading'), ctx.t('unavailable.text')), 503);
      throw e;
    }
    return c.html(submitPage(ctx, { newsroomPublicKey: newsroomKeyHex, maxMessageChars: deps.limits.maxMessageChars }));
  });

  // The no-JavaScript path: the plain form posts here and the server encrypts in memory.
  pages.post('/submit', async (c) => {
    const ctx = pageContext(c);
    const form = await readForm(c.req.raw, deps.limits.maxMessageChars * 12 + 4096);
    const message = (form.get('message') ?? '').replace(/\r\n/g, '\n');
    const again = (error: string, status: 400 | 413) =>
      c.html(submitPage(ctx, { newsroomPublicKey: newsroomKeyHex, maxMessageChars: deps.limits.maxMessageChars, message, error }), status);
    if (message.trim() === '') return again(ctx.t('submit.error.empty'), 400);
    if ([...message].length > deps.limits.maxMessageChars) {
      return again(ctx.t('submit.error.tooLong', { limit: String(deps.limits.maxMessageChars) }), 413);
    }
    try {
      await deps.intake.encryptAndStore({ type: 'tip', message, fields: {}, lang: ctx.lang });
    } catch (e) {
      if (e instanceof ManifestUnavailableError) return c.html(messagePage(ctx, ctx.t('unavailable.heading'), ctx.t('unavailable.text')), 503);
      throw e;
    }
    return c.html(successPage(ctx, 'server'), 201);
  });

  pages.get('/robots.txt', (c) => c.text('User-agent: *\nDisallow: /\n'));

  return pages;
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
