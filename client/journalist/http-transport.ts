/**
 * The journalist tools' HTTP transport, built for a hostile server: every body
 * has a cap (checked against Content-Length first, then counted as it comes),
 * every request has an overall deadline that trickled bytes cannot stretch
 * (unlike an idle timeout), and a run has one deadline for all its requests.
 * Streamed downloads stop at the size the caller expects, whatever the server
 * sends after it. Nothing is decompressed (no Accept-Encoding is sent, and an
 * encoded answer is refused), no redirect is followed, no cookie kept, and
 * each request has its own connection.
 *
 * With `socks` every connection goes through the SOCKS5 proxy, the host name
 * resolved by the proxy (client/verify/socks5.ts). A `.onion` host without a
 * proxy is refused before any name lookup: a lookup would leak it to the
 * local resolver and could never succeed.
 *
 * @module
 * @example
 * import { HttpTransport } from './http-transport.ts';
 * const http = new HttpTransport({ socks: { host: '127.0.0.1', port: 9050 } });
 * const res = await http.request(new URL('http://abc…xyz.onion/api/v1/journalist/me'), { maxBytes: 64 * 1024 });
 * res.status; res.body; // Uint8Array, at most 64 KiB
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { socks5Connect, type SocksProxy } from '../verify/socks5.ts';

export type HttpTransportOptions = {
  /** Tor's SOCKS port, e.g. `{ host: '127.0.0.1', port: 9050 }` (9150 for Tor Browser). */
  socks?: SocksProxy | undefined;
  /** The deadline of one buffered request, from connecting to the last body byte. Default 120 s. */
  requestTimeoutMs?: number;
  /** The deadline of every request made through this transport together. Default 6 h. */
  runTimeoutMs?: number;
  /** The slowest a streamed download may go before it counts as stalled. Default 16 KiB/s (above the 120 s base). */
  minBytesPerSecond?: number;
};

export type RequestOptions = {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** The largest body accepted. */
  maxBytes: number;
};

export type BufferedResponse = { status: number; headers: IncomingHttpHeaders; body: Uint8Array };

export class HttpTransportError extends Error {
  override name = 'HttpTransportError';
  constructor(
    message: string,
    /** What went wrong, for callers that retry: `too-large` and `deadline` are not worth retrying. */
    readonly code: 'onion-needs-socks' | 'too-large' | 'deadline' | 'encoded' | 'network',
  ) {
    super(message);
  }
}

export class HttpTransport {
  readonly socks: SocksProxy | undefined;
  private readonly requestTimeoutMs: number;
  private readonly runEndsAt: number;
  private readonly minBytesPerSecond: number;

  constructor(o: HttpTransportOptions = {}) {
    this.socks = o.socks;
    this.requestTimeoutMs = o.requestTimeoutMs ?? 120_000;
    this.runEndsAt = Date.now() + (o.runTimeoutMs ?? 6 * 3600_000);
    this.minBytesPerSecond = o.minBytesPerSecond ?? 16 * 1024;
  }

