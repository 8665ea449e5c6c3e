/**
 * Building, signing and publishing manifests, including the offline flow in
 * which the newsroom signing key never touches the server:
 *
 * 1. on the server: `exportNextManifest` writes the unsigned next manifest;
 * 2. on an offline machine: `signManifestFile` signs it;
 * 3. on the server: `importSignedManifest` checks and publishes it.
 *
 * @example
 * await exportNextManifest({ dataDir: 'data', out: 'next.json' });
 * await signManifestFile({ signingKeyFile: 'newsroom.key', in: 'next.json', out: 'next.json.sig' });
 * await importSignedManifest({ dataDir: 'data', in: 'next.json', sig: 'next.json.sig' });
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { hex } from '../../crypto/bytes.ts';
import { addDays, daysBetween, utcDay } from '../../crypto/day.ts';
import { readPublicKey } from '../../crypto/envelope.ts';
import {
  DEFAULT_MANIFEST_DAYS,
  MANIFEST_FORMAT,
  ManifestError,
  canonicalJson,
  checkManifestShape,
  newsroomFingerprint,
  newsroomPublicKeyOf,
  signManifest,
  verifyManifest,
  type KeyRotation,
  type Manifest,
  type ManifestDesk,
  type SignedManifest,
} from '../../crypto/manifest.ts';
import { readDataDir } from '../data-dir.ts';
import type { TiplineDb } from '../db/open-database.ts';
import { readSigningKeyFile } from '../signing-key-file.ts';
import { AuditLog } from '../store/audit-log.ts';
import { JournalistStore, type Journalist } from '../store/journalist-store.ts';
import { ManifestStore } from '../store/manifest-store.ts';
import { AdminError, withNewsroom } from './newsroom-access.ts';

/** The desk everyone is in when no journalist names a desk. */
export const DEFAULT_DESK = { id: 'general', name: 'General' };

/** A stable, URL-safe id for a desk name ("Investigations" → "investigations"). */
export function deskId(name: string): string {
  const slug = name.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40);
  return slug || `desk-${createHash('sha256').update(name).digest('hex').slice(0, 10)}`;
}

/**
 * Desks from the journalists: each named desk holds its members plus everyone
 * who names no desk (the "always included" journalists). With no named desks
 * at all there is one desk, General, with everyone.
 */
export function desksFor(journalists: Journalist[]): ManifestDesk[] {
  const always = journalists.filter((j) => j.desks.length === 0).map((j) => j.id);
  const names = [...new Set(journalists.flatMap((j) => j.desks))].sort();
  if (names.length === 0) return journalists.length ? [{ ...DEFAULT_DESK, recipients: always }] : [];
  return names.map((name) => ({
    id: deskId(name),
    name,
    recipients: [...new Set([...journalists.filter((j) => j.desks.includes(name)).map((j) => j.id), ...always])],
  }));
}

/** The next manifest for this database: current journalists, version + 1, the rotation chain carried over. */
export async function nextManifest(db: TiplineDb, newsroomKey: string, o: { days?: number; today?: string; rotation?: KeyRotation } = {}): Promise<Manifest> {
  const manifests = new ManifestStore(db);
  const latest = await manifests.latest();
  const journalists = await new JournalistStore(db).list();
  const today = o.today ?? utcDay();
  return {
    format: MANIFEST_FORMAT,
    version: (await manifests.latestVersion()) + 1,
    issued: today,
    expires: addDays(today, o.days ?? DEFAULT_MANIFEST_DAYS),
    newsroomKey,
    recipients: journalists.map((j) => ({ id: j.id, name: j.name, fingerprint: j.fingerprint, publicKey: j.publicKey })),
    desks: desksFor(journalists),
    rotations: [...(latest?.manifest.rotations ?? []), ...(o.rotation ? [o.rotation] : [])],
  };
}

/** Builds, signs and stores the next manifest from the current journalists. */
export async function publishManifest(db: TiplineDb, secretKey: Uint8Array, options: { days?: number; today?: string; rotation?: KeyRotation } = {}): Promise<SignedManifest> {
  const signed = signManifest(await nextManifest(db, hex.encode(newsroomPublicKeyOf(secretKey)), options), secretKey);
  await new ManifestStore(db).save(signed);
  return signed;
}

/** Writes the unsigned next manifest (canonical JSON) for signing offline. */
export async function exportNextManifest(o: { dataDir: string; out: string; days?: number }): Promise<Manifest> {
  const dir = await readDataDir(o.dataDir);
  return withNewsroom(o, async (db) => {
    const manifest = await nextManifest(db, dir.config.newsroomPublicKey, { days: o.days });
    if (manifest.recipients.length === 0) throw new AdminError('there are no journalists to publish; add one first');
    await writeFile(o.out, `${canonicalJson(manifest)}\n`, { flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
      throw new AdminError(e.code === 'EEXIST' ? `${o.out} already exists; refusing to overwrite it` : `cannot write ${o.out}: ${e.message}`);
    });
    return manifest;
  });
}

