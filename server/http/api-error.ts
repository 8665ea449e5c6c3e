/**
 * Errors the client is allowed to see. Code throws an {@link ApiError}; one
 * `onError` (see app.ts) turns it into `{ "error": { "code", "message" } }`.
 * Anything else becomes a generic 500 that names no request data.
 *
 * @example
 * throw new ApiError(413, 'too-large', 'The tip is larger than 2 MiB.');
 */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 410 | 413 | 415 | 422 | 429 | 500 | 503,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } };
}
