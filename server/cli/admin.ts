/** `tipline admin …`: set up a newsroom and manage journalists. */
import { addJournalist, initNewsroom, listJournalists, removeJournalist } from '../admin/newsroom.ts';
import { parseOptions, readTextFile, UsageError } from './args.ts';

export const ADMIN_USAGE = `Usage:
  tipline admin init --data DIR --signing-key FILE
  tipline admin journalist add --data DIR --signing-key FILE --name NAME --key PUBLIC.asc
  tipline admin journalist list --data DIR
  tipline admin journalist remove --data DIR --signing-key FILE --name NAME`;

export async function adminCommand(argv: string[], out: (line: string) => void): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === 'init') {
    const o = parseOptions(rest, { data: { type: 'string', required: true }, 'signing-key': { type: 'string', required: true } }, ADMIN_USAGE);
    const { fingerprint } = await initNewsroom({ dataDir: o.data!, signingKeyFile: o['signing-key']! });
    out(`Created the data directory ${o.data} and the newsroom signing key ${o['signing-key']}.`);
    out('');
    out('Keep the signing key offline (it signs the list of journalist keys); the server does not need it to run.');
    out('Publish this newsroom key fingerprint, in print and on your other channels, so sources can check it:');
    out('');
    out(`  ${fingerprint}`);
    out('');
    out(`Next: tipline admin journalist add --data ${o.data} --signing-key ${o['signing-key']} --name NAME --key PUBLIC.asc`);
    return;
  }
  if (sub === 'journalist') {
    const [action, ...args] = rest;
    if (action === 'add') {
      const o = parseOptions(
        args,
        { data: { type: 'string', required: true }, 'signing-key': { type: 'string', required: true }, name: { type: 'string', required: true }, key: { type: 'string', required: true } },
        ADMIN_USAGE,
      );
      const armoredKey = await readTextFile(o.key!, 'public key');
      const r = await addJournalist({ dataDir: o.data!, signingKeyFile: o['signing-key']!, name: o.name!, armoredKey });
      out(`Added ${r.journalist.name} (key ${r.journalist.fingerprint.toUpperCase()}); published manifest version ${r.manifestVersion}.`);
      out('');
      out('API token (shown once; give it to the journalist over a secure channel, the server keeps only its hash):');
      out('');
      out(`  ${r.token}`);
      return;
    }
    if (action === 'list') {
      const o = parseOptions(args, { data: { type: 'string', required: true } }, ADMIN_USAGE);
      const list = await listJournalists({ dataDir: o.data! });
      if (list.length === 0) out('No journalists yet.');
      for (const j of list) out(`${j.name}\t${j.fingerprint.toUpperCase()}\tadded ${j.addedAt.slice(0, 10)}`);
      return;
    }
    if (action === 'remove') {
      const o = parseOptions(
        args,
        { data: { type: 'string', required: true }, 'signing-key': { type: 'string', required: true }, name: { type: 'string', required: true } },
        ADMIN_USAGE,
      );
      const r = await removeJournalist({ dataDir: o.data!, signingKeyFile: o['signing-key']!, name: o.name! });
      out(`Removed ${o.name}: their tokens no longer work, and manifest version ${r.manifestVersion} no longer lists their key.`);
      return;
    }
  }
  throw new UsageError(ADMIN_USAGE);
}