/** On the offline machine: checks the file is a well-formed manifest for this key, and writes its signature. */
export async function signManifestFile(o: { signingKeyFile: string; in: string; out: string }): Promise<{ version: number; fingerprint: string }> {
  const manifest = await readManifestFile(o.in);
  const key = await readSigningKeyFile(o.signingKeyFile);
  try {
    const signed = signManifest(manifest, key.secretKey);
    await writeFile(o.out, `${JSON.stringify({ signature: signed.signature })}\n`, { flag: 'wx' }).catch((e: NodeJS.ErrnoException) => {
      throw new AdminError(e.code === 'EEXIST' ? `${o.out} already exists; refusing to overwrite it` : `cannot write ${o.out}: ${e.message}`);
    });
    return { version: manifest.version, fingerprint: key.fingerprint };
  } catch (e) {
    if (e instanceof ManifestError && e.code === 'wrong-key') throw new AdminError(`${o.signingKeyFile} is not the newsroom key this manifest names`);
    throw e;
  } finally {
    key.secretKey.fill(0);
  }
}

/**
 * Loads a manifest signed offline: the signature must check against this
 * newsroom's key, the version must be the next one, and its recipients must
 * be exactly the journalists here now (so a stale export can't undo a removal).
 */
export async function importSignedManifest(o: { dataDir: string; in: string; sig: string }): Promise<{ version: number }> {
  const dir = await readDataDir(o.dataDir);
  const manifest = await readManifestFile(o.in);
  let signature: string;
  try {
    signature = (JSON.parse(await readFile(o.sig, 'utf8')) as { signature: string }).signature;
  } catch {
    throw new AdminError(`${o.sig} is not a signature file made by: tipline admin manifest sign`);
  }
  const signed: SignedManifest = { manifest, signature };
  try {
    verifyManifest(signed, dir.newsroomPublicKey, { today: utcDay() });
  } catch (e) {
    throw new AdminError(`refusing the manifest: ${(e as Error).message}`);
  }
  return withNewsroom(o, async (db) => {
    const expected = await nextManifest(db, dir.config.newsroomPublicKey);
    if (manifest.version !== expected.version) {
      throw new AdminError(`refusing the manifest: it is version ${manifest.version}, but the next version here is ${expected.version} (export a fresh one)`);
    }
    if (canonicalJson(manifest.recipients) !== canonicalJson(expected.recipients) || canonicalJson(manifest.desks) !== canonicalJson(expected.desks)) {
      throw new AdminError('refusing the manifest: its journalists or desks differ from this server\'s now (export a fresh one)');
    }
    await new ManifestStore(db).save(signed);
    await new AuditLog(db).record('admin', 'manifest.import', `version=${manifest.version} expires=${manifest.expires}`);
    return { version: manifest.version };
  });
}

async function readManifestFile(file: string): Promise<Manifest> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw new AdminError(`${file} is not a manifest file made by: tipline admin manifest export`);
  }
  try {
    checkManifestShape(parsed);
  } catch (e) {
    throw new AdminError(`${file}: ${(e as Error).message}`);
  }
  return parsed;
}

export type NewsroomStatus = {
  fingerprint: string;
  previous: { fingerprint: string; until: string }[];
  manifest: { version: number; issued: string; expires: string; daysLeft: number } | null;
  journalists: { name: string; fingerprint: string; desks: string[]; keyExpires: string | null; keyDaysLeft: number | null }[];
  warnings: string[];
};

/** What an admin needs at a glance: expiry of the manifest and of keys, fingerprints, desks. */
export async function newsroomStatus(o: { dataDir: string; today?: string; databaseUrl?: string | undefined }): Promise<NewsroomStatus> {
  const dir = await readDataDir(o.dataDir);
  const today = o.today ?? utcDay();
  return withNewsroom(o, async (db) => {
    const latest = await new ManifestStore(db).latest();
    const warnings: string[] = [];
    const manifest = latest ? { version: latest.manifest.version, issued: latest.manifest.issued, expires: latest.manifest.expires, daysLeft: daysBetween(today, latest.manifest.expires) } : null;
    if (!manifest) warnings.push('no manifest is published: sources cannot send tips');
    else if (manifest.daysLeft < 0) warnings.push(`the manifest expired on ${manifest.expires}: sources cannot send tips. Publish a new one.`);
    else if (manifest.daysLeft < 14) warnings.push(`the manifest expires in ${manifest.daysLeft} days (${manifest.expires}). Publish a new one.`);
    const journalists = [];
    for (const j of await new JournalistStore(db).list()) {
      const key = await readPublicKey(j.publicKey);
      const expires = await key.getExpirationTime();
      const keyExpires = expires instanceof Date ? utcDay(expires) : null;
      const keyDaysLeft = keyExpires ? daysBetween(today, keyExpires) : null;
      if (keyDaysLeft !== null && keyDaysLeft < 30) warnings.push(`${j.name}'s key expires in ${keyDaysLeft} days (${keyExpires}): ask for a new key and run journalist replace.`);
      journalists.push({ name: j.name, fingerprint: j.fingerprint, desks: j.desks, keyExpires, keyDaysLeft });
    }
    return {
      fingerprint: newsroomFingerprint(dir.newsroomPublicKey),
      previous: (dir.config.previousNewsroomKeys ?? []).map((p) => ({ fingerprint: p.fingerprint, until: p.until })),
      manifest,
      journalists,
      warnings,
    };
  });
}

