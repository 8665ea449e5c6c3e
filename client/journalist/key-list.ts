/**
 * How `rekey` and `reply` speak of the signed key list (the manifest) they
 * encrypt to, and the two checks they share before encrypting: is the server
 * holding a newer list back, and would the server's desk label add readers.
 *
 * @module
 */
import { hex } from '../../crypto/bytes.ts';
import { newsroomFingerprint, tipRecipientIds, type Manifest } from '../../crypto/manifest.ts';
import { JournalistClientError } from './journalist-api.ts';
import { printable } from './printable.ts';

/** A desk as the journalist reads it: `desk Investigations (investigations)`, or the whole newsroom. */
export function deskWord(manifest: Manifest, deskId: string | null): string {
  if (deskId === null) return 'the whole newsroom';
  const desk = manifest.desks.find((d) => d.id === deskId);
  return desk ? `desk ${printable(desk.name)} (${printable(deskId)})` : `desk ${printable(deskId)} (no longer in the key list: the whole newsroom)`;
}

/** What the journalist reads before anything changes: which key list, and who is in each desk. */
export function describeKeyList(manifest: Manifest): string[] {
  const byId = new Map(manifest.recipients.map((r) => [r.id, r]));
  const who = (ids: string[]) => ids.map((id) => byId.get(id)).map((r) => `${printable(r!.name)} (${r!.fingerprint.toUpperCase()})`).join(', ');
  return [
    `the newsroom's key list version ${manifest.version}, signed ${manifest.issued} by ${newsroomFingerprint(hex.decode(manifest.newsroomKey))}, valid until ${manifest.expires}:`,
    ...manifest.desks.map((d) => `  desk ${printable(d.name)} (${printable(d.id)}): ${who(d.recipients)}`),
    `  the whole newsroom: ${who(manifest.recipients.map((r) => r.id))}`,
  ];
}

/** The server offers an older key list than one a message was encrypted under. */
export class FrozenKeyListError extends JournalistClientError {
  override name = 'FrozenKeyListError';
}

/**
 * Throws {@link FrozenKeyListError} when a message (`what`, e.g. "tip X was")
 * was encrypted under a newer key list than `manifest`: the server is holding
 * the newer one back, which may have removed a journalist. `nothing` says what
 * was left undone.
 */
export function refuseFrozenKeyList(manifest: Manifest, newest: number | undefined, what: string, nothing: string): void {
  if (newest === undefined || newest <= manifest.version) return;
  throw new FrozenKeyListError(
    `REFUSING: ${what} encrypted under the newsroom's key list version ${newest}, but the server offers version ${manifest.version}. ` +
      `The server is holding back a newer key list (one that may have removed a journalist). ${nothing} Tell your newsroom's admin.`,
  );
}

/**
 * The journalists of `deskId` in `manifest` who can't read a message encrypted
 * to `keyIds` now: the readers a re-key or a reply copy to that desk would add.
 * `owners` tells whose each key ID is (known-keys.ts), so a journalist's
 * replaced key still counts as theirs.
 */
export function newReaders(manifest: Manifest, deskId: string | null, keyIds: readonly string[], owners: ReadonlyMap<string, string>): Manifest['recipients'] {
  const readers = new Set(keyIds.map((id) => owners.get(id)));
  const byId = new Map(manifest.recipients.map((r) => [r.id, r]));
  return tipRecipientIds(manifest, deskId).filter((id) => !readers.has(id)).map((id) => byId.get(id)!);
}
