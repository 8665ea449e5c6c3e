/**
 * Argument parsing shared by every subcommand, on Node's own `parseArgs`.
 * A usage mistake throws {@link UsageError}: the CLI prints it and exits 2.
 */
import { parseArgs } from 'node:util';
import { readFile } from 'node:fs/promises';

export class UsageError extends Error {
  override name = 'UsageError';
}

export type OptionSpec = Record<string, { type: 'string' | 'boolean'; required?: boolean }>;

export function parseOptions<S extends OptionSpec>(argv: string[], spec: S, usage: string): { [K in keyof S]: S[K]['type'] extends 'boolean' ? boolean : string | undefined } {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: Object.fromEntries(Object.entries(spec).map(([k, v]) => [k, { type: v.type }])),
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${usage}`);
  }
  for (const [name, s] of Object.entries(spec)) {
    if (s.required && values[name] === undefined) throw new UsageError(`--${name} is required\n\n${usage}`);
    if (s.type === 'boolean') values[name] = values[name] === true;
  }
  return values as never;
}

/**
 * Takes `--NAME VALUE` (or `--NAME=VALUE`) out of `argv`, wherever it stands,
 * and returns its value: for an option every subcommand of a group accepts.
 */
export function takeOption(argv: string[], name: string): string | undefined {
  let value: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === `--${name}`) {
      if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
      value = argv.splice(i, 2)[1];
      i--;
    } else if (arg.startsWith(`--${name}=`)) {
      value = arg.slice(name.length + 3);
      argv.splice(i--, 1);
    }
  }
  return value;
}

/** Reads a small secret file (token, passphrase) and trims the trailing newline. */
export async function readSecretFile(file: string, what: string): Promise<string> {
  try {
    return (await readFile(file, 'utf8')).replace(/\r?\n$/, '');
  } catch {
    throw new UsageError(`cannot read the ${what} file ${file}`);
  }
}

export async function readTextFile(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    throw new UsageError(`cannot read the ${what} file ${file}`);
  }
}
