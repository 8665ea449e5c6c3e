/**
 * What every section gets: its sizes, a scratch folder (deleted at the end of
 * the run), a progress log (stderr, so stdout stays the table), and the
 * journalist keys, made on first use and shared, since RSA-4096 generation is slow,
 * and a way to start the server under test.
 */
import type { ChildServer } from './child-server.ts';
import { GnupgHome } from './gnupg.ts';
import { makeJournalistKeys, type JournalistKeys } from './journalist-keys.ts';
import type { SizeName, Sizes } from './sizes.ts';

export type BenchContext = {
  sizeName: SizeName;
  sizes: Sizes;
  /** Scratch space for this run. */
  workDir: string;
  /** When the whole run should be done (ms, performance.now() clock): sections that size themselves stop short of it. */
  deadline: number;
  log: (line: string) => void;
  /** The three journalist keys; rejects with a clear message when gpg is missing. */
  keys: () => Promise<JournalistKeys>;
  /** Starts serve-target.js in a child process (see child-server.ts), profiled when asked to be. */
  startServer: (args: string[]) => Promise<ChildServer>;
};

export class MissingToolError extends Error {
  override name = 'MissingToolError';
}

/** Makes the keys once, on first use; `dispose` removes their GNUPGHOMEs. */
export function lazyJournalistKeys(log: (line: string) => void): { get: () => Promise<JournalistKeys>; dispose: () => Promise<void> } {
  let made: Promise<JournalistKeys> | undefined;
  return {
    get: () =>
      (made ??= (async () => {
        if (!(await GnupgHome.available())) throw new MissingToolError('gpg (GnuPG) is not installed, so there are no journalist keys and no baseline');
        return makeJournalistKeys(log);
      })()),
    dispose: async () => {
      const keys = await made?.catch(() => undefined);
      await keys?.cleanup();
    },
  };
}
