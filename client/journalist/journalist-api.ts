/**
 * A small client for the journalist API. Errors come back as
 * {@link JournalistClientError} with a message a journalist can act on.
 *
 * Everything the server says is treated as untrusted input: ids and days are
 * checked by the callers before they become file names.
 *
 * The server is treated as hostile (see http-transport.ts): every answer has
 * a cap that fits its route, every request and the whole run a deadline, a
 * download stops at its listed size, a listing at {@link MAX_PAGES} pages or a
 * cursor it already gave, and error messages are stripped of terminal controls.
 *
 * @example
 * const api = new JournalistApi('http://127.0.0.1:8080', token);
 * const { tips, nextCursor } = await api.listTips(null);
 * // Over Tor, to an onion service:
 * const onion = new JournalistApi('http://abc…xyz.onion', token, { socks: { host: '127.0.0.1', port: 9050 } });
 */
import { base64 } from '../../crypto/bytes.ts';
import type { SocksProxy } from '../verify/socks5.ts';
import { HttpTransport, HttpTransportError, type HttpTransportOptions } from './http-transport.ts';
import { printable } from './printable.ts';

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
  /** True when an admin put its conversation on hold (`admin hold`): retention keeps it. Absent otherwise, and from older servers. */
  onHold?: boolean;
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

/** Options of {@link JournalistApi}: the transport's (http-transport.ts), `socks` first among them. */
export type JournalistApiOptions = HttpTransportOptions & { socks?: SocksProxy | undefined };

/** Pages one listing may take: 10 000 pages of 200 are two million tips, far past any real tip line. */
export const MAX_PAGES = 10_000;

const KiB = 1024;
const MiB = 1024 * KiB;
/** Caps per answer: small JSON, an error, a page of a listing, the manifest (armored keys), one tip or reply copy. */
const CAPS = { small: 64 * KiB, page: 4 * MiB, manifest: 8 * MiB, message: 64 * MiB, head: 1 * MiB, batch: Math.ceil((BYTES_PER_REQUEST * 4) / 3) + 64 * KiB };

export class JournalistApi {
  private readonly base: URL;
  private readonly http: HttpTransport;
  /** Cursors each listing gave so far in this run, to refuse one that loops. */
  private readonly cursors = { tips: new Set<string>(), replies: new Set<string>() };

