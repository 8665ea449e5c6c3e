/**
 * The journalist API, behind bearer tokens: list tips, fetch one tip's
 * ciphertext, delete a tip. It hands out ciphertext only; decryption happens
 * on the journalist's own machine.
 */
import { Hono } from 'hono';
import type { Limits } from '../config.ts';
import { ApiError } from '../http/api-error.ts';
import type { Journalist, JournalistStore } from '../store/journalist-store.ts';
import { BadCursorError, type TipStore } from '../store/tip-store.ts';

type Env = { Variables: { journalist: Journalist } };

const ID_RE = /^[A-Za-z0-9_-]{22}$/;

export function journalistApi(deps: { journalists: JournalistStore; tips: TipStore; limits: Limits }): Hono<Env> {
  const api = new Hono<Env>();

  api.use('*', async function requireToken(c, next) {
    const header = c.req.header('authorization') ?? '';
    const m = /^Bearer (\S+)$/.exec(header);
    if (!m) throw new ApiError(401, 'unauthorized', 'A bearer token is required.');
    const journalist = await deps.journalists.authenticate(m[1]!);
    if (!journalist) throw new ApiError(401, 'unauthorized', 'The token is not valid.');
    c.set('journalist', journalist);
    await next();
  });

  api.get('/me', (c) => {
    const j = c.get('journalist');
    return c.json({ id: j.id, name: j.name, fingerprint: j.fingerprint });
  });

  api.get('/tips', async (c) => {
    const limitText = c.req.query('limit') ?? '100';
    const limit = Number(limitText);
    if (!Number.isInteger(limit) || limit < 1 || limit > deps.limits.maxPageSize) {
      throw new ApiError(400, 'bad-limit', `limit must be a whole number from 1 to ${deps.limits.maxPageSize}.`);
    }
    try {
      return c.json(await deps.tips.list({ limit, cursor: c.req.query('cursor') ?? null }));
    } catch (e) {
      if (e instanceof BadCursorError) throw new ApiError(400, 'bad-cursor', 'The cursor is not one this server gave out.');
      throw e;
    }
  });

  api.get('/tips/:id', async (c) => {
    const tip = await deps.tips.get(tipId(c.req.param('id')));
    if (!tip) throw new ApiError(404, 'not-found', 'No such tip.');
    return c.body(tip.ciphertext as Uint8Array<ArrayBuffer>, 200, { 'Content-Type': 'application/octet-stream' });
  });

  api.delete('/tips/:id', async (c) => {
    const deleted = await deps.tips.delete(tipId(c.req.param('id')));
    if (!deleted) throw new ApiError(404, 'not-found', 'No such tip.');
    return c.json({ deleted: true });
  });

  return api;
}

function tipId(id: string): string {
  if (!ID_RE.test(id)) throw new ApiError(404, 'not-found', 'No such tip.');
  return id;
}
