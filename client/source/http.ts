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

/** The server's error code for a refusal (`{ error: { code } }`), or undefined. Reads a clone, so the body stays readable. */
export async function errorCode(response: Response): Promise<string | undefined> {
  try {
    const body = (await response.clone().json()) as { error?: { code?: unknown } };
    return typeof body.error?.code === 'string' ? body.error.code : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Refusals that mean the proof of work came too late, not that anything is
 * wrong: the work asked rose meanwhile (`pow-too-easy`), the challenge
 * expired, or its secret rotated out. The page solves a new challenge and
 * sends again, a few times at most.
 */
export const STALE_WORK_CODES: ReadonlySet<string> = new Set(['pow-too-easy', 'pow-expired', 'pow-forged']);
export const WORK_ATTEMPTS = 3;
