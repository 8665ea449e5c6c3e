/**
 * What happens to a request body the app did not read to its end: a 413
 * stops reading at the limit, a 401 or 404 never starts. Closing the socket
 * with bytes still arriving makes the kernel send a reset, and the client
 * then loses the answer we wrote (a browser shows "connection reset", not
 * "too large"). So the rest is read and thrown away, as web servers'
 * "lingering close" does, up to a bound: then the socket is closed after all.
 * An attacker can send bytes to any socket anyway; this spends no more on
 * them than reading and dropping at most `maxBytes` within `maxMs`.
 *
 * Only under `tipline serve` (the Node request stream, `c.env.incoming`);
 * `app.request` in tests has no socket.
 *
 * @module
 * @example
 * app.use('*', discardUnreadBody({ maxBytes: 16 << 20, maxMs: 5_000 }));
 */
import { IncomingMessage } from 'node:http';
import type { MiddlewareHandler } from 'hono';

export type DiscardOptions = { maxBytes: number; maxMs: number };

/** 16 MiB (one upload chunk) or 5 s, whichever comes first. */
export const DEFAULT_DISCARD: DiscardOptions = { maxBytes: 16 * 1024 * 1024, maxMs: 5_000 };

export function discardUnreadBody(o: DiscardOptions = DEFAULT_DISCARD): MiddlewareHandler {
  return async function discardUnreadBodyMiddleware(c, next) {
    await next();
    const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming;
    if (incoming instanceof IncomingMessage) discardRest(incoming, o);
  };
}

/** Reads and drops what is left of `incoming`, then lets the connection go on; past the bound, closes it. */
export function discardRest(incoming: IncomingMessage, o: DiscardOptions): void {
  if (incoming.readableEnded || incoming.destroyed) return;
  let seen = 0;
  const stop = () => {
    cleanup();
    incoming.socket?.destroy();
  };
  const onData = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > o.maxBytes) stop();
  };
  const cleanup = () => {
    clearTimeout(timer);
    incoming.off('data', onData);
    incoming.off('end', cleanup);
    incoming.off('error', cleanup);
    incoming.off('close', cleanup);
  };
  const timer = setTimeout(stop, o.maxMs);
  timer.unref();
  // A Web stream over the request (Readable.toWeb) still listens and pauses the request when its
  // queue is full: nobody will read that stream now, so its listener goes, as in Node's own req._dump().
  incoming.removeAllListeners('data');
  incoming.on('data', onData);
  incoming.on('end', cleanup);
  incoming.on('error', cleanup);
  incoming.on('close', cleanup);
  incoming.resume();
}
