import { sha256 } from '@noble/hashes/sha2.js';
import { encryptFileStream } from '/work/main/crypto/file-envelope.ts';
import * as openpgp from 'openpgp';
(window as any).bench = async (armored: string) => {
  const out: string[] = [];
  const data = new Uint8Array(20 * 1024 * 1024); crypto.getRandomValues(data.subarray(0, 65536));
  const blob = new Blob([data]);
  let t = performance.now();
  const h = sha256.create(); for (let i = 0; i < data.length; i += 65536) h.update(data.subarray(i, i + 65536)); h.digest();
  out.push(`noble sha256 20MiB ${(performance.now() - t).toFixed(0)} ms`);
  const key = await openpgp.readKey({ armoredKey: armored });
  t = performance.now();
  let n = 0; const r = (await encryptFileStream(blob.stream(), [key as any])).getReader();
  let chunks = 0; for (;;) { const { done, value } = await r.read(); if (done) break; n += value.length; chunks++; }
  out.push(`encrypt stream 20MiB ${(performance.now() - t).toFixed(0)} ms, ${chunks} chunks`);
  t = performance.now();
  const r2 = blob.stream().getReader(); let c2 = 0; for (;;) { const { done, value } = await r2.read(); if (done) break; c2++; }
  out.push(`blob.stream read ${(performance.now() - t).toFixed(0)} ms ${c2} chunks`);
  t = performance.now();
  const msg = await openpgp.createMessage({ binary: data });
  await openpgp.encrypt({ message: msg, encryptionKeys: key, format: 'binary', config: { aeadProtect: false } });
  out.push(`encrypt buffer 20MiB ${(performance.now() - t).toFixed(0)} ms`);
  return out.join('\n');
};
