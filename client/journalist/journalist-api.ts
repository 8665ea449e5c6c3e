/**
 * A small client for the journalist API. Errors come back as
 * {@link JournalistClientError} with a message a journalist can act on.
 *
 * Everything the server says is treated as untrusted input: ids and days are
 * checked by the callers before they become file names.
 *
 * @example
 * const api = new JournalistApi('http://127.0.0.1:8080', token);
 * const { tips, nextCursor } = await api.listTips(null);
 */
import { base64 } from '../../crypto/bytes.ts';
import { isOnion, onionNeedsSocks, socksFetch, type SocksProxy } from './socks-fetch.ts';

/** A tip or a follow-up, as listed by the server (and saved as `<id>.json` by fetch). */
export type RemoteTip = {
  id: string;
  receivedDay: string;
  via: 'browser' | 'server';
  size: number;
  manifestVersion: number;
  /** The conversation it belongs to (64 hex), or null for tips from before conversations existed. */
  threadId: string | null;
  kind: 'tip' | 'followup';
  /** Its place in the conversation: 1 is the first tip. */
  seq: number;
  /** The manifest desk it was sent to; null (or absent, from older servers) when none was recorded. */
  desk?: string | null;
  /** Its attachments' encrypted blobs (absent from older servers). Names and types are inside the tip. */
  attachments?: { id: string; size: number }[];
};

/** The newsroom's copy of a journalist's reply, as listed by the server. */
export type RemoteReply = { id: string; threadId: string; seq: number; day: string; size: number };

/** What one {@link JournalistApi.getTips} may ask for; the server's limits (server/journalist/api.ts). */
export const TIPS_PER_REQUEST = 100;
export const BYTES_PER_REQUEST = 4 * 1024 * 1024;

export class JournalistClientError extends Error {
  override name = 'JournalistClientError';
  constructor(
    message: string,
    /** The HTTP status when the server answered with an error, otherwise undefined. */
    readonly status?: number,
  ) {
    super(message);
  }
}

export class JournalistApi {
  private readonly base: URL;

