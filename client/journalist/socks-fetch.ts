/**
 * `fetch` for the journalist tools, through a SOCKS5 proxy (Tor: `--socks
 * 127.0.0.1:9050`, or 9150 for Tor Browser's). Each request gets its own
 * connection through the proxy, and the server's host name goes to the proxy
 * as a name (client/verify/socks5.ts): it is never resolved on this machine,
 * so no DNS query names the tip line. Request bodies here are small strings;
 * response bodies are streamed, as from `fetch`.
 *
 * Also here: the rule that an `.onion` server is refused without a proxy,
 * before anything (a DNS lookup first of all) could give it away.
 *
 * @example
 * const res = await socksFetch(new URL('http://abc…xyz.onion/api/v1/manifest'), {}, { host: '127.0.0.1', port: 9050 });
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable, type Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { socks5Connect, type SocksProxy } from '../verify/socks5.ts';

export type { SocksProxy };

/** Whether `url`'s host is an onion service name. */
export function isOnion(url: URL): boolean {
  return /\.onion\.?$/i.test(url.hostname);
}

/** The message for an onion server given without a proxy. */
export function onionNeedsSocks(url: URL): string {
  return `${url.host} is an onion service, reachable only through Tor: start Tor and pass --socks 127.0.0.1:9050 (or --socks 127.0.0.1:9150 with Tor Browser running), or set TIPLINE_SOCKS. Nothing was sent, and the name was not looked up.`;
}

export function socksFetch(url: URL, init: RequestInit, proxy: SocksProxy, timeoutMs = 120_000): Promise<Response> {
  const secure = url.protocol === 'https:';
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const port = Number(url.port || (secure ? 443 : 80));
  const body = init.body;
  if (body !== undefined && body !== null && typeof body !== 'string') return Promise.reject(new TypeError('socksFetch sends only string bodies'));
  return new Promise((resolve, reject) => {
    const request = (secure ? httpsRequest : httpRequest)(
      url,
      {
        method: init.method ?? 'GET',
        headers: { ...(init.headers as Record<string, string> | undefined), ...(body ? { 'content-length': String(Buffer.byteLength(body)) } : {}) },
        createConnection: (_: unknown, done: (err: Error | null, socket: Duplex) => void) => {
          socks5Connect({ proxy, host, port, timeoutMs })
            .then((tunnel) => done(null, secure ? tlsConnect({ socket: tunnel, servername: host }) : tunnel))
            .catch((e: Error) => done(e, undefined as never));
          return undefined;
        },
      },
      (response) => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(response.headers)) {
          for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, v);
        }
        const status = response.statusCode ?? 502;
        const noBody = status === 204 || status === 304 || init.method === 'HEAD';
        if (noBody) response.resume();
        resolve(new Response(noBody ? null : (Readable.toWeb(response) as ReadableStream<Uint8Array>), { status, headers }));
      },
    );
    request.setTimeout(timeoutMs, () => request.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
    request.once('error', reject);
    request.end(body ?? undefined);
  });
}
