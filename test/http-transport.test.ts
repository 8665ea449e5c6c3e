/**
 * The journalist tools' HTTP transport against a hostile server on 127.0.0.1:
 * bodies past their cap (declared or chunked), a trickle that never ends,
 * a download longer than its listed size, an encoded answer, a listing that
 * loops its cursor, an error message full of terminal controls, and an onion
 * host without a SOCKS proxy (refused before any lookup) or with one (the
 * name reaches the proxy, never the resolver).
 */
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTcpServer, connect, type AddressInfo, type Server as TcpServer } from 'node:net';
import dns from 'node:dns';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { HttpTransport, HttpTransportError } from '../client/journalist/http-transport.ts';
import { JournalistApi, JournalistClientError } from '../client/journalist/journalist-api.ts';
import { printable } from '../client/journalist/printable.ts';

let server: Server;
let base: string;
let port: number;
let served = 0;

const routes: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  '/declared-huge': (_q, res) => {
    res.writeHead(200, { 'content-length': String(1024 * 1024 * 1024) });
    res.write('x'.repeat(1000));
  },
  '/chunked-huge': (_q, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = 'x'.repeat(64 * 1024);
    let sent = 0;
    const more = (): void => {
      while (sent < 4096 && res.write(chunk)) sent++;
      if (sent < 4096) res.once('drain', more);
      else res.end();
    };
    more();
  },
  '/trickle': (_q, res) => {
    res.writeHead(200, { 'content-length': '100000' });
    const timer = setInterval(() => res.write('x'), 50);
    res.on('close', () => clearInterval(timer));
  },
  '/gzip': (_q, res) => {
    res.writeHead(200, { 'content-encoding': 'gzip' });
    res.end('not really gzip');
  },
  '/long-blob': (_q, res) => {
    // Lists 1000 bytes, sends ten megabytes.
    res.writeHead(200);
    res.end(Buffer.alloc(10 * 1024 * 1024, 7));
  },
  '/api/v1/journalist/tips': (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    // A loop: always the same cursor back.
    res.end(JSON.stringify({ tips: [], nextCursor: 'again' }));
  },
  '/api/v1/journalist/me': (_q, res) => {
    res.writeHead(403, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: { code: 'x', message: '\x1b[2J\x1b]0;pwned\x07\rAll tips verified OK\u202e' } }));
  },
};

beforeAll(async () => {
  server = createHttpServer((req, res) => {
    served++;
    const route = routes[new URL(req.url ?? '/', 'http://x').pathname];
    if (route) route(req, res);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function refusal(p: Promise<unknown>): Promise<HttpTransportError> {
  const e = await p.then(
    () => undefined,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(HttpTransportError);
  return e as HttpTransportError;
}

describe('http transport against a hostile server', () => {
  it('refuses a declared Content-Length past the cap without reading the body', async () => {
    const e = await refusal(new HttpTransport().request(new URL(`${base}/declared-huge`), { maxBytes: 64 * 1024 }));
    expect(e.code).toBe('too-large');
  });

  it('stops a chunked answer at the cap (256 MiB sent, 1 MiB cap) with flat memory', async () => {
    const before = process.memoryUsage().rss;
    const e = await refusal(new HttpTransport().request(new URL(`${base}/chunked-huge`), { maxBytes: 1024 * 1024 }));
    expect(e.code).toBe('too-large');
    expect(process.memoryUsage().rss - before).toBeLessThan(128 * 1024 * 1024);
  });

  it('ends a trickle at the request deadline, though bytes keep coming', async () => {
    const started = Date.now();
    const e = await refusal(new HttpTransport({ requestTimeoutMs: 1000 }).request(new URL(`${base}/trickle`), { maxBytes: 1024 * 1024 }));
    expect(e.code).toBe('deadline');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('ends every request once the run deadline has passed', async () => {
    const http = new HttpTransport({ runTimeoutMs: 1 });
    await new Promise((r) => setTimeout(r, 20));
    const before = served;
    const e = await refusal(http.request(new URL(`${base}/api/v1/journalist/tips`), { maxBytes: 1024 }));
    expect(e.code).toBe('deadline');
    expect(served).toBe(before);
  });

  it('refuses an encoded answer', async () => {
    const e = await refusal(new HttpTransport().request(new URL(`${base}/gzip`), { maxBytes: 1024 }));
    expect(e.code).toBe('encoded');
  });

  it('cuts a download at its listed size', async () => {
    const res = await new HttpTransport().stream(new URL(`${base}/long-blob`), { expectedBytes: 1000 });
    let total = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) total += chunk.length;
    expect(total).toBe(1000);
  });

  it('refuses an onion host without a proxy before any name lookup', async () => {
    const lookup = vi.spyOn(dns, 'lookup');
    const e = await refusal(new HttpTransport().request(new URL('http://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuv.onion/'), { maxBytes: 1024 }));
    expect(e.code).toBe('onion-needs-socks');
    expect(lookup).not.toHaveBeenCalled();
    lookup.mockRestore();
  });

  it('sends an onion name to the SOCKS proxy as a name, and talks through it', async () => {
    const asked: string[] = [];
    const proxy: TcpServer = createTcpServer((client) => {
      client.once('data', () => {
        client.write(Buffer.from([5, 0]));
        client.once('data', (req) => {
          // VER CMD RSV ATYP=3 LEN NAME PORT
          expect(req[3]).toBe(3);
          asked.push(req.subarray(5, 5 + req[4]!).toString());
          const upstream = connect(port, '127.0.0.1', () => {
            client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
            client.pipe(upstream).pipe(client);
          });
        });
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const lookup = vi.spyOn(dns, 'lookup');
    try {
      const onion = 'abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuv.onion';
      const http = new HttpTransport({ socks: { host: '127.0.0.1', port: (proxy.address() as AddressInfo).port } });
      const res = await http.request(new URL(`http://${onion}/api/v1/journalist/tips`), { maxBytes: 1024 });
      expect(res.status).toBe(200);
      expect(asked).toEqual([onion]);
      expect(lookup).not.toHaveBeenCalled();
    } finally {
      lookup.mockRestore();
      await new Promise((r) => proxy.close(r));
    }
  });
});

describe('journalist API on the transport', () => {
  it('refuses a listing whose cursor repeats', async () => {
    const api = new JournalistApi(base, 'token');
    const first = await api.listTips(null);
    expect(first.nextCursor).toBe('again');
    await expect(api.listTips('again')).rejects.toThrow(/already sent/);
  });

  it('strips terminal controls from a server error message', async () => {
    const e = await new JournalistApi(base, 'token').me().then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(JournalistClientError);
    const message = (e as Error).message;
    expect(message).toContain('All tips verified OK');
    expect(message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202e]/);
  });

  it('printable keeps line feeds only when asked', () => {
    expect(printable('a\nb\x1b[1m\u0085')).toBe('a?b?[1m?');
    expect(printable('a\nb\tc\x1b', { multiLine: true })).toBe('a\nb\tc?');
  });
});