  constructor(
    server: string,
    private readonly token: string,
    /** `socks`: every request goes through this SOCKS5 proxy (Tor), the host name resolved by the proxy. */
    private readonly options: { socks?: SocksProxy | undefined } = {},
  ) {
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw new JournalistClientError(`--server must be a URL like http://127.0.0.1:8080, got "${server}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new JournalistClientError('--server must be an http:// or https:// URL');
    // Before any request, so before any DNS lookup of the name.
    if (isOnion(url) && !options.socks) throw new JournalistClientError(onionNeedsSocks(url));
    this.base = url;
  }

  /** Who the token belongs to; a cheap way to find out early that a token was revoked. */
  async me(): Promise<{ id: string; name: string; fingerprint: string; retentionDays?: number }> {
    return (await (await this.request('/api/v1/journalist/me')).json()) as { id: string; name: string; fingerprint: string; retentionDays?: number };
  }

  /**
   * The server's signed manifest, unchecked (see newsroom-pin.ts), or undefined
   * when the server has no valid one to give (503: no journalists yet, or it expired).
   */
  async getManifest(): Promise<unknown | undefined> {
    try {
      return await (await this.request('/api/v1/manifest')).json();
    } catch (e) {
      if (e instanceof JournalistClientError && e.status === 503) return undefined;
      throw e;
    }
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

  /**
   * Many tips' ciphertexts in one request (`POST /tips/ciphertexts`), in the
   * order asked. Ask for at most {@link TIPS_PER_REQUEST} tips and
   * {@link BYTES_PER_REQUEST} bytes of listed size, or one tip. A server from
   * before that endpoint answers 404 or 405, one with a lower limit 413: then
   * each tip is asked for alone (and a tip that is really gone gives its own 404).
   */
  async getTips(ids: readonly string[]): Promise<Uint8Array[]> {
    let res: Response;
    try {
      res = await this.request('/api/v1/journalist/tips/ciphertexts', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ids }),
      });
    } catch (e) {
      // 413: a newsroom that set a lower limit, or a tip grown past its listed size by re-keying.
      if (e instanceof JournalistClientError && (e.status === 404 || e.status === 405 || e.status === 413)) return this.getTipsOneByOne(ids);
      throw e;
    }
    const body = (await res.json()) as { tips?: { id?: unknown; ciphertext?: unknown }[] };
    const tips = Array.isArray(body?.tips) ? body.tips : [];
    // Untrusted too: exactly the tips asked for, in that order, or nothing.
    if (tips.length !== ids.length || tips.some((t, i) => t?.id !== ids[i] || typeof t.ciphertext !== 'string')) {
      throw new JournalistClientError('the server answered a request for tips with other tips; nothing more was fetched. Tell your admin.');
    }
    try {
      return tips.map((t) => base64.decode(t.ciphertext as string));
    } catch {
      throw new JournalistClientError('the server sent a tip that is not base64; nothing more was fetched. Tell your admin.');
    }
  }

  private async getTipsOneByOne(ids: readonly string[]): Promise<Uint8Array[]> {
    const out: Uint8Array[] = [];
    for (const id of ids) out.push(await this.getTip(id));
    return out;
  }

  /**
   * Replaces a tip's key packets (see rekey-tips.ts): `ciphertext` must be the
   * stored tip with only its key packets changed, to exactly the current keys
   * of its desk. The server checks both and answers 422 otherwise.
   */
  async putTipCiphertext(id: string, ciphertext: Uint8Array): Promise<void> {
    await this.request(`/api/v1/journalist/tips/${encodeURIComponent(id)}/ciphertext`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ciphertext: base64.encode(ciphertext) }),
    });
  }

  /**
   * An attachment's ciphertext as a streamed response, from byte `start` on
   * (a `Range` request, to resume a download; the server then answers 206).
   */
  async getBlob(id: string, start = 0): Promise<Response> {
    return this.request(`/api/v1/journalist/blobs/${encodeURIComponent(id)}`, start > 0 ? { headers: { range: `bytes=${start}-` } } : {});
  }

  /**
   * An attachment's head for re-keying: its key packets and the first bytes of
   * its data packet (check it with `inspectMessageHead`, crypto/packets.ts).
   */
  async getBlobHead(id: string): Promise<Uint8Array> {
    const res = await this.request(`/api/v1/journalist/blobs/${encodeURIComponent(id)}/head`);
    return new Uint8Array(await res.arrayBuffer());
  }

  /**
   * Re-keys an attachment: `keyPackets` (PKESK packets only, to exactly the
   * current keys of its desk) replace the ones whose SHA-256 is
   * `previousKeyPacketsSha256`; the server keeps the encrypted data. It answers
   * 422 for anything but such key packets, 409 when the attachment was re-keyed meanwhile.
   */
  async putBlobKeyPackets(id: string, keyPackets: Uint8Array, previousKeyPacketsSha256: string): Promise<{ size: number }> {
    const res = await this.request(`/api/v1/journalist/blobs/${encodeURIComponent(id)}/key-packets`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ keyPackets: base64.encode(keyPackets), previousKeyPacketsSha256 }),
    });
    return (await res.json()) as { size: number };
  }

  /** Replaces a reply's newsroom copy with the same copy re-keyed, as {@link putTipCiphertext} does for a tip. */
  async putReplyCopy(id: string, copy: Uint8Array): Promise<void> {
    await this.request(`/api/v1/journalist/replies/${encodeURIComponent(id)}/copy`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ copy: base64.encode(copy) }),
    });
  }

  async deleteTip(id: string): Promise<void> {
    await this.request(`/api/v1/journalist/tips/${encodeURIComponent(id)}`, { method: 'DELETE' });
  }

  async listReplies(cursor: string | null, limit = 200): Promise<{ replies: RemoteReply[]; nextCursor: string | null }> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set('cursor', cursor);
    const res = await this.request(`/api/v1/journalist/replies?${query}`);
    return (await res.json()) as { replies: RemoteReply[]; nextCursor: string | null };
  }

  /** The OpenPGP copy of a reply (binary), encrypted to the journalist keys of the day it was sent. */
  async getReplyCopy(id: string): Promise<Uint8Array> {
    const res = await this.request(`/api/v1/journalist/replies/${encodeURIComponent(id)}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  /** Posts a reply (the source's reply box and the newsroom's OpenPGP copy) and returns its id. */
  async postReply(threadId: string, reply: { box: string; copy: string }): Promise<string> {
    const res = await this.request(`/api/v1/journalist/threads/${encodeURIComponent(threadId)}/replies`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(reply),
    });
    return ((await res.json()) as { id: string }).id;
  }

  /** Deletes a whole conversation on the server: its tips, follow-ups and replies. */
  async deleteThread(threadId: string): Promise<void> {
    await this.request(`/api/v1/journalist/threads/${encodeURIComponent(threadId)}`, { method: 'DELETE' });
  }

  private async request(path: string, init: RequestInit = {}): Promise<Response> {
    let res: Response;
    try {
      const url = new URL(path, this.base);
      const withToken = { ...init, headers: { ...(init.headers as Record<string, string>), authorization: `Bearer ${this.token}` } };
      res = this.options.socks ? await socksFetch(url, withToken, this.options.socks) : await fetch(url, withToken);
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
    if (res.status === 401) throw new JournalistClientError(`the server refused the token (${detail}). It may have been revoked; ask an admin for a new one.`, 401);
    throw new JournalistClientError(`the server answered ${res.status}: ${detail}`, res.status);
  }
}