  constructor(server: string, private readonly token: string, options: JournalistApiOptions = {}) {
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw new JournalistClientError(`--server must be a URL like http://127.0.0.1:8080, got "${server}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new JournalistClientError('--server must be an http:// or https:// URL');
    // Here, before the command writes anything, and before any request could look the name up.
    if (!options.socks && /\.onion\.?$/i.test(url.hostname)) {
      throw new JournalistClientError(`${url.host} is an onion service, reachable only through Tor: start Tor and pass --socks 127.0.0.1:9050 (or --socks 127.0.0.1:9150 with Tor Browser running), or set TIPLINE_SOCKS. Nothing was sent, and the name was not looked up.`);
    }
    this.base = url;
    this.http = new HttpTransport(options);
  }

  /** Who the token belongs to; a cheap way to find out early that a token was revoked. */
  async me(): Promise<{ id: string; name: string; fingerprint: string; retentionDays?: number }> {
    return (await this.json('/api/v1/journalist/me', CAPS.small)) as { id: string; name: string; fingerprint: string; retentionDays?: number };
  }

  /**
   * The server's signed manifest, unchecked (see newsroom-pin.ts), or undefined
   * when the server has no valid one to give (503: no journalists yet, or it expired).
   */
  async getManifest(): Promise<unknown | undefined> {
    try {
      return await this.json('/api/v1/manifest', CAPS.manifest);
    } catch (e) {
      if (e instanceof JournalistClientError && e.status === 503) return undefined;
      throw e;
    }
  }

  async listTips(cursor: string | null, limit = 200): Promise<{ tips: RemoteTip[]; nextCursor: string | null }> {
    const query = new URLSearchParams({ limit: String(limit) });
    if (cursor) query.set('cursor', cursor);
    const page = (await this.json(`/api/v1/journalist/tips?${query}`, CAPS.page)) as { tips: RemoteTip[]; nextCursor: string | null };
    return { tips: Array.isArray(page?.tips) ? page.tips : [], nextCursor: this.nextCursor('tips', cursor, page?.nextCursor) };
  }

  /** One tip's ciphertext; `listedSize` (from the listing) caps it, plus room for re-keyed key packets. */
  async getTip(id: string, listedSize?: number): Promise<Uint8Array> {
    return (await this.request(`/api/v1/journalist/tips/${encodeURIComponent(id)}`, {}, capFor(listedSize))).body;
  }

  /**
   * Many tips' ciphertexts in one request (`POST /tips/ciphertexts`), in the
   * order asked. Ask for at most {@link TIPS_PER_REQUEST} tips and
   * {@link BYTES_PER_REQUEST} bytes of listed size, or one tip. A server from
   * before that endpoint answers 404 or 405, one with a lower limit 413: then
   * each tip is asked for alone (and a tip that is really gone gives its own 404).
   */
  async getTips(ids: readonly string[]): Promise<Uint8Array[]> {
    let res: { body: Uint8Array };
    try {
      res = await this.request('/api/v1/journalist/tips/ciphertexts', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ids }),
      }, CAPS.batch);
    } catch (e) {
      // 413: a newsroom that set a lower limit, or a tip grown past its listed size by re-keying.
      if (e instanceof JournalistClientError && (e.status === 404 || e.status === 405 || e.status === 413)) return this.getTipsOneByOne(ids);
      throw e;
    }
    const body = parseJson(res.body) as { tips?: { id?: unknown; ciphertext?: unknown }[] };
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
  async getBlob(id: string, start: number, listedSize: number): Promise<{ status: number; headers: { get: (name: string) => string | null }; body: ReadableStream<Uint8Array> }> {
    const url = new URL(`/api/v1/journalist/blobs/${encodeURIComponent(id)}`, this.base);
    const headers = { authorization: `Bearer ${this.token}`, ...(start > 0 ? { range: `bytes=${start}-` } : {}) };
    let res: Awaited<ReturnType<HttpTransport['stream']>>;
    try {
      // Never more than the listed size: a server that sends more is cut off there, not written to disk.
      res = await this.http.stream(url, { headers, expectedBytes: Math.max(0, listedSize - start) });
    } catch (e) {
      throw this.unreachable(e);
    }
    if (res.status >= 400) {
      await res.body.cancel();
      throw this.refused(res.status, undefined);
    }
    return { status: res.status, headers: { get: (name) => [res.headers[name.toLowerCase()]].flat()[0] ?? null }, body: res.body };
  }

  /**
   * An attachment's head for re-keying: its key packets and the first bytes of
   * its data packet (check it with `inspectMessageHead`, crypto/packets.ts).
   */
  async getBlobHead(id: string): Promise<Uint8Array> {
    return (await this.request(`/api/v1/journalist/blobs/${encodeURIComponent(id)}/head`, {}, CAPS.head)).body;
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
    return parseJson(res.body) as { size: number };
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
    const page = (await this.json(`/api/v1/journalist/replies?${query}`, CAPS.page)) as { replies: RemoteReply[]; nextCursor: string | null };
    return { replies: Array.isArray(page?.replies) ? page.replies : [], nextCursor: this.nextCursor('replies', cursor, page?.nextCursor) };
  }

  /** The OpenPGP copy of a reply (binary), encrypted to the journalist keys of the day it was sent. */
  async getReplyCopy(id: string, listedSize?: number): Promise<Uint8Array> {
    return (await this.request(`/api/v1/journalist/replies/${encodeURIComponent(id)}`, {}, capFor(listedSize))).body;
  }

  /** Posts a reply (the source's reply box and the newsroom's OpenPGP copy) and returns its id. */
  async postReply(threadId: string, reply: { box: string; copy: string }): Promise<string> {
    const res = await this.request(`/api/v1/journalist/threads/${encodeURIComponent(threadId)}/replies`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(reply),
    });
    return (parseJson(res.body) as { id: string }).id;
  }

  /** Deletes a whole conversation on the server: its tips, follow-ups and replies. */
  async deleteThread(threadId: string): Promise<void> {
    await this.request(`/api/v1/journalist/threads/${encodeURIComponent(threadId)}`, { method: 'DELETE' });
  }

  private async json(path: string, maxBytes: number): Promise<unknown> {
    return parseJson((await this.request(path, {}, maxBytes)).body);
  }

  /**
   * The next cursor of a listing, refused when it repeats one this run already
   * followed (a server looping a client forever) or past {@link MAX_PAGES}.
   */
  private nextCursor(listing: 'tips' | 'replies', asked: string | null, next: unknown): string | null {
    const seen = this.cursors[listing];
    if (asked === null) seen.clear();
    if (next === null || next === undefined) return null;
    if (typeof next !== 'string' || next.length > 512) throw new JournalistClientError(`the server sent a malformed ${listing} cursor; stopped. Tell your admin.`);
    if (seen.has(next) || next === asked) throw new JournalistClientError(`the server sent a ${listing} cursor it had already sent, which would list forever; stopped. Tell your admin.`);
    if (seen.size >= MAX_PAGES) throw new JournalistClientError(`the server listed more than ${MAX_PAGES} pages of ${listing}; stopped. Tell your admin.`);
    seen.add(next);
    return next;
  }

  private async request(path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}, maxBytes = CAPS.small): Promise<{ status: number; body: Uint8Array }> {
    let res: Awaited<ReturnType<HttpTransport['request']>>;
    try {
      res = await this.http.request(new URL(path, this.base), { ...init, headers: { ...init.headers, authorization: `Bearer ${this.token}` }, maxBytes });
    } catch (e) {
      throw this.unreachable(e);
    }
    if (res.status >= 200 && res.status < 300) return res;
    let message: string | undefined;
    try {
      message = (parseJson(res.body) as { error?: { message?: unknown } })?.error?.message as string | undefined;
    } catch {
      /* not JSON: keep the status */
    }
    throw this.refused(res.status, typeof message === 'string' ? message : undefined);
  }

  private unreachable(e: unknown): JournalistClientError {
    if (e instanceof HttpTransportError && e.code !== 'network') return new JournalistClientError(printable(e.message));
    return new JournalistClientError(printable(`cannot reach ${this.base.origin}: ${(e as Error).message}`));
  }

  private refused(status: number, message: string | undefined): JournalistClientError {
    // A hostile server's words reach the terminal: no control characters, and not a novel.
    const detail = message ? printable(message).slice(0, 500) : `HTTP ${status}`;
    if (status === 401) return new JournalistClientError(`the server refused the token (${detail}). It may have been revoked; ask an admin for a new one.`, 401);
    return new JournalistClientError(`the server answered ${status}: ${detail}`, status);
  }
}

/** The cap for one tip or reply copy: its listed size plus room for re-keyed key packets, or the general cap. */
function capFor(listedSize: number | undefined): number {
  return typeof listedSize === 'number' && Number.isSafeInteger(listedSize) && listedSize >= 0 ? listedSize + 256 * KiB : CAPS.message;
}

function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new JournalistClientError('the server sent an answer that is not JSON; stopped. Tell your admin.');
  }
}
