/**
 * The browser's half of a tip: fetch the manifest, check its Ed25519 signature
 * and expiry against the newsroom key in the page, pad the tip, encrypt it to
 * every journalist key with openpgp.js, and post the ciphertext.
 *
 * Every failure throws an Error whose message is shown to the source, in their
 * language (the strings come from the page).
 */
import { base64, hex } from '../../crypto/bytes.ts';
import { utcDay } from '../../crypto/day.ts';
import { encryptToKeys, readPublicKey } from '../../crypto/envelope.ts';
import { ManifestError, verifyManifest } from '../../crypto/manifest.ts';
import { padToBucket } from '../../crypto/padding.ts';
import { encodeTipDocument } from '../../crypto/tip-document.ts';

export type SendTipOptions = {
  message: string;
  lang: string;
  /** The newsroom's Ed25519 public key, hex, from the page. */
  newsroomKey: string;
  strings: Record<string, string | undefined>;
  onStatus: (text: string | undefined) => void;
};

export async function sendTip(o: SendTipOptions): Promise<{ receipt: string }> {
  const t = o.strings;
  const fill = (template: string | undefined, reason: string) => (template ?? '{reason}').replace('{reason}', reason);

  const manifestResponse = await request('/api/v1/manifest', { cache: 'no-store' }, t.tErrorNetwork);
  if (!manifestResponse.ok) throw new Error(fill(t.tErrorManifest, await errorMessage(manifestResponse)));
  let manifest;
  try {
    manifest = verifyManifest(await manifestResponse.json(), hex.decode(o.newsroomKey), { today: utcDay() });
  } catch (e) {
    throw new Error(fill(t.tErrorManifest, e instanceof ManifestError ? e.message : 'unreadable manifest'));
  }
  const keys = await Promise.all(manifest.recipients.map((r) => readPublicKey(r.publicKey)));

  o.onStatus(t.tEncrypting);
  const plaintext = padToBucket(encodeTipDocument({ type: 'tip', message: o.message, fields: {}, lang: o.lang }));
  const ciphertext = await encryptToKeys(plaintext, keys);
  plaintext.fill(0);

  o.onStatus(t.tSending);
  const response = await request(
    '/api/v1/tips',
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ ciphertext: base64.encode(ciphertext) }) },
    t.tErrorNetwork,
  );
  if (!response.ok) throw new Error(fill(t.tErrorServer, await errorMessage(response)));
  return (await response.json()) as { receipt: string };
}

async function request(url: string, init: RequestInit, networkError: string | undefined): Promise<Response> {
  try {
    return await fetch(url, { ...init, credentials: 'same-origin', redirect: 'error' });
  } catch {
    throw new Error(networkError ?? 'network error');
  }
}

async function errorMessage(response: Response): Promise<string> {
  try {
    const body = (await response.json()) as { error?: { message?: string } };
    return body.error?.message ?? `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}
