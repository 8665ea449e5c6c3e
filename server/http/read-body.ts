/**
 * Reads a request body with a hard byte limit, counting as it streams so an
 * oversized or endless body is cut off without being buffered whole
 * (Hono's `bodyLimit` buffers chunked bodies).
 *
 * @example
 * const bytes = await readBodyWithLimit(c.req.raw, 2 * 1024 * 1024, requestBody(c));
 */
import { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import type { Context } from 'hono';
import { ApiError } from './api-error.ts';

export async function readBodyWithLimit(request: Request, limit: number, body: ReadableStream<Uint8Array> | Readable | null = request.body): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  if (!body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  // Breaking off leaves the rest of a Node stream unread (unread-body.ts discards it, so the 413 arrives).
  try {
    for await (const value of bodyPieces(body)) {
      total += value.length;
      if (total > limit) throw tooLarge(limit);
      chunks.push(value);
    }
  } catch (e) {
    // This is always the client's body: however it broke off, that is a 400, not the server's fault.
    throw e instanceof ApiError ? e : new BodyAbortedError({ cause: e });
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
}

/**
 * The client went away (or broke the framing) before its body ended. Not a
 * server fault: it answers 400 and is not counted as an error (app.ts).
 */
export class BodyAbortedError extends ApiError {
  override name = 'BodyAbortedError';
  constructor(options?: { cause?: unknown }) {
    super(400, 'body-aborted', 'The request body ended before it was complete.');
    if (options && 'cause' in options) this.cause = options.cause;
  }
}

/**
 * A body's pieces, from a Node stream or a Web stream alike. Breaking off the
 * loop early stops reading: a Web stream is cancelled; a Node request stream
 * is left as it is, unread, so that unread-body.ts can discard the rest and
 * the client still reads our answer (destroying it would reset the
 * connection before a 413 arrives). A client that aborts mid-body surfaces
 * as {@link BodyAbortedError}.
 */
export function bodyPieces(body: ReadableStream<Uint8Array> | Readable): AsyncIterable<Uint8Array> {
  return body instanceof Readable ? nodePieces(body) : webPieces(body);
}

async function* nodePieces(body: Readable): AsyncGenerator<Uint8Array> {
  const pieces = body.iterator({ destroyOnReturn: false }) as AsyncIterableIterator<Uint8Array>;
  try {
    for (;;) {
      let next: IteratorResult<Uint8Array>;
      try {
        next = await pieces.next();
      } catch (e) {
        // The request itself failing is the client's doing; any other stream keeps its own error.
        throw body instanceof IncomingMessage || isClientAbort(e) ? new BodyAbortedError({ cause: e }) : e;
      }
      if (next.done) return;
      yield next.value;
    }
  } finally {
    // Stops listening; with destroyOnReturn false the stream stays open, unread.
    await pieces.return?.().catch(() => {});
  }
}

async function* webPieces(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = body.getReader();
  let finished = false;
  try {
    for (;;) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (e) {
        finished = true;
        // A stream this server built (a re-key's copy, a store's read) fails with its own error, which is
        // kept (a re-key's blob-changed must stay blob-changed); a request body cut by the client is a 400.
        throw isClientAbort(e) ? new BodyAbortedError({ cause: e }) : e;
      }
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => {});
  }
}

/** How a request body cut off by the client fails once Node's request is wrapped in a Web stream. */
function isClientAbort(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  return e.name === 'AbortError' || code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ABORT_ERR' || (typeof code === 'string' && code.startsWith('HPE_'));
}

/**
 * The request body as a stream. Under `tipline serve` that is the Node
 * request stream itself (@hono/node-server hands it over as
 * `c.env.incoming`): reading it directly skips building a Web Request and a
 * Web stream over it (measured: about a tenth of a tip's CPU time). Only its
 * body is read, never its socket. Elsewhere (app.request in tests) it is the
 * Web stream.
 */
export function requestBody(c: Context): Readable | ReadableStream<Uint8Array> | null {
  const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming;
  // Only while nothing else has begun to consume it (e.g. something read c.req.raw.body
  // first): reading it then would silently miss the bytes already taken.
  const untouched = incoming instanceof IncomingMessage && !incoming.readableDidRead && incoming.readableFlowing === null;
  return untouched ? incoming : c.req.raw.body;
}

function tooLarge(limit: number): ApiError {
  return new ApiError(413, 'too-large', `The request body is larger than the limit of ${formatBytes(limit)}.`);
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 * 1024) return `${+(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 * 1024) return `${+(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${+(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/** Parses a JSON body (already size-limited) and turns bad JSON into a clear 400. */
export function parseJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new ApiError(400, 'bad-json', 'The request body is not valid JSON.');
  }
}
