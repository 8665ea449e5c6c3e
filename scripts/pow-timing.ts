/**
 * Times the source's proof-of-work solver (crypto/proof-of-work.ts, the code
 * the browser runs) as a standalone script, so it can run under
 * `node --jitless`, the stand-in for Tor Browser at "Safer". The solver hashes
 * with WebCrypto, which stays native without the JIT; what the JIT changes is
 * the JavaScript around each hash. A solve takes a random number of hashes, so
 * timing whole solves is noisy: this measures the solver's hash rate on a
 * challenge too hard to finish, stopped after a fixed number of hashes, and
 * turns it into the expected time to solve at the server's default difficulty.
 * Prints one JSON line: { ok, hashes, hashesPerSecond, difficulty, expectedMs, jitless }.
 *
 *   node --jitless dist/pow-timing.js [hashes]
 */
import { randomBytes } from '../crypto/bytes.ts';
import { MAX_DIFFICULTY, issueChallenge, solveChallenge } from '../crypto/proof-of-work.ts';
import { DEFAULT_POW } from '../server/abuse/pow-guard.ts';

const hashes = Number(process.argv[2] ?? 65_536);
// No nonce meets 32 zero bits in practice within `hashes` tries, so the solver runs until stopped.
const unsolvable = issueChallenge(randomBytes(32), { key: 'timing', purpose: 'tip', difficulty: MAX_DIFFICULTY, ttlSeconds: 600, now: new Date() });
const stop = new AbortController();
let tried = 0;
const started = performance.now();
let ok = false;
try {
  await solveChallenge(unsolvable, {
    signal: stop.signal,
    onProgress: (n) => {
      tried = n;
      if (n >= hashes) stop.abort();
    },
  });
} catch (e) {
  ok = e instanceof DOMException && e.name === 'AbortError';
}
const seconds = (performance.now() - started) / 1000;
const hashesPerSecond = tried / seconds;
const difficulty = DEFAULT_POW.baseDifficulty;
console.log(
  JSON.stringify({
    ok: ok && tried >= hashes,
    hashes: tried,
    hashesPerSecond: Math.round(hashesPerSecond),
    difficulty,
    expectedMs: Math.round((2 ** difficulty / hashesPerSecond) * 1000),
    jitless: process.execArgv.includes('--jitless'),
  }),
);
