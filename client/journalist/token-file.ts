/**
 * `--token-file`: the journalist's API token, checked on this machine before
 * it is sent anywhere. A token is `tl_<22 characters>_<43 characters>`
 * (server/store/journalist-store.ts makes them; the client may not import
 * server code, so the shape is repeated here). Anything else, such as a
 * secret key or a passphrase file given by mistake, is refused, and its
 * contents are never shown or sent: a typo must not hand a secret to the server.
 *
 * @example
 * const token = await readTokenFile('~/.tipline/token');
 */
import { readFile, stat } from 'node:fs/promises';
import { UsageError } from '../../cli/args.ts';

const TOKEN_RE = /^tl_[A-Za-z0-9_-]{22}_[A-Za-z0-9_-]{43}$/;
/** A token file is one line; anything much bigger is not one (and is not read whole). */
const MAX_TOKEN_FILE_BYTES = 4096;

export async function readTokenFile(file: string): Promise<string> {
  let text: string;
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new UsageError(`--token-file ${file} is not a file`);
    if (info.size > MAX_TOKEN_FILE_BYTES) throw new UsageError(notAToken(file, 'it is far too big to be one'));
    text = await readFile(file, 'utf8');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`cannot read the token file ${file}`);
  }
  const token = text.trim();
  if (TOKEN_RE.test(token)) return token;
  if (/-----BEGIN PGP (PRIVATE|SECRET) KEY BLOCK-----/.test(text)) throw new UsageError(notAToken(file, 'it holds an OpenPGP SECRET KEY'));
  if (/-----BEGIN PGP/.test(text)) throw new UsageError(notAToken(file, 'it holds an OpenPGP key or message'));
  throw new UsageError(notAToken(file, 'it does not have the shape of one'));
}

function notAToken(file: string, why: string): string {
  return `--token-file ${file} is not a tipline API token (${why}); nothing was sent, and its contents are not shown. Give the file holding the token that "tipline admin journalist add" printed: one line starting with tl_.`;
}
