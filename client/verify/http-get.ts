/**
 * The GET requests `tipline verify` makes: cookie-free (no cookie is ever sent
 * or kept), no redirects followed (a redirect is something to report, not to
 * obey), bodies capped, and, with a SOCKS proxy, every connection through it
 * with the host name resolved by the proxy (Tor resolves .onion names).
 *
 * The requests carry Tor Browser's usual headers. A server that wants to serve
 * clean files to watchers and tampered ones to sources has a harder time telling
 * them apart that way; it can still try (timing, request order, no JavaScript
 * running), which README's "Transparency" section says plainly.
 *
 * @example
 * const get = httpGetter({ socks: { host: '127.0.0.1', port: 9050 } });
 * const res = await get('http://abc…xyz.onion/submit'); // { status, headers, body }
 */
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { socks5Connect, type SocksProxy } from './socks5.ts';

export type HttpResponse = { status: number; headers: IncomingHttpHeaders; body: Uint8Array };
export type HttpGet = (url: string) => Promise<HttpResponse>;

export type HttpGetOptions = {
  socks?: SocksProxy | undefined;
  /** Per request, the whole exchange (a trickling body cannot stretch it); Tor circuits can be slow. Default 60 s. */
  timeoutMs?: number;
  /** Largest body accepted, after decompression. Default 32 MiB. */
  maxBytes?: number;
};

export class HttpGetError extends Error {
  override name = 'HttpGetError';
}

/** What Tor Browser (Firefox ESR) sends for a page; see the note above. */
const BROWSER_HEADERS = {
  'User-Agent': 'Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0',
  Accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'Accept-Language': 'en-US,en;q=0.5',
  'Accept-Encoding': 'gzip, deflate, br',
};

export function httpGetter(options: HttpGetOptions = {}): HttpGet {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const maxBytes = options.maxBytes ?? 32 * 1024 * 1024;
  return function get(url) {
    const target = new URL(url);
    if (target.protocol !== 'http:' && target.protocol !== 'https:') return Promise.reject(new HttpGetError(`not an http(s) URL: ${url}`));
    const secure = target.protocol === 'https:';
    const port = Number(target.port || (secure ? 443 : 80));
    const host = target.hostname.replace(/^\[|\]$/g, '');
    const socks = options.socks;
    // Without a proxy an onion name would go to the system resolver: a lookup that names the desk.
    if (!socks && /\.onion\.?$/i.test(host)) {
      return Promise.reject(new HttpGetError(`${host} is an onion address: start Tor and pass --socks 127.0.0.1:9050`));
    }
    return new Promise((resolve, reject) => {
      const request = (secure ? httpsRequest : httpRequest)(
        target,
        {
          method: 'GET',
          headers: BROWSER_HEADERS,
          // A fresh connection per request, never pooled: nothing links one request to the next,
          // and no idle socket keeps the CLI alive after its last request.
          ...(socks
            ? {
                createConnection: (_: unknown, done: (err: Error | null, socket: Duplex) => void) => {
                  socks5Connect({ proxy: socks, host, port, timeoutMs })
                    .then((tunnel) => done(null, secure ? tlsConnect({ socket: tunnel, servername: host }) : tunnel))
                    .catch((e: Error) => done(e, undefined as never));
                  return undefined;
                },
              }
            : { agent: false }),
        },
        (response) =>
          readBody(response, maxBytes).then(
            (body) => {
              clearTimeout(deadline);
              resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
            },
            (e: Error) => fail(request.destroyed && !(e instanceof HttpGetError) ? new HttpGetError(`timed out after ${timeoutMs / 1000} s`) : e),
          ),
      );
      // A wall-clock deadline, not only an idle timeout: a server sending one byte every few
      // seconds would otherwise hold the request open forever.
      const deadline = setTimeout(() => request.destroy(new HttpGetError(`timed out after ${timeoutMs / 1000} s`)), timeoutMs);
      const fail = (e: Error) => {
        clearTimeout(deadline);
        reject(e instanceof HttpGetError ? e : new HttpGetError(e.message || String(e)));
      };
      request.once('error', fail);
      request.end();
    });
  };
}

async function readBody(response: IncomingMessage, maxBytes: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) {
      response.destroy();
      throw new HttpGetError(`the answer is larger than ${maxBytes} bytes`);
    }
    chunks.push(chunk);
  }
  return decode(Buffer.concat(chunks), String(response.headers['content-encoding'] ?? 'identity'), maxBytes);
}

/** Undoes a Content-Encoding, as a browser would before checking integrity. */
function decode(body: Buffer, encoding: string, maxBytes: number): Uint8Array {
  const limit = { maxOutputLength: maxBytes };
  try {
    switch (encoding.trim().toLowerCase()) {
      case 'identity':
      case '':
        return new Uint8Array(body);
      case 'gzip':
      case 'x-gzip':
        return new Uint8Array(gunzipSync(body, limit));
      case 'deflate':
        return new Uint8Array(inflateSync(body, limit));
      case 'br':
        return new Uint8Array(brotliDecompressSync(body, limit));
    }
  } catch (e) {
    throw new HttpGetError(`the answer's ${encoding} encoding is broken (${(e as Error).message})`);
  }
  throw new HttpGetError(`the answer has an unknown Content-Encoding "${encoding}"`);
}
