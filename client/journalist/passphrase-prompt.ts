/**
 * Asks for a secret key's passphrase on the terminal, with nothing echoed:
 * for a protected `--key` file given without `--passphrase-file`. The
 * passphrase is never taken from argv or the environment, where other
 * processes and shell history could read it.
 *
 * @example
 * const passphrase = await promptPassphrase('Passphrase for secret.asc: ');
 */
import type { ReadStream } from 'node:tty';

/** There is no terminal to ask on, or the journalist gave up (Ctrl-C, Ctrl-D). */
export class PromptUnavailableError extends Error {
  override name = 'PromptUnavailableError';
}

/**
 * Reads one line from the terminal in raw mode (no echo), writing `prompt` to
 * stderr so that stdout stays clean for scripts. Backspace works; Ctrl-C or
 * Ctrl-D stops with {@link PromptUnavailableError}.
 */
export async function promptPassphrase(prompt: string, input: NodeJS.ReadStream = process.stdin, output: NodeJS.WriteStream = process.stderr): Promise<string> {
  if (!input.isTTY) throw new PromptUnavailableError('no terminal to ask for the passphrase on');
  const tty = input as ReadStream;
  output.write(prompt);
  tty.setRawMode(true);
  tty.resume();
  try {
    return await new Promise<string>((resolve, reject) => {
      let typed = '';
      const onData = (chunk: Buffer) => {
        for (const ch of chunk.toString('utf8')) {
          if (ch === '\r' || ch === '\n') {
            tty.off('data', onData);
            resolve(typed);
            return;
          }
          if (ch === '\u0003' || ch === '\u0004') {
            tty.off('data', onData);
            reject(new PromptUnavailableError(ch === '\u0003' ? 'cancelled at the passphrase prompt' : 'no passphrase given'));
            return;
          }
          if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
          else if (ch >= ' ') typed += ch;
        }
      };
      tty.on('data', onData);
    });
  } finally {
    tty.setRawMode(false);
    tty.pause();
    output.write('\n');
  }
}
