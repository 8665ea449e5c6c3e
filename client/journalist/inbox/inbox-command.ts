/**
 * `tipline journalist inbox`: checks its options, starts the local inbox
 * (inbox-server.ts) and keeps it running until Ctrl-C. It prints the secret
 * URL once, on the journalist's own terminal; the secret is never in the
 * process's arguments, so another local user can't read it from `ps`.
 *
 * @module
 * @example
 * await runInboxCommand(['--in', 'read'], console.log); // prints http://127.0.0.1:PORT/<secret>/
 */
import { stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseOptions, UsageError } from '../../../cli/args.ts';
import { socksOption } from '../socks-option.ts';
import { readTokenFile } from '../token-file.ts';
import { INBOX_LANGUAGES } from './inbox-i18n.ts';
import { INBOX_HOST, startInbox } from './inbox-server.ts';

export const INBOX_USAGE = `Usage:
  tipline journalist inbox --in DIR [--inbox DIR] [--outbox DIR] [--port N] [--lang en|zh-Hans] [--server URL --token-file FILE [--socks HOST:PORT]]`;

export async function runInboxCommand(argv: string[], out: (line: string) => void): Promise<void> {
  const o = parseOptions(
    argv,
    {
      in: { type: 'string', required: true },
      inbox: { type: 'string' },
      outbox: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      lang: { type: 'string' },
      server: { type: 'string' },
      'token-file': { type: 'string' },
      socks: { type: 'string' },
    },
    INBOX_USAGE,
  );
  // It shows decrypted tips: any address but loopback would put them on the network.
  if (o.host !== undefined && o.host !== INBOX_HOST) throw new UsageError(`the inbox listens on ${INBOX_HOST} only (it shows decrypted tips); refusing --host ${o.host}`);
  const port = o.port === undefined ? 0 : /^\d{1,5}$/.test(o.port) && Number(o.port) <= 65535 ? Number(o.port) : undefined;
  if (port === undefined) throw new UsageError(`--port must be a port number (0–65535), not "${o.port}"`);
  if (o.lang !== undefined && !INBOX_LANGUAGES.some((l) => l.code === o.lang)) {
    throw new UsageError(`--lang must be one of ${INBOX_LANGUAGES.map((l) => l.code).join(', ')}, not "${o.lang}"`);
  }
  if ((o.server === undefined) !== (o['token-file'] === undefined)) throw new UsageError('give both --server and --token-file to reply online, or neither to work offline');
  if (!(await isFolder(o.in!))) throw new UsageError(`--in ${o.in} is not a folder: give it decrypt's --out`);
  const token = o['token-file'] !== undefined ? await readTokenFile(o['token-file']) : undefined;
  const { socks } = socksOption(o.socks);
  const outboxDir = resolve(o.outbox ?? join(dirname(resolve(o.in!)), 'outbox'));

  const inbox = await startInbox({
    decryptedDir: resolve(o.in!),
    inboxDir: o.inbox === undefined ? undefined : resolve(o.inbox),
    outboxDir,
    online: o.server !== undefined && token !== undefined ? { server: o.server, token, socks } : undefined,
    port,
    lang: o.lang,
  });
  out(`The inbox is open at ${inbox.url}`);
  out('Open that address in a browser on this machine; keep it to yourself (it is the key to the inbox). Ctrl-C stops the inbox.');
  out(o.server !== undefined ? `Online: replies and deletions go to ${o.server}.` : `Offline: replies are encrypted into ${outboxDir}; send them from the online machine with: tipline journalist reply --outbox DIR`);
  await new Promise<void>((done) => {
    const stop = () => void inbox.close().then(done, done);
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

async function isFolder(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}
