/**
 * Times what a source's browser does at login (read the codename, derive its
 * keys, open a reply) as a standalone script, so it can run under
 * `node --jitless`, a fair stand-in for Tor Browser at "Safer", where the JIT
 * is off. Prints one JSON line: { ok, runs, medianMs, jitless }.
 *
 *   node --jitless dist/login-timing.js
 */
import { hex } from '../crypto/bytes.ts';
import { deriveCodenameKeys, generateCodename, parseCodename } from '../crypto/codename.ts';
import { padToBucket } from '../crypto/padding.ts';
import { openReply, sealReply } from '../crypto/reply-box.ts';
import { decodeTipDocument, encodeTipDocument } from '../crypto/tip-document.ts';

const runs = Number(process.argv[2] ?? 5);
const codename = generateCodename('fr');
const text = 'Merci pour votre message. Pouvez-vous préciser la date ?';
const replyPublicKey = deriveCodenameKeys(parseCodename(codename).entropy).replyPublicKey;
const box = sealReply(padToBucket(encodeTipDocument({ type: 'reply', message: text, fields: {} })), replyPublicKey);

const times: number[] = [];
let ok = true;
for (let i = 0; i < runs; i++) {
  const started = performance.now();
  const keys = deriveCodenameKeys(parseCodename(codename.toUpperCase()).entropy);
  const opened = decodeTipDocument(openReply(box, keys.replySecretKey)).message;
  times.push(performance.now() - started);
  ok &&= opened === text && hex.encode(keys.replyPublicKey) === hex.encode(replyPublicKey);
}
times.sort((a, b) => a - b);
const jitless = process.execArgv.includes('--jitless');
console.log(JSON.stringify({ ok, runs, medianMs: Math.round(times[Math.floor(times.length / 2)]! * 10) / 10, jitless }));
