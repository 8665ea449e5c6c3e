/**
 * A SOCKS5 CONNECT client (RFC 1928), just enough to reach an onion service
 * through Tor's SOCKS port: no authentication, and the host name is sent to
 * the proxy as a name (address type 3), never resolved here. Resolving an
 * onion address locally is impossible, and resolving a clearnet name locally
 * would tell the local resolver which tip line is being checked.
 *
 * @example
 * const socket = await socks5Connect({ proxy: { host: '127.0.0.1', port: 9050 }, host: 'abc…xyz.onion', port: 80 });
 * // `socket` now carries bytes to abc…xyz.onion:80
 */
import { connect, type Socket } from 'node:net';

export type SocksProxy = { host: string; port: number };

export class SocksError extends Error {
  override name = 'SocksError';
}

const REPLY_ERRORS: Record<number, string> = {
  1: 'general failure',
  2: 'connection not allowed by the proxy',
  3: 'network unreachable',
  4: 'host unreachable',
  5: 'connection refused',
  6: 'TTL expired',
  7: 'command not supported',
  8: 'address type not supported',
};

/** Parses `HOST:PORT` (or `[IPv6]:PORT`), as given to `--socks`. */
export function parseSocksProxy(text: string): SocksProxy {
  const m = /^(?:\[([^\]]+)\]|([^:\s]+)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) throw new SocksError(`--socks must be HOST:PORT, like 127.0.0.1:9050; got "${text}"`);
  return { host: m[1] ?? m[2]!, port };
}

/** Opens a connection to `host:port` through the proxy; rejects with {@link SocksError} saying why not. */
export function socks5Connect(o: { proxy: SocksProxy; host: string; port: number; timeoutMs?: number }): Promise<Socket> {
  const name = new TextEncoder().encode(o.host);
  if (name.length === 0 || name.length > 255) return Promise.reject(new SocksError(`host name too long for SOCKS5: ${o.host}`));
  return new Promise((resolve, reject) => {
    const socket = connect(o.proxy.port, o.proxy.host);
    let received: Uint8Array = new Uint8Array(0);
    let stage: 'greeting' | 'connect' = 'greeting';
    const fail = (why: string) => {
      socket.destroy();
      reject(new SocksError(`SOCKS proxy ${o.proxy.host}:${o.proxy.port}: ${why}`));
    };
    const onError = (e: Error) => fail(e.message);
    const onClose = () => fail('closed the connection');
    socket.setTimeout(o.timeoutMs ?? 60_000, () => fail('timed out'));
    socket.on('error', onError);
    socket.on('close', onClose);
    socket.once('connect', () => socket.write(Uint8Array.of(5, 1, 0))); // version 5, one method: no authentication

    const step = () => {
      if (stage === 'greeting') {
        if (received.length < 2) return;
        if (received[0] !== 5 || received[1] !== 0) return fail('it wants authentication, or is not a SOCKS5 proxy');
        received = received.subarray(2);
        stage = 'connect';
        const request = new Uint8Array(7 + name.length);
        request.set([5, 1, 0, 3, name.length]); // CONNECT to a domain name
        request.set(name, 5);
        request[5 + name.length] = o.port >> 8;
        request[6 + name.length] = o.port & 0xff;
        socket.write(request);
      }
      if (stage === 'connect') {
        if (received.length >= 2 && received[1] !== 0) {
          return fail(`could not connect to ${o.host}:${o.port} (${REPLY_ERRORS[received[1]!] ?? `error ${received[1]}`})`);
        }
        const length = replyLength(received);
        if (length === undefined || received.length < length) return;
        if (received[0] !== 5 || length < 0) return fail('sent a malformed reply');
        socket.off('readable', onReadable);
        socket.off('error', onError);
        socket.off('close', onClose);
        socket.setTimeout(0);
        // Anything after the reply already belongs to the tunnelled connection.
        const rest = received.subarray(length);
        if (rest.length > 0) socket.unshift(Buffer.from(rest));
        resolve(socket);
      }
    };
    // Read with 'readable', never 'data': the socket must not start flowing before
    // the caller listens, or what arrives in between would be lost.
    const onReadable = () => {
      for (let chunk: Buffer | null; (chunk = socket.read() as Buffer | null) !== null; ) received = concat(received, chunk);
      step();
    };
    socket.on('readable', onReadable);
  });
}

/** The size of a CONNECT reply once its address type is known; -1 for an address type SOCKS5 doesn't have. */
function replyLength(reply: Uint8Array): number | undefined {
  if (reply.length < 5) return undefined;
  if (reply[3] === 1) return 4 + 4 + 2;
  if (reply[3] === 4) return 4 + 16 + 2;
  if (reply[3] === 3) return 4 + 1 + reply[4]! + 2;
  return -1;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
