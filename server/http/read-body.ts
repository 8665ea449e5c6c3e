/**
 * Reads a request body with a hard byte limit, counting as it streams so an
 * oversized or endless body is cut off without being buffered whole
 * (Hono's `bodyLimit` buffers chunked bodies).
 *
 * @example
 * const bytes = await readBodyWithLimit(c.req.raw, 2 * 1024 * 1024);
 */
import { ApiError } from './api-error.ts';

export async function readBodyWithLimit(request: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > limit) throw tooLarge(limit);
  if (!request.body) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.length;
  }
  return out;
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
