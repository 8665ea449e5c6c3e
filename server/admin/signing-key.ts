/**
 * Rotating the newsroom signing key. The old key signs the new public key and
 * the day (a cross-signature carried in every later manifest), so anyone who
 * trusted the old fingerprint can follow the chain to the new one. The server's
 * config then names the new key and remembers the old one, with the day it
 * changed, for the landing page.
 *
 * @example
 * await rotateSigningKey({ dataDir: 'data', signingKeyFile: 'old.key', newSigningKeyFile: 'new.key' });
 */
import { hex } from '../../crypto/bytes.ts';
import { utcDay } from '../../crypto/day.ts';
import { newsroomFingerprint, signRotation } from '../../crypto/manifest.ts';
import { exists, readDataDir, writeConfig } from '../data-dir.ts';
import { createSigningKeyFile, readSigningKeyFile } from '../signing-key-file.ts';
import { AuditLog } from '../store/audit-log.ts';
import { publishManifest } from './manifests.ts';
import { AdminError, withNewsroom } from './newsroom.ts';

export async function rotateSigningKey(o: { dataDir: string; signingKeyFile: string; newSigningKeyFile: string; today?: string }): Promise<{ fingerprint: string; previous: string; manifestVersion: number }> {
  if (await exists(o.newSigningKeyFile)) throw new AdminError(`${o.newSigningKeyFile} already exists; refusing to overwrite a signing key`);
  const dir = await readDataDir(o.dataDir);
  const today = o.today ?? utcDay();
  return withNewsroom(o, async (db, oldSecret) => {
    const { publicKey: newPublic, fingerprint } = await createSigningKeyFile(o.newSigningKeyFile);
    const rotation = signRotation(oldSecret!, newPublic, today);
    const { secretKey: newSecret } = await readSigningKeyFile(o.newSigningKeyFile);
    try {
      const signed = await publishManifest(db, newSecret, { rotation, today });
      const previous = newsroomFingerprint(dir.newsroomPublicKey);
      await writeConfig(o.dataDir, {
        ...dir.config,
        newsroomPublicKey: hex.encode(newPublic),
        previousNewsroomKeys: [...(dir.config.previousNewsroomKeys ?? []), { key: dir.config.newsroomPublicKey, fingerprint: previous, until: today }],
      });
      await new AuditLog(db).record('admin', 'signing-key.rotate', `old=${previous} new=${fingerprint} manifest=${signed.manifest.version}`);
      return { fingerprint, previous, manifestVersion: signed.manifest.version };
    } finally {
      newSecret.fill(0);
    }
  });
}
