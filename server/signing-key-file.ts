/**
 * The newsroom signing key file: the Ed25519 secret that signs manifests. It is
 * written once, mode 0600, for the admin to keep offline; nothing overwrites it.
 *
 * @example
 * await createSigningKeyFile('newsroom.key'); // → { publicKey, fingerprint }
 * const { secretKey } = await readSigningKeyFile('newsroom.key');
 */
import { readFile, writeFile } from 'node:fs/promises';
import { hex } from '../crypto/bytes.ts';
import { generateNewsroomKey, newsroomFingerprint, newsroomPublicKeyOf } from '../crypto/manifest.ts';

const KIND = 'tipline-newsroom-signing-key';

export class SigningKeyFileError extends Error {
  override name = 'SigningKeyFileError';
}

export async function createSigningKeyFile(file: string): Promise<{ publicKey: Uint8Array; fingerprint: string }> {
  const { secretKey, publicKey } = generateNewsroomKey();
  const fingerprint = newsroomFingerprint(publicKey);
  const body = { kind: KIND, version: 1, fingerprint, publicKey: hex.encode(publicKey), secretKey: hex.encode(secretKey) };
  try {
    await writeFile(file, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new SigningKeyFileError(`${file} already exists; refusing to overwrite a signing key`);
    throw new SigningKeyFileError(`cannot write ${file}: ${(e as Error).message}`);
  } finally {
    secretKey.fill(0);
  }
  return { publicKey, fingerprint };
}

export async function readSigningKeyFile(file: string): Promise<{ secretKey: Uint8Array; publicKey: Uint8Array; fingerprint: string }> {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new SigningKeyFileError(code === 'ENOENT' ? `signing key file ${file} not found` : `${file} is not a tipline signing key file`);
  }
  if (parsed.kind !== KIND || typeof parsed.secretKey !== 'string' || !/^[0-9a-f]{64}$/.test(parsed.secretKey)) {
    throw new SigningKeyFileError(`${file} is not a tipline signing key file`);
  }
  const secretKey = hex.decode(parsed.secretKey);
  const publicKey = newsroomPublicKeyOf(secretKey);
  return { secretKey, publicKey, fingerprint: newsroomFingerprint(publicKey) };
}
