/**
 * fetch for the source pages: same origin only, no redirects (a redirect could
 * carry a tip elsewhere), and the server's refusal reason read from its JSON.
 */

/** fetch that throws `networkError` (a sentence for the source) when the connection fails. */
export async function request(url: string, init: RequestInit, networkError: string | undefined): Promise<Response> {
  try {
    return await fetch(url, { ...init, credentials: 'same-origin', redirect: 'error' });
  } catch {
    throw new Error(networkError ?? 'network error');
  }
}

/** The server's own words for a refusal (`{ error: { message } }`), or the HTTP status. */
export async function errorMessage(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: string } };
    return body.error?.message ?? `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}
