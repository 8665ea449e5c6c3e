/**
 * A small client for the journalist API. Errors come back as
 * {@link JournalistClientError} with a message a journalist can act on.
 *
 * @example
 * const api = new JournalistApi('http://127.0.0.1:8080', token);
 * const { tips, nextCursor } = await api.listTips(null);
 */
export type RemoteTip = { id: string; receivedDay: string; via: 'browser' | 'server'; size: number; manifestVersion: number };

export class JournalistClientError extends Error {
  override name = 'JournalistClientError';
}

export class JournalistApi {
  private readonly base: URL;

  constructor(server: string, private readonly token: string) {
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw new JournalistClientError(`--server must be a URL like http://127.0.0.1:8080, got "${server}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new JournalistClientError('--server must be an http:// or https:// URL');
    this.base = url;
  }

  async listTips(cursor: string | null, limit = 200): Promise<{ tips: RemoteTip[]; nextCursor: string | null }> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set('cursor', cursor);
    const res = await this.request(`/api/v1/journalist/tips?${query}`);
    return (await res.json()) as { tips: RemoteTip[]; nextCursor: string | null };
  }

  async getTip(id: string): Promise<Uint8Array> {
    const res = await this.request(`/api/v1/journalist/tips/${encodeURIComponent(id)}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  async deleteTip(id: string): Promise<void> {
    await this.request(`/api/v1/journalist/tips/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.base), { ...init, headers: { authorization: `Bearer ${this.token}` } });
    } catch (e) {
      throw new JournalistClientError(`cannot reach ${this.base.origin}: ${(e as Error).cause ?? (e as Error).message}`);
    }
    if (res.ok) return res;
    let detail = `HTTP ${res.status}`;
    try {
      const body = (await res.json()) as { error?: { message?: string } };
      if (body.error?.message) detail = body.error.message;
    } catch {
      /* not JSON: keep the status */
    }
    if (res.status === 401) throw new JournalistClientError(`the server refused the token (${detail}). It may have been revoked; ask an admin for a new one.`);
    throw new JournalistClientError(`the server answered ${res.status}: ${detail}`);
  }
}
