/**
 * The single-file journalist tool, `dist/tipline-journalist.mjs`: the
 * `tipline journalist …` and `tipline verify …` commands bundled with every
 * package they use, so it runs with Node ≥ 20 alone, from any folder, with no
 * `node_modules` and nothing fetched from npm (build.mjs makes it, and its
 * SHA-256 beside it). The server and admin commands are not in it.
 *
 * @example
 * // node tipline-journalist.mjs journalist fetch --server URL --token-file FILE --out DIR
 * // node tipline-journalist.mjs fetch …   (the same: "journalist" may be left out)
 */
import { journalistCommand, JOURNALIST_USAGE } from '../client/journalist/cli.ts';
import { verifyCommand, VERIFY_USAGE } from '../client/verify/cli.ts';
import { UsageError } from './args.ts';

const HELP = `tipline-journalist.mjs: tipline's journalist tool in one file (node tipline-journalist.mjs …).

${JOURNALIST_USAGE}

${VERIFY_USAGE}

  ("journalist" may be left out: node tipline-journalist.mjs fetch … is the same.)`;

export async function journalistMain(argv: string[]): Promise<number> {
  // Decrypted tips and fetched files are for their owner only, whatever the umask.
  process.umask(0o077);
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
  });
  const out = (line: string) => process.stdout.write(`${line}\n`);
  const [first, ...rest] = argv;
  try {
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      out(HELP);
      return first === undefined ? 2 : 0;
    }
    if (first === 'verify') return await verifyCommand(rest, out);
    await journalistCommand(first === 'journalist' ? rest : argv, out);
    return 0;
  } catch (e) {
    const error = e as Error;
    process.stderr.write(`tipline: ${error.message ?? String(e)}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

process.exitCode = await journalistMain(process.argv.slice(2));
