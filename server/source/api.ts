/**
 * The source API: the signed manifest, encrypted tips, and, after a codename
 * login, replies and follow-ups. Every body that claims to be a tip is checked
 * by the server itself (see tip-intake.ts); the browser's word counts for nothing.
 */
import { Hono, type Context } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import * as z from 'zod';
import { base64 } from '../../crypto/bytes.ts';
import { threadIdOf } from '../../crypto/codename.ts';
import type { Limits } from '../config.ts';
import type { CurrentRecipients } from '../current-recipients.ts';
import { ApiError } from '../http/api-error.ts';
import { parseJson, readBodyWithLimit, requestBody } from '../http/read-body.ts';
import type { ReplyStore } from '../store/reply-store.ts';
import type { TipIntake } from '../tip-intake.ts';
import { SESSION_COOKIE, SessionsFullError, type SourceSessions } from './sessions.ts';
import type { LoginThrottle } from '../abuse/login-throttle.ts';
import type { PowGuard } from '../abuse/pow-guard.ts';
import type { TipStore } from '../store/tip-store.ts';

const Base64 = z.string().min(1).max(64 * 1024 * 1024);
const Pow = z.strictObject({ challenge: z.string().min(1).max(1024), nonce: z.string().min(1).max(32) });
const Attachments = z.array(z.string().regex(/^[A-Za-z0-9_-]{22}$/)).max(100).optional();
const TipBody = z.strictObject({ ciphertext: Base64, lookupSecret: Base64, desk: z.string().max(64).optional(), attachments: Attachments, pow: Pow.optional() });
const FollowupBody = z.strictObject({ ciphertext: Base64, attachments: Attachments, pow: Pow.optional() });
// `bytes`: an upload's declared size, which sets its price (server/abuse/pow-guard.ts).
const ChallengeBody = z.strictObject({ purpose: z.enum(['tip', 'followup', 'upload']), bytes: z.number().int().positive().max(Number.MAX_SAFE_INTEGER).optional() });
const LoginBody = z.strictObject({ lookupSecret: Base64 });
const REPLY_ID = /^[A-Za-z0-9_-]{22}$/;

export type SourceApiDeps = {
  recipients: CurrentRecipients;
  intake: TipIntake;
  replies: ReplyStore;
  sessions: SourceSessions;
  /** Logins per conversation (login-throttle.ts). */
  logins: LoginThrottle;
  pow: PowGuard;
  tips: TipStore;
  limits: Limits;
};

export function sourceApi(deps: SourceApiDeps): Hono {
  const api = new Hono();
  const readJson = async (c: Context, schema: z.ZodType, limit: number) => {
    requireJson(c.req.header('content-type'));
    const parsed = schema.safeParse(parseJson(await readBodyWithLimit(c.req.raw, limit, requestBody(c))));
    if (!parsed.success) throw new ApiError(400, 'bad-request', 'The request body does not have the expected fields.');
    return parsed.data;
  };
  // base64 grows the body by 4/3; allow for that plus the JSON around it.
  const tipBodyLimit = Math.ceil((deps.limits.maxTipBytes * 4) / 3) + 1024;

  api.get('/manifest', async (c) => {
    const { signed } = await deps.recipients.get();
    return c.json(signed);
  });

  // A proof-of-work challenge: stateless, signed, nothing about the asker is kept.
  api.post('/challenge', async (c) => {
    const { purpose, bytes } = (await readJson(c, ChallengeBody, 1024)) as z.infer<typeof ChallengeBody>;
    return c.json(await deps.pow.issue(purpose, bytes === undefined ? {} : { bytes }));
  });

  api.post('/tips', async (c) => {
    const body = (await readJson(c, TipBody, tipBodyLimit)) as z.infer<typeof TipBody>;
    const ciphertext = decodeCiphertext(body.ciphertext, deps.limits.maxTipBytes);
    const threadId = threadIdOf(decodeSecret(body.lookupSecret));
    // Checked now, spent in the tip's own transaction: one commit per tip.
    const spend = deps.pow.check(body.pow, 'tip');
    checkAttachmentCount(body.attachments, deps.limits.maxFilesPerTip);
    const receipt = await deps.intake.acceptEncrypted(ciphertext, { threadId, kind: 'tip', desk: body.desk, attachments: body.attachments }, spend);
    // Same shape and size for every tip: the receipt is a fixed-length random id.
    return c.json({ status: 'received', receipt }, 201);
  });

  api.post('/source/login', async (c) => {
    const body = (await readJson(c, LoginBody, 1024)) as z.infer<typeof LoginBody>;
    const threadId = threadIdOf(decodeSecret(body.lookupSecret));
    // Unknown and mistyped-but-valid codenames take the same path and get the same answer.
    if (!(await deps.replies.threadExists(threadId))) throw unknownCodename();
    startSession(c, deps.sessions, deps.logins, threadId);
    return c.json({ status: 'logged-in' });
  });

  api.post('/source/logout', (c) => {
    endSession(c, deps.sessions);
    return c.json({ status: 'logged-out' });
  });

  // The desk a logged-in source's follow-ups go to (the one their first tip chose), and their conversation.
  api.get('/source/thread', async (c) => {
    const threadId = requireSession(c, deps.sessions);
    // The thread id too: the browser writes it inside each follow-up, where the server can't later change it.
    return c.json({ desk: await deps.tips.threadDesk(threadId), threadId });
  });

  api.get('/source/replies', async (c) => {
    const threadId = requireSession(c, deps.sessions);
    const replies = await deps.replies.forSource(threadId);
    return c.json({ replies: replies.map((r) => ({ id: r.id, day: r.day, seq: r.seq, box: base64.encode(r.box) })) });
  });

  api.delete('/source/replies/:id', async (c) => {
    const threadId = requireSession(c, deps.sessions);
    const id = c.req.param('id');
    if (!REPLY_ID.test(id) || !(await deps.replies.deleteForSource(threadId, id))) throw new ApiError(404, 'not-found', 'No such reply.');
    return c.json({ deleted: true });
  });

  api.post('/source/followups', async (c) => {
    const threadId = requireSession(c, deps.sessions);
    const body = (await readJson(c, FollowupBody, tipBodyLimit)) as z.infer<typeof FollowupBody>;
    const spend = deps.pow.check(body.pow, 'followup');
    await checkFollowupQuota(deps.tips, threadId, deps.limits.maxFollowupsPerThreadPerDay);
    checkAttachmentCount(body.attachments, deps.limits.maxFilesPerTip);
    const receipt = await deps.intake.acceptEncrypted(decodeCiphertext(body.ciphertext, deps.limits.maxTipBytes), { threadId, kind: 'followup', attachments: body.attachments }, spend);
    return c.json({ status: 'received', receipt }, 201);
  });

  return api;
}

