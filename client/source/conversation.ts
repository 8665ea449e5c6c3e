/**
 * The crypto half of the source's conversation page, loaded lazily: read the
 * codename, derive its keys in the browser, log in with only the lookup
 * secret, and open replies here, so the server never sees the codename or a
 * reply's text.
 */
import { base64, wipe } from '../../crypto/bytes.ts';
import { CodenameError, deriveCodenameKeys, parseCodename, type CodenameKeys } from '../../crypto/codename.ts';
import { openReply } from '../../crypto/reply-box.ts';
import { decodeTipDocument } from '../../crypto/tip-document.ts';
import { errorMessage, request } from './send-tip.ts';

export { sendFollowup } from './send-tip.ts';

export type OpenedReply = { id: string; day: string; text: string } | { id: string; day: string; error: string };

type Strings = Record<string, string | undefined>;

const CODENAME_ERRORS: Record<CodenameError['code'], string> = {
  length: 'tErrorLength',
  'unknown-word': 'tErrorUnknownWord',
  checksum: 'tErrorChecksum',
};

/** Logs in and returns the opened replies. Throws an Error with a message for the source. */
export async function logInAndRead(codename: string, lang: string, t: Strings): Promise<OpenedReply[]> {
  let keys: CodenameKeys;
  try {
    keys = deriveCodenameKeys(parseCodename(codename, lang).entropy);
  } catch (e) {
    if (e instanceof CodenameError) throw new Error(t[CODENAME_ERRORS[e.code]] ?? e.message);
    throw e;
  }
  try {
    const login = await request(
      '/api/v1/source/login',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ lookupSecret: base64.encode(keys.lookupSecret) }) },
      t.tErrorNetwork,
    );
    if (login.status === 401) throw new Error(t.tErrorUnknown);
    if (!login.ok) throw new Error(await errorMessage(login));
    const res = await request('/api/v1/source/replies', { cache: 'no-store' }, t.tErrorNetwork);
    if (!res.ok) throw new Error(await errorMessage(res));
    const { replies } = (await res.json()) as { replies: { id: string; day: string; box: string }[] };
    return replies.map((r) => {
      try {
        const plain = openReply(base64.decode(r.box), keys.replySecretKey);
        const text = decodeTipDocument(plain).message;
        wipe(plain);
        return { id: r.id, day: r.day, text };
      } catch (e) {
        return { id: r.id, day: r.day, error: (t.tErrorDecrypt ?? '{reason}').replace('{reason}', (e as Error).message) };
      }
    });
  } finally {
    wipe(keys.lookupSecret, keys.replySecretKey);
  }
}

export async function deleteReply(id: string, t: Strings): Promise<void> {
  const res = await request(`/api/v1/source/replies/${encodeURIComponent(id)}`, { method: 'DELETE' }, t.tErrorNetwork);
  if (!res.ok) throw new Error(await errorMessage(res));
}
