/**
 * The journalist API, behind bearer tokens: list tips, fetch one tip's
 * ciphertext, delete a tip. It hands out ciphertext only; decryption happens
 * on the journalist's own machine.
 */
import { Hono } from 'hono';
import * as z from 'zod';
import { base64 } from '../../crypto/bytes.ts';
import { checkRecipients } from '../../crypto/envelope.ts';
import { NotEncryptedError } from '../../crypto/packets.ts';
import { isReplyBox } from '../../crypto/reply-box.ts';
import type { Limits } from '../config.ts';
import type { CurrentRecipients } from '../current-recipients.ts';
import { ApiError } from '../http/api-error.ts';
import { parseJson, readBodyWithLimit } from '../http/read-body.ts';
import { requireJson } from '../source/api.ts';
import type { SourceSessions } from '../source/sessions.ts';
import type { ReplyStore } from '../store/reply-store.ts';
import type { AuthThrottle } from '../abuse/auth-throttle.ts';
import type { Journalist, JournalistStore } from '../store/journalist-store.ts';
import { BadCursorError, NoSuchThreadError, type TipStore } from '../store/tip-store.ts';

type Env = { Variables: { journalist: Journalist } };

const ID_RE = /^[A-Za-z0-9_-]{22}$/;
const THREAD_RE = /^[0-9a-f]{64}$/;
const ReplyBody = z.strictObject({ box: z.string().min(1), copy: z.string().min(1) });

export type JournalistApiDeps = {
  journalists: JournalistStore;
  tips: TipStore;
  replies: ReplyStore;
  recipients: CurrentRecipients;
  sessions: SourceSessions;
  limits: Limits;
  throttle: AuthThrottle;
};

