/**
 * Posting a no-JavaScript form the way a browser at Safest does: load the
 * page the form is on, take the hidden form token from it, post the form
 * with it (server/abuse/form-tokens.ts). Works with an in-process app
 * (`t.app.request`) and a running server (`fetch(url + path)`).
 *
 * @example
 * const post = noJsPoster((p, init) => t.app.request(p, init));
 * await post('/submit?lang=fr', 'message=hello');
 * await post('/inbox/reply', 'message=more', { cookie });
 */

export type Requester = (path: string, init?: RequestInit) => Response | Promise<Response>;

/** The form token in a page's HTML (the first one), or undefined. */
export function formTokenIn(html: string): string | undefined {
  return /<input type="hidden" name="form_token" value="([A-Za-z0-9_-]+)">/.exec(html)?.[1];
}

/** The page a form posted to `path` is on: `/submit` for `/submit`, `/inbox` for `/inbox/reply`, with the same query. */
export function formPageOf(path: string): string {
  const [route, query] = path.split('?', 2) as [string, string | undefined];
  const page = route === '/inbox/reply' ? '/inbox' : route;
  return query === undefined ? page : `${page}?${query}`;
}

/** Loads the form's page (with `headers`, e.g. the session cookie) and returns its token. Throws if it has none. */
export async function fetchFormToken(request: Requester, path: string, headers: Record<string, string> = {}): Promise<string> {
  const page = await request(formPageOf(path), { headers });
  const token = formTokenIn(await page.text());
  if (!token) throw new Error(`GET ${formPageOf(path)} answered ${page.status} without a form token`);
  return token;
}

/**
 * A poster: `post(path, body, headers)` loads the form's page, then posts
 * `body` (urlencoded) with its token. `wait` ms between the two (a running
 * server keeps the real time lock).
 */
export function noJsPoster(request: Requester, o: { wait?: number } = {}) {
  return async (path: string, body: string, headers: Record<string, string> = {}): Promise<Response> => {
    const token = await fetchFormToken(request, path, headers);
    if (o.wait) await new Promise((r) => setTimeout(r, o.wait));
    return request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: `${body}${body ? '&' : ''}form_token=${token}`,
    });
  };
}
