/**
 * `tipline demo`: a complete, throwaway tip line in a temporary folder: a
 * newsroom key, one journalist key pair, the journalist registered, the server
 * running. It prints the URL and the exact commands to fetch and decrypt.
 * Nothing here is for real use: the secret keys sit next to the data.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { addJournalist, initNewsroom } from '../admin/newsroom.ts';
import { parseOptions } from '../../cli/args.ts';
import { packageRoot } from '../../cli/paths.ts';
import { startServer, type RunningServer } from './serve.ts';

export async function demoCommand(argv: string[], out: (line: string) => void): Promise<RunningServer> {
  const o = parseOptions(argv, { port: { type: 'string' }, host: { type: 'string' } }, 'Usage: tipline demo [--port N] [--host ADDR]');
  const root = await mkdtemp(join(tmpdir(), 'tipline-demo-'));
  const dataDir = join(root, 'data');
  const signingKey = join(root, 'newsroom-signing.key');
  const { fingerprint } = await initNewsroom({ dataDir, signingKeyFile: signingKey });

  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name: 'Demo Journalist', email: 'demo@tipline.invalid' }],
    format: 'armored',
  });
  const secretFile = join(root, 'journalist-secret.asc');
  const publicFile = join(root, 'journalist-public.asc');
  await writeFile(secretFile, privateKey, { mode: 0o600 });
  await writeFile(publicFile, publicKey, { mode: 0o644 });
  const { token } = await addJournalist({ dataDir, signingKeyFile: signingKey, name: 'Demo Journalist', armoredKey: publicKey });
  const tokenFile = join(root, 'token.txt');
  await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });

  const host = o.host ?? process.env.HOST ?? '127.0.0.1';
  const wanted = Number(o.port ?? process.env.PORT ?? 8080);
  let server: RunningServer;
  try {
    server = await startServer({ dataDir, port: wanted, host, log: (l) => out(`[server] ${l}`) });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    out(`Port ${wanted} is busy; using a free one instead.`);
    server = await startServer({ dataDir, port: 0, host, log: (l) => out(`[server] ${l}`) });
  }
  const inbox = join(root, 'inbox');
  const decrypted = join(root, 'decrypted');
  // This checkout's own tipline, by path: `npx tipline` typed in another folder would ask the npm registry
  // for a package named tipline, which anyone could publish, and hand it the token and key paths.
  const tipline = `node ${join(packageRoot(), 'bin', 'tipline.js')}`;
  out(`
tipline demo is running. Everything lives in ${root}, which is deleted when you stop the demo.

  1. Open ${server.url}/ and send a tip (try it with JavaScript on and off).

  2. Fetch the ciphertext, as the journalist:
     ${tipline} journalist fetch --server ${server.url} --token-file ${tokenFile} --out ${inbox}

  3. Decrypt it offline with the journalist's key:
     ${tipline} journalist decrypt --key ${secretFile} --in ${inbox} --out ${decrypted}
     cat ${decrypted}/*/*/message.txt   (one folder per conversation, one per message)

  4. Reply to the source (ID is the tip's id, the end of its folder name 001-tip-ID):
     ${tipline} journalist reply --server ${server.url} --token-file ${tokenFile} --in ${decrypted} --tip ID --message 'Thank you; can you tell us more?'
     The source reads it after logging in with their codename. Fetch and decrypt again to file the newsroom's copy.

  Or with plain GnuPG:
     GNUPGHOME=$(mktemp -d) sh -c 'gpg --batch --import ${secretFile} && gpg --decrypt ${inbox}/*.gpg'

Newsroom key fingerprint (shown on the landing page): ${fingerprint}
Press Ctrl-C to stop; the folder is deleted then.`);
  return { ...server, close: async () => {
    await server.close();
    await rm(root, { recursive: true, force: true });
  } };
}