export function journalistApi(deps: JournalistApiDeps): Hono<Env> {
  const api = new Hono<Env>();

  api.use('*', async function requireToken(c, next) {
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer (\S+)$/.exec(header);
    if (!m) throw new ApiError(401, 'unauthorized', 'A bearer token is required.');
    // The token's id part (never its secret) keys the failure counter.
    const tokenId = /^tl_([A-Za-z0-9_-]{22})_/.exec(m[1]!)?.[1] ?? 'malformed';
    deps.throttle.check(tokenId);
    const journalist = await deps.journalists.authenticate(m[1]!);
    if (!journalist) {
      deps.throttle.failed(tokenId);
      throw new ApiError(401, 'unauthorized', 'The token is not valid.');
    }
    c.set('journalist', journalist);
    await next();
  });

  api.get('/me', (c) => {
    const j = c.get('journalist');
    return c.json({ id: j.id, name: j.name, fingerprint: j.fingerprint });
  });

  /** The desks this journalist is in, by the current manifest (none if there is no valid manifest). */
  const desksOf = async (journalistId: string) => {
    const current = await deps.recipients.get().catch(() => undefined);
    const all = current?.desks.map((d) => d.id) ?? [];
    return { mine: current?.desks.filter((d) => d.recipientIds.includes(journalistId)).map((d) => d.id) ?? [], all };
  };
  const canRead = (desks: { mine: string[]; all: string[] }, desk: string | null | undefined) =>
    !desk || desks.mine.includes(desk) || !desks.all.includes(desk);

  api.get('/tips', async (c) => {
    const limit = pageLimit(c.req.query('limit'), deps.limits.maxPageSize);
    try {
      return c.json(await deps.tips.list({ limit, cursor: c.req.query('cursor') ?? null, desks: await desksOf(c.get('journalist').id) }));
    } catch (e) {
      if (e instanceof BadCursorError) throw new ApiError(400, 'bad-cursor', 'The cursor is not one this server gave out.');
      throw e;
    }
  });

  api.get('/tips/:id', async (c) => {
    const tip = await deps.tips.get(tipId(c.req.param('id')));
    if (!tip || !canRead(await desksOf(c.get('journalist').id), tip.summary.desk)) throw new ApiError(404, 'not-found', 'No such tip.');
    return c.body(tip.ciphertext as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/octet-stream' });
  });

  api.delete('/tips/:id', async (c) => {
    const deleted = await deps.tips.delete(tipId(c.req.param('id')));
    if (!deleted) throw new ApiError(404, 'not-found', 'No such tip.');
    return c.json({ deleted: true });
  });

  api.get('/replies', async (c) => {
    const limit = pageLimit(c.req.query('limit'), deps.limits.maxPageSize);
    const after = c.req.query('cursor') ?? null;
    if (after !== null && !ID_RE.test(after)) throw new ApiError(400, 'bad-cursor', 'The cursor is not one this server gave out.');
    return c.json(await deps.replies.list({ limit, after }));
  });

  api.get('/replies/:id', async (c) => {
    const id = c.req.param('id');
    const copy = ID_RE.test(id) ? await deps.replies.copy(id) : undefined;
    if (!copy) throw new ApiError(404, 'not-found', 'No such reply.');
    return c.body(copy as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/octet-stream' });
  });

  // A reply: a box only the source's codename opens, and an OpenPGP copy for the newsroom.
  api.post('/threads/:threadId/replies', async (c) => {
    const threadId = threadIdParam(c.req.param('threadId'));
    requireJson(c.req.header('content-type'));
    const limit = deps.limits.maxTipBytes;
    const parsed = ReplyBody.safeParse(parseJson(await readBodyWithLimit(c.req.raw, Math.ceil((limit * 8) / 3) + 1024)));
    if (!parsed.success) throw new ApiError(400, 'bad-request', 'Expected {"box": "<base64>", "copy": "<base64 OpenPGP>"}.');
    const box = decode(parsed.data.box, limit);
    const copy = decode(parsed.data.copy, limit);
    if (!isReplyBox(box)) throw new ApiError(422, 'not-a-reply-box', 'box is not a version 1 reply box.');
    const current = await deps.recipients.get();
    // The newsroom's copy goes to the conversation's desk, like the tips in it.
    const desk = current.desk(await deps.tips.threadDesk(threadId)) ?? current.desks[0]!;
    try {
      checkRecipients(copy, desk.keyIds);
    } catch (e) {
      if (e instanceof NotEncryptedError) throw new ApiError(422, 'wrong-recipients', 'The copy must be an OpenPGP message to exactly the current journalist keys.');
      throw e;
    }
    if (!(await deps.replies.threadExists(threadId))) throw new ApiError(404, 'not-found', 'No such conversation.');
    let id: string;
    try {
      id = await deps.replies.add(threadId, { box, copy });
    } catch (e) {
      // Deleted between the check and the insert.
      if (e instanceof NoSuchThreadError) throw new ApiError(404, 'not-found', 'No such conversation.');
      throw e;
    }
    return c.json({ id }, 201);
  });

  api.delete('/threads/:threadId', async (c) => {
    const threadId = threadIdParam(c.req.param('threadId'));
    if (!(await deps.replies.deleteThread(threadId))) throw new ApiError(404, 'not-found', 'No such conversation.');
    deps.sessions.destroyThread(threadId);
    return c.json({ deleted: true });
  });

  return api;
}

function pageLimit(text: string | undefined, max: number): number {
  const limit = Number(text ?? '100');
  if (!Number.isInteger(limit) || limit < 1 || limit > max) throw new ApiError(400, 'bad-limit', `limit must be a whole number from 1 to ${max}.`);
  return limit;
}

function threadIdParam(id: string): string {
  if (!THREAD_RE.test(id)) throw new ApiError(404, 'not-found', 'No such conversation.');
  return id;
}

function decode(text: string, limit: number): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = base64.decode(text);
  } catch {
    throw new ApiError(400, 'bad-request', 'Fields must be base64.');
  }
  if (bytes.length > limit) throw new ApiError(413, 'too-large', 'The reply is larger than the limit.');
  return bytes;
}

function tipId(id: string): string {
  if (!ID_RE.test(id)) throw new ApiError(404, 'not-found', 'No such tip.');
  return id;
}