export async function checkFollowupQuota(tips: TipStore, threadId: string, max: number): Promise<void> {
  if ((await tips.followupsToday(threadId)) >= max) {
    throw new ApiError(429, 'too-many-followups', `A conversation can send at most ${max} messages a day. Please try again tomorrow.`);
  }
}

function checkAttachmentCount(ids: string[] | undefined, max: number): void {
  if (ids && ids.length > max) throw new ApiError(413, 'too-many-files', `A tip can carry at most ${max} files.`);
}

export function unknownCodename(): ApiError {
  return new ApiError(401, 'unknown-codename', 'No conversation matches this codename. Check each word.');
}

/**
 * Logs a conversation in: counted against its login budget, then a fresh
 * session that ends the conversation's earlier one (sessions.ts). Throws a
 * 429 `too-many-logins` or a 503 `busy` as an {@link ApiError}.
 */
export function startSession(c: Context, sessions: SourceSessions, logins: LoginThrottle, threadId: string): void {
  if (!logins.take(threadId)) {
    const minutes = Math.max(1, logins.minutesUntilNext(threadId));
    c.header('Retry-After', String(minutes * 60));
    throw new ApiError(429, 'too-many-logins', `This conversation was opened too many times in a short while. Try again in ${minutes} minutes.`);
  }
  // A fresh id on every login (no session fixation); the old one, if any, is forgotten.
  sessions.destroy(getCookie(c, SESSION_COOKIE));
  let id: string;
  try {
    id = sessions.create(threadId);
  } catch (e) {
    if (e instanceof SessionsFullError) throw new ApiError(503, 'busy', 'The tip line is busy. Please try again in a few minutes.');
    throw e;
  }
  setCookie(c, SESSION_COOKIE, id, { httpOnly: true, sameSite: 'Strict', path: '/' });
}

export function endSession(c: Context, sessions: SourceSessions): void {
  sessions.destroy(getCookie(c, SESSION_COOKIE));
  deleteCookie(c, SESSION_COOKIE, { path: '/' });
}

/** The thread of the logged-in source, or a 401. */
export function requireSession(c: Context, sessions: SourceSessions): string {
  const threadId = sessions.threadOf(getCookie(c, SESSION_COOKIE));
  if (!threadId) throw new ApiError(401, 'not-logged-in', 'Your session has ended. Log in again with your codename.');
  return threadId;
}

function decodeCiphertext(text: string, limit: number): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = base64.decode(text);
  } catch {
    throw new ApiError(400, 'bad-request', 'ciphertext is not valid base64.');
  }
  if (bytes.length > limit) throw new ApiError(413, 'too-large', 'The tip is larger than the limit.');
  return bytes;
}

function decodeSecret(text: string): Uint8Array {
  try {
    const bytes = base64.decode(text);
    if (bytes.length === 32) return bytes;
  } catch {
    /* fall through */
  }
  throw new ApiError(400, 'bad-request', 'lookupSecret must be 32 bytes of base64.');
}

export function requireJson(contentType: string | undefined): void {
  if (!contentType || !/^application\/json\b/i.test(contentType)) {
    throw new ApiError(415, 'unsupported-media-type', 'Send the body as application/json.');
  }
}
