/** `tipline journalist …`: fetch and decrypt on the journalist's own machine. */
import { readPrivateKey } from '../../crypto/envelope.ts';
import { parseOptions, readSecretFile, readTextFile, UsageError } from '../../server/cli/args.ts';
import { decryptTips } from './decrypt-tips.ts';
import { fetchTips } from './fetch-tips.ts';

export const JOURNALIST_USAGE = `Usage:
  tipline journalist fetch --server URL --token-file FILE --out DIR
  tipline journalist decrypt --key SECRET.asc [--passphrase-file FILE] --in DIR --out DIR`;

export class CommandFailed extends Error {
  override name = 'CommandFailed';
}

export async function journalistCommand(argv: string[], out: (line: string) => void): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'fetch') {
    const o = parseOptions(
      rest,
      { server: { type: 'string', required: true }, 'token-file': { type: 'string', required: true }, out: { type: 'string', required: true } },
      JOURNALIST_USAGE,
    );
    const token = await readSecretFile(o['token-file']!, 'token');
    const r = await fetchTips({ server: o.server!, token, outDir: o.out!, log: out });
    out(`${r.fetched} new tip(s) fetched into ${o.out}; ${r.alreadyHad} already there.`);
    return;
  }
  if (sub === 'decrypt') {
    const o = parseOptions(
      rest,
      { key: { type: 'string', required: true }, 'passphrase-file': { type: 'string' }, in: { type: 'string', required: true }, out: { type: 'string', required: true } },
      JOURNALIST_USAGE,
    );
    const armored = await readTextFile(o.key!, 'secret key');
    const passphrase = o['passphrase-file'] ? await readSecretFile(o['passphrase-file'], 'passphrase') : undefined;
    let key;
    try {
      key = await readPrivateKey(armored, passphrase);
    } catch (e) {
      throw new UsageError(`cannot use the secret key in ${o.key}: ${(e as Error).message}`);
    }
    const r = await decryptTips({ key, inDir: o.in!, outDir: o.out!, log: out });
    out(`${r.decrypted.length} tip(s) decrypted into ${o.out}; ${r.alreadyDone} already decrypted; ${r.failed.length} failed.`);
    if (r.failed.length > 0) throw new CommandFailed(`${r.failed.length} tip(s) could not be decrypted`);
    return;
  }
  throw new UsageError(JOURNALIST_USAGE);
}
