/**
 * `tipline verify`'s GET against a hostile server: a body that trickles in one
 * byte at a time (which an idle timeout never catches), an endless body, and
 * an onion name without a proxy (which must fail before any DNS lookup).
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpGetter } from '../client/verify/http-get.ts';

let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html' });
    if (req.url === '/trickle') {
      const timer = setInterval(() => res.write('x'), 50);
      res.on('close', () => clearInterval(timer));
    } else if (req.url === '/endless') {
      const chunk = Buffer.alloc(64 * 1024, 0x41);
      const pump = () => {
        while (res.write(chunk));
        res.once('drain', pump);
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    } else res.end('<html>ok</html>');
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

describe('verify http-get against a hostile server', () => {
  it('gives up on a trickling body at the wall-clock deadline', async () => {
    const started = Date.now();
    await expect(httpGetter({ timeoutMs: 1000 })(`${base}/trickle`)).rejects.toThrow(/timed out after 1 s/);
    // Well before the trickle would end (never); generous for a loaded machine.
    expect(Date.now() - started).toBeLessThan(8000);
  });

  it('cuts an endless body at the size cap', async () => {
    await expect(httpGetter({ maxBytes: 1024 * 1024 })(`${base}/endless`)).rejects.toThrow(/larger than 1048576 bytes/);
  });

  it('refuses an onion name without a proxy, before any lookup', async () => {
    await expect(httpGetter()('http://' + 'a'.repeat(56) + '.onion/')).rejects.toThrow(/onion address: start Tor/);
  });

  it('still reads an honest page', async () => {
    const res = await httpGetter({ timeoutMs: 5000 })(`${base}/`);
    expect(res.status).toBe(200);
    expect(new TextDecoder().decode(res.body)).toBe('<html>ok</html>');
  });
});
