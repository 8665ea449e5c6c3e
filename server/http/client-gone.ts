/**
 * Whether the client went away before its request body ended. Whatever
 * error that caused further down (a half-read chunk, a storage layer that
 * reports it as a failed write), it is no fault of the server: app.ts
 * answers 400 (nobody reads it) and the daily line does not count an error.
 * Only under `tipline serve`, where the Node request is at `c.env.incoming`.
 *
 * @module
 * @example
 * if (clientGone(c)) return c.json(errorBody('body-aborted', '…'), 400);
 */
import { IncomingMessage } from 'node:http';
import type { Context } from 'hono';

export function clientGone(c: Context): boolean {
  const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming;
  if (!(incoming instanceof IncomingMessage)) return false;
  return !incoming.complete && (incoming.destroyed || incoming.socket?.destroyed === true);
}
