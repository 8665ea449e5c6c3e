/**
 * The server's view of who tips must be encrypted to: the newest stored manifest,
 * re-checked against the newsroom key (the server trusts its own database no more
 * than a client does), with each recipient's OpenPGP key parsed and its encryption
 * subkey ID worked out. Cached per manifest version.
 *
 * @example
 * const recipients = new CurrentRecipients(manifests, newsroomPublicKey);
 * const { keyIds, keys, shapes, manifest } = await recipients.get(); // throws ManifestUnavailableError
 */
import { readPublicKey, type PublicKey } from '../crypto/envelope.ts';
import { recipientKeyShape, type RecipientKeyShape } from '../crypto/key-packet-swap.ts';
import { utcDay } from '../crypto/day.ts';
import { ManifestError, verifyManifest, type Manifest, type SignedManifest } from '../crypto/manifest.ts';
import type { ManifestStore } from './store/manifest-store.ts';

/** The keys one desk's tips must be encrypted to, exactly. */
export type DeskKeys = { id: string; name: string; recipientIds: string[]; keys: PublicKey[]; keyIds: string[] };

export type Recipients = {
  signed: SignedManifest;
  manifest: Manifest;
  /** Every recipient's key, in manifest order. */
  keys: PublicKey[];
  keyIds: string[];
  /** What a new key packet for each key must look like (crypto/key-packet-swap.ts), by key ID. */
  shapes: ReadonlyMap<string, RecipientKeyShape>;
  desks: DeskKeys[];
  /** The desk a tip goes to: `deskId` when given and known; the only desk when there is one. Undefined otherwise. */
  desk: (deskId: string | null | undefined) => DeskKeys | undefined;
  /**
   * Who must be able to open something already filed under `deskId` (a
   * follow-up, a reply copy, a re-keyed tip): that desk, or everyone when the
   * desk no longer exists, as `tipRecipientIds` in crypto/rekey.ts decides.
   */
  stored: (deskId: string | null | undefined) => DeskKeys;
};

export class ManifestUnavailableError extends Error {
  override name = 'ManifestUnavailableError';
  constructor(readonly reason: 'none' | 'expired' | 'invalid', message: string) {
    super(message);
  }
}

export class CurrentRecipients {
  private cached: Recipients | undefined;

  constructor(
    private readonly manifests: ManifestStore,
    private readonly newsroomPublicKey: Uint8Array,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async get(): Promise<Recipients> {
    const now = this.clock();
    // Every tip asks: look up the newest version only, and read and parse the
    // manifest (its armored keys are kilobytes of JSON) only when it changed.
    const version = await this.manifests.latestVersion();
    if (this.cached && this.cached.manifest.version === version && utcDay(now) <= this.cached.manifest.expires) {
      return this.cached;
    }
    const signed = await this.manifests.latest();
    if (!signed) throw new ManifestUnavailableError('none', 'no journalist keys have been published yet');
    let manifest: Manifest;
    try {
      manifest = verifyManifest(signed, this.newsroomPublicKey, { today: utcDay(now) });
    } catch (e) {
      if (e instanceof ManifestError && e.code === 'expired') throw new ManifestUnavailableError('expired', e.message);
      throw new ManifestUnavailableError('invalid', e instanceof Error ? e.message : 'invalid manifest');
    }
    if (manifest.recipients.length === 0) throw new ManifestUnavailableError('none', 'the manifest has no journalists');
    const keys = await Promise.all(manifest.recipients.map((r) => readPublicKey(r.publicKey)));
    const shapeList = await Promise.all(keys.map((k) => recipientKeyShape(k, now)));
    const keyIds = shapeList.map((s) => s.keyId);
    const shapes = new Map(shapeList.map((s) => [s.keyId, s]));
    const index = new Map(manifest.recipients.map((r, i) => [r.id, i]));
    const desks: DeskKeys[] = manifest.desks.map((d) => ({
      id: d.id,
      name: d.name,
      recipientIds: d.recipients,
      keys: d.recipients.map((id) => keys[index.get(id)!]!),
      keyIds: d.recipients.map((id) => keyIds[index.get(id)!]!),
    }));
    const desk = (deskId: string | null | undefined) => (deskId ? desks.find((d) => d.id === deskId) : desks.length === 1 ? desks[0] : undefined);
    const everyone: DeskKeys = { id: '', name: '', recipientIds: manifest.recipients.map((r) => r.id), keys, keyIds };
    const stored = (deskId: string | null | undefined) => (deskId ? desks.find((d) => d.id === deskId) : undefined) ?? everyone;
    this.cached = { signed, manifest, keys, keyIds, shapes, desks, desk, stored };
    return this.cached;
  }
}