  /** A request whose whole answer is read into memory, at most `maxBytes` of it. */
  async request(url: URL, o: RequestOptions): Promise<BufferedResponse> {
    const { response, done, failure } = await this.open(url, o, this.requestTimeoutMs);
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > o.maxBytes) throw tooLarge(url, o.maxBytes);
        chunks.push(chunk);
      }
      return { status: response.statusCode ?? 0, headers: response.headers, body: new Uint8Array(Buffer.concat(chunks)) };
    } catch (e) {
      // The deadline destroys the socket: say that, not "aborted".
      throw failure() ?? (e instanceof HttpTransportError ? e : new HttpTransportError((e as Error).message, 'network'));
    } finally {
      done();
    }
  }

  /**
   * A streamed answer whose body ends after `expectedBytes` at most: anything
   * the server sends beyond it is never read. Its deadline grows with the size
   * (`minBytesPerSecond`), so a big attachment over Tor has time, a trickle not.
   */
  async stream(url: URL, o: Omit<RequestOptions, 'maxBytes'> & { expectedBytes: number }): Promise<{ status: number; headers: IncomingHttpHeaders; body: ReadableStream<Uint8Array> }> {
    const timeout = this.requestTimeoutMs + (o.expectedBytes / this.minBytesPerSecond) * 1000;
    const { response, done, failure } = await this.open(url, { ...o, maxBytes: o.expectedBytes }, timeout);
    let left = o.expectedBytes;
    const iterator = (response as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const next = left > 0 ? await iterator.next() : { done: true as const, value: undefined };
          if (next.done) {
            done();
            controller.close();
            return;
          }
          const chunk = next.value.length > left ? next.value.subarray(0, left) : next.value;
          left -= chunk.length;
          controller.enqueue(new Uint8Array(chunk));
        } catch (e) {
          done();
          controller.error(failure() ?? (e instanceof HttpTransportError ? e : new HttpTransportError((e as Error).message, 'network')));
        }
      },
      cancel() {
        done();
      },
    });
    return { status: response.statusCode ?? 0, headers: response.headers, body };
  }

  /** Connects, sends, and waits for the head of the answer; `done` ends the request and its timer. */
  private open(url: URL, o: RequestOptions, timeoutMs: number): Promise<{ response: IncomingMessage; done: () => void; failure: () => Error | undefined }> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return Promise.reject(new HttpTransportError(`not an http(s) URL: ${url.origin}`, 'network'));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const socks = this.socks;
    if (!socks && /\.onion\.?$/i.test(host)) {
      return Promise.reject(
        new HttpTransportError(`${host} is an onion address: start Tor and pass --socks 127.0.0.1:9050 (or --socks 127.0.0.1:9150 with Tor Browser running)`, 'onion-needs-socks'),
      );
    }
    const left = this.runEndsAt - Date.now();
    if (left <= 0) return Promise.reject(new HttpTransportError('this run took longer than its deadline; stopped. Run it again.', 'deadline'));
    const ms = Math.min(timeoutMs, left);
    const secure = url.protocol === 'https:';
    const port = Number(url.port || (secure ? 443 : 80));
    return new Promise((resolve, reject) => {
      let failed: Error | undefined;
      const request = (secure ? httpsRequest : httpRequest)(
        url,
        {
          method: o.method ?? 'GET',
          headers: { ...o.headers, 'accept-encoding': 'identity', ...(o.body !== undefined ? { 'content-length': String(Buffer.byteLength(o.body)) } : {}) },
          ...(socks
            ? {
                createConnection: (_: unknown, ready: (err: Error | null, socket: Duplex) => void) => {
                  socks5Connect({ proxy: socks, host, port, timeoutMs: ms })
                    .then((tunnel) => ready(null, secure ? tlsConnect({ socket: tunnel, servername: host }) : tunnel))
                    .catch((e: Error) => ready(e, undefined as never));
                  return undefined;
                },
              }
            : { agent: false }),
        },
        (response) => {
          const declared = Number(response.headers['content-length'] ?? NaN);
          const encoding = String(response.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
          if (encoding !== 'identity' && encoding !== '') fail(new HttpTransportError(`the server sent an encoded (${encoding}) answer, which the journalist tools never accept`, 'encoded'));
          // Only buffered reads refuse a long Content-Length; a stream is cut at its expected size.
          else if (!('expectedBytes' in o) && declared > o.maxBytes) fail(tooLarge(url, o.maxBytes));
          else resolve({ response, done, failure: () => failed });
        },
      );
      const timer = setTimeout(() => fail(new HttpTransportError(`the server at ${url.origin} took longer than ${Math.round(ms / 1000)} s to answer; stopped`, 'deadline')), ms);
      function done(): void {
        clearTimeout(timer);
        request.destroy();
      }
      function fail(e: Error): void {
        failed ??= e;
        clearTimeout(timer);
        request.destroy(e);
        reject(e);
      }
      request.once('error', (e) => fail(e instanceof HttpTransportError ? e : new HttpTransportError(e.message || String(e), 'network')));
      request.end(o.body);
    });
  }
}

function tooLarge(url: URL, maxBytes: number): HttpTransportError {
  return new HttpTransportError(`the server at ${url.origin} sent an answer larger than ${maxBytes} bytes; stopped`, 'too-large');
}
