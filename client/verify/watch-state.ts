/**
 * What `tipline verify --state FILE` remembers between runs, so that a cron job
 * notices what a single run can't: a manifest older than one seen before (a
 * rollback, say to bring back a departed journalist's key), and changes worth a
 * human look (a new manifest version, recipients added or removed, a newsroom
 * key rotation, a new release).
 *
 * Written only after a manifest has verified, atomically (a temporary file, then
 * a rename), so an interrupted run never leaves half a file.
 *
 * @example
 * const state = await readWatchState('tipline-watch.json'); // undefined on the first run
 * await writeWatchState('tipline-watch.json', { ...state, manifestVersion: 4 });
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import * as z from 'zod';

export const WATCH_STATE_FORMAT = 'tipline-verify-state/1';

const WatchStateSchema = z.strictObject({
  format: z.literal(WATCH_STATE_FORMAT),
  /** The server last checked (for people reading the file). */
  server: z.string(),
  /** The highest manifest version seen verified: a lower one is a rollback. */
  manifestVersion: z.number().int().positive(),
  /** The newsroom key (hex) the last verified manifest was signed by; the trust anchor when no fingerprint is given. */
  newsroomKey: z.string().regex(/^[0-9a-f]{64}$/),
  recipients: z.array(z.strictObject({ name: z.string(), fingerprint: z.string() })),
  /** The asset lock hash the landing page showed, if it showed one. */
  assetLockSha256: z.string().optional(),
  /** The day (UTC) of the last run that verified the manifest. */
  checked: z.string(),
});

export type WatchState = z.infer<typeof WatchStateSchema>;

export class WatchStateError extends Error {
  override name = 'WatchStateError';
}

/** The state in `file`, or undefined when there is no such file yet. */
export async function readWatchState(file: string): Promise<WatchState | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new WatchStateError(`cannot read the state file ${file}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new WatchStateError(`the state file ${file} is not JSON`);
  }
  const parsed = WatchStateSchema.safeParse(json);
  if (!parsed.success) throw new WatchStateError(`the state file ${file} is not a tipline verify state (${parsed.error.issues[0]!.message})`);
  return parsed.data;
}

export async function writeWatchState(file: string, state: WatchState): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(WatchStateSchema.parse(state), null, 2)}\n`, { mode: 0o600 });
  await rename(temporary, file);
}
