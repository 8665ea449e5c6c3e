/**
 * The upload baseline: plain `node` piping the bytes of one TCP connection
 * straight into a file, then flushing it to disk (one fsync at the end, so the
 * bytes are as durable as the upload's are when it answers). It answers "done"
 * on the same connection once the file is closed, so the sender can time the
 * whole trip.
 *
 * @example
 * const server = await startSocketToFileServer('/tmp/out.bin');
 * // connect to server.port, write the bytes, end, wait for "done"
 */
import { createWriteStream } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';

export async function startSocketToFileServer(file: string): Promise<{ port: number; close: () => Promise<void> }> {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    const out = createWriteStream(file, { flush: true });
    socket.pipe(out);
    out.on('close', () => socket.end('done\n'));
    out.on('error', () => socket.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
