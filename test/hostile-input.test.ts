/**
 * Hostile input, property-based (fast-check): whatever a client sends to any
 * endpoint — junk bytes, JSON of any shape, lying headers, odd paths, packets
 * that only look like OpenPGP — the app answers with a 4xx at worst (never a
 * 5xx, never a throw), API errors keep the `{ "error": { "code", "message" } }`
 * shape, and every response carries the security headers.
 *
 * Proof of work is on (8 bits, cheap), so some runs solve real challenges to get
 * past it into the packet checks, the stores and the conversation code.
 * The journalist property stores reply boxes with junk inside (the server can
 * check only a box's shape); the source property after it logs in without
 * JavaScript, which opens every box in the thread.
 *
 * Runs are seeded. FC_SEED=n explores another seed, FC_SCALE=n multiplies the
 * runs, FC_DEBUG=1 prints every API error code.
 */
import fc from 'fast-check';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, concatBytes, hex, randomBytes, utf8 } from '../crypto/bytes.ts';
import { deriveCodenameKeys, generateCodename, parseCodename, threadIdOf } from '../crypto/codename.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import type { SignedManifest } from '../crypto/manifest.ts';
import { inspectEncryptedMessage } from '../crypto/packets.ts';
import { padToBucket } from '../crypto/padding.ts';
import { solveChallenge } from '../crypto/proof-of-work.ts';
import { sealReply } from '../crypto/reply-box.ts';
import { encodeTipDocument } from '../crypto/tip-document.ts';
import { CONTENT_SECURITY_POLICY } from '../server/http/security-headers.ts';
import { addTestJournalist, makeNewsroom, openTestApp, type TestApp, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';

const ONION = `${'a'.repeat(55)}d.onion`;
const SEED = Number(process.env.FC_SEED ?? 20_250_601);
/** FC_SCALE multiplies every run count, for longer hunts (the time limits scale with it). */
const SCALE = Number(process.env.FC_SCALE ?? 1);
const runs = (n: number, offset: number) => ({ numRuns: Math.ceil(n * SCALE), seed: SEED + offset });
const TIME_LIMIT = 60_000 * SCALE;

let newsroom: TestNewsroom;
let ana: TestJournalist;
let t: TestApp;
let manifestKeys: openpgp.PublicKey[];
/** The manifest's encryption subkey ids, as raw 8-byte key IDs. */
let keyIds: Uint8Array[];
let keyIdHex: string[];
/** A conversation that exists, so login, replies and follow-ups reach their real code. */
const codename = generateCodename('en');
const codenameKeys = deriveCodenameKeys(parseCodename(codename).entropy);
const lookupSecret = codenameKeys.lookupSecret;
const threadId = threadIdOf(lookupSecret);
const GOOD_REPLY = 'thanks, we are looking into it';
let validCiphertext: Uint8Array;
/** Tips the app accepted, for the re-keying endpoint. */
const storedTips: { id: string; ciphertext: Uint8Array }[] = [];

const stats = { requests: 0, unbuildable: 0, byStatus: new Map<number, number>(), label: 'setup', byLabel: new Map<string, Map<number, number>>() };
const prototypeNamesBefore = Object.getOwnPropertyNames(Object.prototype).sort();

// ---------------------------------------------------------------- the oracle

type Sent = { method: string; path: string; headers: Record<string, string>; body?: Uint8Array | string | undefined };

function build(r: Sent): Request | undefined {
  try {
    const hasBody = r.body !== undefined && r.method !== 'GET' && r.method !== 'HEAD';
    return new Request(`http://localhost${r.path}`, { method: r.method, headers: r.headers, ...(hasBody ? { body: r.body as BodyInit } : {}) });
  } catch {
    // Not a request any HTTP client could send (e.g. a header value the fetch spec forbids).
    stats.unbuildable++;
    return undefined;
  }
}

/** Sends one request and checks the properties every response must have. Returns the response and its body. */
async function send(r: Sent): Promise<{ res: Response; body: Uint8Array } | undefined> {
  const req = build(r);
  if (!req) return undefined;
  const pathname = new URL(req.url).pathname;
  let res: Response;
  try {
    res = await t.app.request(req);
  } catch (e) {
    throw new Error(`app.request threw ${(e as Error)?.name}: ${(e as Error)?.message} for ${r.method} ${pathname.slice(0, 200)}`);
  }
  stats.requests++;
  stats.byStatus.set(res.status, (stats.byStatus.get(res.status) ?? 0) + 1);
  const mine = stats.byLabel.get(stats.label) ?? new Map<number, number>();
  stats.byLabel.set(stats.label, mine.set(res.status, (mine.get(res.status) ?? 0) + 1));
  const body = new Uint8Array(await res.arrayBuffer());
  const where = `${r.method} ${pathname.slice(0, 200)} → ${res.status}`;
  expect(res.status, where).toBeGreaterThanOrEqual(100);
  expect(res.status, where).toBeLessThan(500);
  expect(res.headers.get('content-security-policy'), where).toBe(CONTENT_SECURITY_POLICY);
  expect(res.headers.get('x-content-type-options'), where).toBe('nosniff');
  // Never a link or a header that leads off site, whatever the path held (`/%5Cclone.onion/`, `//evil.example`, CRLF).
  expect(res.headers.get('onion-location') ?? '', where).toMatch(new RegExp(`^http://${ONION}/(?![/\\\\])[!-~]*$`));
  if ((res.headers.get('content-type') ?? '').startsWith('text/html')) {
    for (const [, link] of utf8.decode(body).matchAll(/\b(?:href|action|src)="([^"]*)"/g)) expect(link, where).toMatch(/^(?:#|\/(?![/\\]))/);
  }
  if (pathname.startsWith('/api/') && res.status >= 400 && r.method !== 'HEAD') {
    expect(res.headers.get('content-type') ?? '', where).toMatch(/^application\/json/);
    const parsed = JSON.parse(utf8.decode(body)) as { error?: { code?: unknown; message?: unknown } };
    if (process.env.FC_DEBUG) console.log(stats.label, res.status, parsed.error?.code, parsed.error?.message);
    expect(Object.keys(parsed), where).toEqual(['error']);
    expect(typeof parsed.error?.code, where).toBe('string');
    expect(typeof parsed.error?.message, where).toBe('string');
  }
  return { res, body };
}

const post = (path: string, body: unknown, headers: Record<string, string> = {}): Sent => ({
  method: 'POST',
  path,
  headers: { 'content-type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

async function freshPow(purpose: 'tip' | 'followup' | 'upload'): Promise<{ challenge: string; nonce: string }> {
  const out = await send(post('/api/v1/challenge', { purpose }));
  expect(out!.res.status).toBe(200);
  const { challenge } = JSON.parse(utf8.decode(out!.body)) as { challenge: string };
  return { challenge, nonce: await solveChallenge(challenge) };
}

async function sessionCookie(): Promise<string> {
  const out = await send(post('/api/v1/source/login', { lookupSecret: base64.encode(lookupSecret) }));
  expect(out!.res.status).toBe(200);
  return /tl_session=([^;]+)/.exec(out!.res.headers.get('set-cookie') ?? '')![1]!;
}

// ---------------------------------------------------------------- arbitraries

const HOSTILE_KEYS = [
  '__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__', 'then',
  'ciphertext', 'lookupSecret', 'pow', 'challenge', 'nonce', 'purpose', 'box', 'copy', 'message', 'codename', 'id', 'fields', 'type',
];

const byteChar = (min: number, max: number, skip: number[] = []) =>
  fc.integer({ min, max }).filter((c) => !skip.includes(c)).map((c) => String.fromCharCode(c));
/** Any value a Headers object accepts: Latin-1, no NUL/CR/LF. */
const headerValue = fc.string({ unit: byteChar(0x09, 0xff, [0x0a, 0x0b, 0x0c, 0x0d, ...Array.from({ length: 0x12 }, (_, i) => i + 0x0e)]), maxLength: 300 });
const tokenChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-_!#$%&\'*+.^`|~'.split(''));
const headerName = fc.string({ unit: tokenChar, minLength: 1, maxLength: 24 });
const boundary = fc.string({ unit: fc.constantFrom(...'abcXYZ019-_\'()+,./:=? "\\;'.split('')), minLength: 0, maxLength: 90 });
const base64urlId = fc.string({ unit: fc.constantFrom(...'ABCxyz019-_'.split('')), minLength: 22, maxLength: 22 });
const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => hex.encode(b));
const longString = fc.tuple(fc.constantFrom(1024, 8192, 70_000), fc.constantFrom('a', '%2e', 'é', '../', '%', '\u{1F642}')).map(([n, s]) => s.repeat(Math.ceil(n / s.length)));

const segment = fc.oneof(
  fc.constantFrom(
    '..', '%2e%2e', '%2E%2E', '.', '%2e', '..%2f..%2fetc%2fpasswd', '..%5c..%5c', '%2F', '%00', '%', '%zz', '%E0%A4%A', '%C0%AE%C0%AE',
    '%25', '%252e%252e', '\\..\\', 'é', '\u{1F642}', '\u202e', '\u0000', ';', '*', ':id', 'index.html', '%3F', '&', '=', ' ', '\t', '',
    'page.js', 'favicon.svg', 'chunks', '__proto__', 'constructor',
  ),
  fc.string({ unit: 'grapheme', maxLength: 30 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  base64urlId,
  hex64,
  longString,
);

const ROUTES = [
  '/', '/submit', '/login', '/inbox', '/inbox/reply', '/inbox/delete', '/logout', '/robots.txt',
  '/static/:s', '/static/page.js', '/static/favicon.svg', '/static/:s/:s',
  '/api/v1/manifest', '/api/v1/challenge', '/api/v1/tips', '/api/v1/source/login', '/api/v1/source/replies', '/api/v1/source/replies/:s',
  '/api/v1/source/followups', '/api/v1/source/logout', '/api/v1/source/thread',
  '/api/v1/journalist', '/api/v1/journalist/me', '/api/v1/journalist/tips', '/api/v1/journalist/tips/:s', '/api/v1/journalist/tips/:s/ciphertext', '/api/v1/journalist/tips/ciphertexts', '/api/v1/journalist/replies',
  '/api/v1/journalist/replies/:s', '/api/v1/journalist/threads/:s/replies', '/api/v1/journalist/threads/:s', '/api/v1/journalist/:s',
  '/api/v1/journalist/replies/:s/copy', '/api/v1/journalist/blobs/:s', '/api/v1/journalist/blobs/:s/head', '/api/v1/journalist/blobs/:s/key-packets',
  '/api/:s', '/api/v1/:s', '/:s', '/:s/:s/:s',
  // Paths that once gave a 500 (a decoded path in Onion-Location) or an off-site language link.
  '/%00', '/€', '/%ff', '//evil.example', '//evil.example/submit', '/%5Cclone.onion/', '/%5C%5Cclone.onion/', '/a%0d%0aX-Evil:%201', '/%0d%0aSet-Cookie:%20x=1', '/%E2%80%AE', '/%2F%2Fevil.example',
];

const query = fc.oneof(
  { arbitrary: fc.constant(''), weight: 3 },
  {
    arbitrary: fc
      .array(fc.tuple(fc.oneof(fc.constantFrom('lang', 'limit', 'cursor', '__proto__', 'lang[]'), segment), fc.oneof(fc.constantFrom('fr', 'zh-Hans', 'es', 'xx', '0', '-1', '1e3', '500', '501', 'NaN', '1.5', '2024-01-01.AAAAAAAAAAAAAAAAAAAAAA'), segment)), { maxLength: 4 })
      .map((pairs) => `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`),
    weight: 2,
  },
);

const path = fc
  .tuple(fc.constantFrom(...ROUTES), fc.array(segment, { minLength: 3, maxLength: 3 }), fc.constantFrom('', '', '', '/', '//', '/..', '/%2e%2e/x'), query)
  .map(([route, segs, tail, q]) => {
    let i = 0;
    return route.replace(/:s/g, () => segs[i++]!) + tail + q;
  });

/** Routes that exist, with their method, so junk reaches the handlers and not only the 404. */
const REAL_ROUTES: [string, string][] = [
  ['GET', '/'], ['GET', '/submit'], ['GET', '/login'], ['GET', '/inbox'], ['GET', '/robots.txt'], ['GET', '/static/page.js'], ['GET', '/static/favicon.svg'],
  ['POST', '/submit'], ['POST', '/login'], ['POST', '/inbox/reply'], ['POST', '/inbox/delete'], ['POST', '/logout'],
  ['GET', '/api/v1/manifest'], ['POST', '/api/v1/challenge'], ['POST', '/api/v1/tips'], ['POST', '/api/v1/source/login'], ['POST', '/api/v1/source/logout'],
  ['GET', '/api/v1/source/replies'], ['DELETE', '/api/v1/source/replies/:id'], ['POST', '/api/v1/source/followups'], ['GET', '/api/v1/source/thread'],
  ['GET', '/api/v1/journalist/me'], ['GET', '/api/v1/journalist/tips'], ['GET', '/api/v1/journalist/tips/:id'], ['DELETE', '/api/v1/journalist/tips/:id'], ['PUT', '/api/v1/journalist/tips/:id/ciphertext'], ['POST', '/api/v1/journalist/tips/ciphertexts'],
  ['GET', '/api/v1/journalist/replies'], ['GET', '/api/v1/journalist/replies/:id'], ['POST', '/api/v1/journalist/threads/:thread/replies'], ['DELETE', '/api/v1/journalist/threads/:thread'],
  ['PUT', '/api/v1/journalist/replies/:id/copy'], ['GET', '/api/v1/journalist/blobs/:id/head'], ['PUT', '/api/v1/journalist/blobs/:id/key-packets'],
];
const realRoute = fc
  .tuple(fc.constantFrom(...REAL_ROUTES), fc.oneof(base64urlId, segment), fc.oneof(hex64, segment), query)
  .map(([[m, route], id, thread, q]) => [m, route.replace(':id', id).replace(':thread', thread) + q] as const);

const method = fc.oneof(
  { arbitrary: fc.constantFrom('GET', 'POST', 'DELETE'), weight: 6 },
  { arbitrary: fc.constantFrom('PUT', 'PATCH', 'OPTIONS', 'HEAD'), weight: 1 },
);

// JSON written as text, so that "__proto__" stays a real key and numbers can be huge.
const jsonNumber = fc.oneof(
  fc.constantFrom('0', '-0', '1e308', '1e309', '-1e999', '5e-324', '1.7976931348623157e308', '123456789012345678901234567890', '9007199254740993', '0.1e-999999'),
  fc.integer({ min: 1, max: 5000 }).map((n) => '9'.repeat(n)),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((d) => JSON.stringify(d)),
);
const jsonKey = fc.oneof(fc.constantFrom(...HOSTILE_KEYS), fc.string({ unit: 'binary', maxLength: 12 })).map((k) => JSON.stringify(k));
const jsonLeaf = fc.oneof(
  jsonNumber,
  fc.constantFrom('true', 'false', 'null', '""'),
  fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.uint8Array({ maxLength: 64 }).map((b) => base64.encode(b)), longString).map((s) => JSON.stringify(s)),
);
const { value: jsonText } = fc.letrec<{ value: string; array: string; object: string }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, jsonLeaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }).map((items) => `[${items.join(',')}]`),
  object: fc.array(fc.tuple(jsonKey, tie('value')), { maxLength: 6 }).map((entries) => `{${entries.map(([k, v]) => `${k}:${v}`).join(',')}}`),
}));
const deepJson = fc
  .tuple(fc.constantFrom(64, 2000, 100_000), fc.constantFrom<[string, string]>(['[', ']'], ['{"a":', '}'], ['{"__proto__":', '}'], ['{"ciphertext":', '}']))
  .map(([n, [open, close]]) => `${open.repeat(n)}1${close.repeat(n)}`);
const anyJson = fc.oneof(jsonText, deepJson, fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null'));
/** JSON that is cut short or otherwise broken. */
const brokenJson = fc.tuple(anyJson, fc.nat()).map(([s, n]) => s.slice(0, n % Math.max(1, s.length)));

const b64field = fc.oneof(
  fc.uint8Array({ maxLength: 100 }).map((b) => base64.encode(b)),
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => base64.encode(b)),
  fc.constantFrom('', '=', '====', 'A', 'AA==', 'AAA=', '***', 'QUJD\n', ' QUJD', 'QUJD====', 'QU=D', '-_-_', 'A'.repeat(4096)),
  fc.string({ maxLength: 50 }),
);
const anyField = fc.oneof(b64field, fc.jsonValue({ maxDepth: 2 }));
/** Bodies shaped like the real ones, with junk in the fields. */
const shapedJson = fc
  .record(
    {
      ciphertext: anyField,
      lookupSecret: anyField,
      purpose: fc.oneof(fc.constantFrom('tip', 'followup', 'upload', 'TIP', '', '__proto__'), fc.jsonValue({ maxDepth: 1 })),
      pow: fc.oneof(fc.record({ challenge: fc.oneof(fc.string(), b64field), nonce: fc.oneof(fc.string({ maxLength: 40 }), fc.nat().map(String)) }, { requiredKeys: [] }), fc.jsonValue({ maxDepth: 1 })),
      box: anyField,
      copy: anyField,
      desk: fc.oneof(fc.string({ maxLength: 70 }), fc.constantFrom('', 'default', '__proto__'), fc.jsonValue({ maxDepth: 1 })),
      extra: fc.jsonValue({ maxDepth: 1 }),
    },
    { requiredKeys: [] },
  )
  .map((o) => JSON.stringify(o));

const formBody = fc
  .array(
    fc.tuple(
      fc.oneof(fc.constantFrom('message', 'codename', 'id', 'lang', 'desk', '__proto__', 'message[]'), fc.string({ maxLength: 10 })),
      fc.oneof(fc.string({ unit: 'binary', maxLength: 200 }), fc.constantFrom('%E0%A4%A', '%', '%zz', '+', '%00', '\r\n'), base64urlId),
    ),
    { maxLength: 4 },
  )
  .chain((pairs) =>
    fc.boolean().map((encode) => pairs.map(([k, v]) => (encode ? `${encodeURIComponent(k)}=${encodeURIComponent(v)}` : `${k}=${v}`)).join('&')),
  )
  .map((s) => s.replace(/[\uD800-\uDFFF]/g, '?'));

type Payload = { contentType?: string | undefined; body?: Uint8Array | string | undefined };

const multipart: fc.Arbitrary<Payload> = fc
  .record({
    declared: boundary,
    used: fc.option(boundary, { nil: undefined }),
    parts: fc.array(fc.record({ name: fc.constantFrom('message', 'codename', 'id', 'ciphertext', '__proto__', ''), value: fc.string({ maxLength: 200 }), file: fc.boolean() }), { maxLength: 3 }),
    closed: fc.boolean(),
  })
  .map(({ declared, used, parts, closed }) => {
    const b = used ?? declared;
    const text =
      parts
        .map((p) => `--${b}\r\nContent-Disposition: form-data; name="${p.name}"${p.file ? '; filename="../../x"' : ''}\r\n\r\n${p.value}\r\n`)
        .join('') + (closed ? `--${b}--\r\n` : '');
    return { contentType: `multipart/form-data; boundary=${declared}`, body: text };
  });

const payload: fc.Arbitrary<Payload> = fc.oneof(
  fc.constant<Payload>({}),
  fc.uint8Array({ maxLength: 3000 }).map((body) => ({ body })),
  fc.string({ unit: 'binary', maxLength: 500 }).map((body) => ({ contentType: 'text/plain', body })),
  anyJson.map((body) => ({ contentType: 'application/json', body })),
  brokenJson.map((body) => ({ contentType: 'application/json', body })),
  shapedJson.map((body) => ({ contentType: 'application/json', body })),
  formBody.map((body) => ({ contentType: 'application/x-www-form-urlencoded', body })),
  multipart,
  // Bodies around the size limits (the tip limit is 2 MiB of ciphertext, about 2.7 MiB of JSON).
  fc.constantFrom(1025, 5000, 3 * 1024 * 1024).map((n) => ({ contentType: 'application/json', body: `{"ciphertext":"${'A'.repeat(n)}"}` })),
);

const contentType = fc.oneof(
  fc.constantFrom(
    'application/json', 'application/json; charset=utf-8', 'Application/JSON', 'application/json;charset=utf-16', 'application/jsonp', 'application/json-patch+json',
    'text/json', 'text/plain', 'text/html', 'application/x-www-form-urlencoded', 'application/x-www-form-urlencoded; charset=iso-8859-1',
    'multipart/form-data', 'multipart/form-data; boundary=', 'application/octet-stream', '*/*', ';', 'application/json, text/plain', ' application/json',
  ),
  boundary.map((b) => `multipart/form-data; boundary=${b}`),
  headerValue,
);

const contentLength = fc.oneof(
  fc.constantFrom('0', '1', '-1', 'abc', '1e3', '1e100', '99999999999999999999999', '  5', '18446744073709551616', 'NaN', 'Infinity', '0x10', '5, 5', ''),
  fc.nat().map(String),
);

const cookie = fc.oneof(
  headerValue,
  fc.oneof(headerValue, base64urlId, fc.constantFrom('%', '%zz', '%E0%A4%A', '""', '"a', 'a;b', '')).map((v) => `tl_session=${v}`),
  fc.array(fc.tuple(fc.oneof(fc.constantFrom('tl_session', '__proto__', 'constructor', ''), headerName), headerValue), { maxLength: 6 }).map((cs) => cs.map(([k, v]) => `${k}=${v}`).join('; ')),
  longString.map((s) => `tl_session=${encodeURIComponent(s)}`),
);

const VALID_TOKEN = Symbol('valid token');
const authorization = fc.oneof(
  fc.constant(VALID_TOKEN),
  headerValue.map((v) => `Bearer ${v}`),
  fc.tuple(base64urlId, headerValue).map(([id, s]) => `Bearer tl_${id}_${s}`),
  fc.constantFrom('Bearer', 'Bearer ', 'Basic YTpi', 'bearer tl_x', 'Bearer  x', 'Bearer a b'),
  headerValue,
);

type HeaderSpec = {
  contentType?: string | undefined;
  contentLength?: string | undefined;
  cookie?: string | undefined;
  authorization?: string | typeof VALID_TOKEN | undefined;
  acceptLanguage?: string | undefined;
  extra: Record<string, string>;
};
const headers: fc.Arbitrary<HeaderSpec> = fc.record({
  contentType: fc.option(contentType, { nil: undefined, freq: 2 }),
  contentLength: fc.option(contentLength, { nil: undefined, freq: 2 }),
  cookie: fc.option(cookie, { nil: undefined, freq: 2 }),
  authorization: fc.option(authorization, { nil: undefined, freq: 2 }),
  acceptLanguage: fc.option(fc.oneof(headerValue, fc.constantFrom('fr', 'zh-Hant', '*;q=0.5', 'en;q=abc', 'xx-YY,zz;q=2', 'es;q=1e999')), { nil: undefined, freq: 2 }),
  extra: fc.dictionary(headerName, headerValue, { maxKeys: 3 }),
});

function headerObject(h: HeaderSpec, p: Payload): Record<string, string> {
  const out: Record<string, string> = { ...h.extra };
  const type = h.contentType ?? p.contentType;
  if (type !== undefined) out['content-type'] = type;
  if (h.contentLength !== undefined) out['content-length'] = h.contentLength;
  if (h.cookie !== undefined) out.cookie = h.cookie;
  if (h.authorization !== undefined) out.authorization = h.authorization === VALID_TOKEN ? `Bearer ${ana.token}` : h.authorization;
  if (h.acceptLanguage !== undefined) out['accept-language'] = h.acceptLanguage;
  return out;
}

/** A string body with a content type of its own keeps it; bytes are sent as bytes. */
function bodyOf(p: Payload): Uint8Array | string | undefined {
  return typeof p.body === 'string' ? utf8.encode(p.body) : p.body;
}

// OpenPGP-like packets: random tags and length headers (true or lying), then random bytes.
function newLength(kind: number, n: number): number[] {
  if (kind === 0) return [n % 192];
  if (kind === 1) {
    // Two octets hold 192…8383: ((first - 192) << 8) + second + 192.
    const m = Math.max(0, (n % 8384) - 192);
    return [(m >> 8) + 192, m & 0xff];
  }
  if (kind === 2) return [255, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
  return [224 + (n % 31)]; // a partial length
}
const randomPacket = fc
  .record({
    old: fc.boolean(),
    tag: fc.integer({ min: 0, max: 63 }),
    lengthKind: fc.integer({ min: 0, max: 3 }),
    declared: fc.oneof(fc.integer({ min: 0, max: 600 }), fc.nat()),
    honest: fc.boolean(),
    body: fc.uint8Array({ maxLength: 700 }),
  })
  .map(({ old, tag, lengthKind, declared, honest, body }) => {
    const length = honest ? body.length : declared;
    let header: number[];
    if (old) {
      const size = [1, 2, 4, 0][lengthKind]!;
      header = [0x80 | ((tag & 0x0f) << 2) | lengthKind];
      for (let i = size - 1; i >= 0; i--) header.push(Math.floor(length / 256 ** i) % 256);
    } else {
      header = [0xc0 | tag, ...newLength(honest && length < 192 ? 0 : honest && length < 8384 ? 1 : honest ? 2 : lengthKind, length)];
    }
    return concatBytes(new Uint8Array(header), body);
  });
/** A version 3 PKESK packet, with a manifest key id or a random one, then junk. */
const pkesk = fc
  .record({ real: fc.nat(), useReal: fc.boolean(), randomId: fc.uint8Array({ minLength: 8, maxLength: 8 }), algo: fc.integer({ min: 0, max: 255 }), junk: fc.uint8Array({ maxLength: 300 }) })
  .map(({ real, useReal, randomId, algo, junk }) => {
    const body = concatBytes(new Uint8Array([3]), useReal ? keyIds[real % keyIds.length]! : randomId, new Uint8Array([algo]), junk);
    return concatBytes(new Uint8Array([0xc1, ...newLength(body.length < 192 ? 0 : 1, body.length)]), body);
  });
/** A SEIPD v1 packet (or another version) with junk inside. */
const seipd = fc.record({ version: fc.oneof(fc.constant(1), fc.integer({ min: 0, max: 255 })), junk: fc.uint8Array({ maxLength: 800 }) }).map(({ version, junk }) => {
  const body = concatBytes(new Uint8Array([version]), junk);
  return concatBytes(new Uint8Array([0xd2, ...newLength(body.length < 192 ? 0 : 1, body.length)]), body);
});
/** A real ciphertext, damaged: truncated, extended or with bytes flipped. */
const damaged = fc
  .record({ cut: fc.nat(), flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { maxLength: 4 }), tail: fc.uint8Array({ maxLength: 40 }) })
  .map(({ cut, flips, tail }) => {
    const bytes = validCiphertext.slice(0, validCiphertext.length - (cut % 64));
    for (const [at, x] of flips) bytes[at % bytes.length]! ^= x;
    return concatBytes(bytes, tail);
  });
/** Version 3 PKESK packets naming exactly the manifest keys (in either order), with junk for the session key. */
const exactKeyPackets = fc.record({ order: fc.boolean(), algo: fc.integer({ min: 0, max: 255 }), junk: fc.uint8Array({ minLength: 2, maxLength: 200 }) }).map(({ order, algo, junk }) =>
  concatBytes(
    ...(order ? keyIds : [...keyIds].reverse()).map((id) => {
      const body = concatBytes(new Uint8Array([3]), id, new Uint8Array([algo]), junk);
      return concatBytes(new Uint8Array([0xc1, ...newLength(body.length < 192 ? 0 : 1, body.length)]), body);
    }),
  ),
);
/** Well framed and to exactly the manifest keys, with junk for the encrypted data. */
const exactKeys = fc.tuple(exactKeyPackets, fc.uint8Array({ minLength: 40, maxLength: 600 })).map(([keys, data]) => {
  const body = concatBytes(new Uint8Array([1]), data);
  return concatBytes(keys, new Uint8Array([0xd2, ...newLength(body.length < 192 ? 0 : 1, body.length)]), body);
});
const packets = fc.oneof(
  { arbitrary: exactKeys, weight: 2 },
  { arbitrary: fc.array(fc.oneof(randomPacket, pkesk, seipd), { maxLength: 6 }).map((ps) => concatBytes(...ps)), weight: 2 },
  { arbitrary: fc.tuple(fc.array(pkesk, { minLength: 1, maxLength: 3 }), seipd, fc.array(randomPacket, { maxLength: 1 })).map(([ks, d, rest]) => concatBytes(...ks, d, ...rest)), weight: 1 },
  { arbitrary: damaged, weight: 1 },
  { arbitrary: fc.uint8Array({ maxLength: 2000 }), weight: 1 },
);

/** How the proof of work is presented: solved, missing, junk, replayed, or for another purpose. */
const powMode = fc.constantFrom('solved', 'solved', 'solved', 'none', 'junk', 'replayed', 'wrong-purpose');
const spent: { purpose: string; pow: { challenge: string; nonce: string } }[] = [];
async function powFor(mode: string, purpose: 'tip' | 'followup'): Promise<unknown> {
  if (mode === 'none') return undefined;
  if (mode === 'junk') return { challenge: `${base64.encode(randomBytes(20))}.x`, nonce: '1' };
  const earlier = spent.find((p) => p.purpose === purpose);
  if (mode === 'replayed' && earlier) return earlier.pow;
  if (mode === 'wrong-purpose') return freshPow(purpose === 'tip' ? 'followup' : 'tip');
  const pow = await freshPow(purpose);
  // Kept to be replayed later (the first one of each purpose, once it has been spent).
  if (!spent.some((p) => p.purpose === purpose)) spent.push({ purpose, pow });
  return pow;
}

/** A 201 for a browser-encrypted body is allowed only for a well-formed message to exactly the manifest's keys. */
function expectAcceptable(bytes: Uint8Array): void {
  const inspected = inspectEncryptedMessage(bytes);
  expect([...inspected.recipientKeyIds].sort()).toEqual([...keyIdHex].sort());
}

// ---------------------------------------------------------------- setup

beforeAll(async () => {
  newsroom = await makeNewsroom();
  ana = await addTestJournalist(newsroom, 'Ana');
  await addTestJournalist(newsroom, 'Bo');
  // With an onion address, so that every response also builds Onion-Location from its path.
  // Every source run logs in again (a new session each time), far above the 10 logins an hour a conversation gets.
  t = await openTestApp(newsroom, { pow: { baseDifficulty: 8 }, onion: ONION, limits: { maxLoginsPerThreadPerHour: 100_000 } });
  const signed = JSON.parse(utf8.decode((await send({ method: 'GET', path: '/api/v1/manifest', headers: {} }))!.body)) as SignedManifest;
  manifestKeys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
  keyIds = await Promise.all(manifestKeys.map(async (k) => hex.decode((await k.getEncryptionKey()).getKeyID().toHex())));
  keyIdHex = keyIds.map((k) => hex.encode(k));
  validCiphertext = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: 'the real thing', fields: {} })), manifestKeys);

  // Open the conversation the session properties use, with one reply waiting in it.
  const opened = await send(post('/api/v1/tips', { ciphertext: base64.encode(validCiphertext), lookupSecret: base64.encode(lookupSecret), pow: await freshPow('tip') }));
  expect(opened!.res.status).toBe(201);
  storedTips.push({ id: (JSON.parse(utf8.decode(opened!.body)) as { receipt: string }).receipt, ciphertext: validCiphertext });
  const padded = padToBucket(encodeTipDocument({ type: 'reply', message: GOOD_REPLY, fields: {} }));
  const replied = await send(
    post(`/api/v1/journalist/threads/${threadId}/replies`, { box: base64.encode(sealReply(padded, codenameKeys.replyPublicKey)), copy: base64.encode(await encryptToKeys(padded, manifestKeys)) }, { authorization: `Bearer ${ana.token}` }),
  );
  expect(replied!.res.status).toBe(201);
}, 60_000);

afterAll(async () => {
  await t?.close();
  await newsroom?.cleanup();
});

// ---------------------------------------------------------------- properties

describe('hostile input never gets a 5xx, a throw, or a response without the security headers', () => {
  it('any method, path, headers and body on any endpoint', async () => {
    stats.label = 'any';
    await fc.assert(
      fc.asyncProperty(fc.oneof({ arbitrary: realRoute, weight: 3 }, { arbitrary: fc.tuple(method, path), weight: 2 }), headers, payload, async ([m, p], h, body) => {
        await send({ method: m, path: p, headers: headerObject(h, body), body: bodyOf(body) });
      }),
      runs(260, 0),
    );
  }, TIME_LIMIT);

  it('tips with a real proof of work and OpenPGP-like packets: stored only if well formed and to exactly the manifest keys', async () => {
    stats.label = 'tips';
    await fc.assert(
      fc.asyncProperty(packets, powMode, fc.oneof({ arbitrary: fc.constant('fresh'), weight: 4 }, fc.constant('taken'), b64field), async (ciphertext, mode, secret) => {
        const lookup = secret === 'fresh' ? base64.encode(randomBytes(32)) : secret === 'taken' ? base64.encode(lookupSecret) : secret;
        const out = await send(post('/api/v1/tips', { ciphertext: base64.encode(ciphertext), lookupSecret: lookup, pow: await powFor(mode, 'tip') }));
        if (out?.res.status === 201) {
          expectAcceptable(ciphertext);
          const { receipt } = JSON.parse(utf8.decode(out.body)) as { receipt: string };
          const stored = await send({ method: 'GET', path: `/api/v1/journalist/tips/${receipt}`, headers: { authorization: `Bearer ${ana.token}` } });
          expect(stored!.res.status).toBe(200);
          expect(hex.encode(stored!.body)).toBe(hex.encode(ciphertext));
          storedTips.push({ id: receipt, ciphertext });
        }
      }),
      runs(70, 1),
    );
  }, TIME_LIMIT);

  it('a journalist with a valid token: listing, fetching and replying with junk', async () => {
    stats.label = 'journalist';
    const auth = { authorization: `Bearer ${ana.token}` };
    const journalistRequest = fc.oneof(
      fc.tuple(fc.constantFrom('tips', 'replies', 'blobs'), query, fc.oneof(fc.constant(''), segment), fc.constantFrom('', '', '/head', '/copy')).map(([what, q, id, sub]) => ({
        kind: 'get' as const,
        method: 'GET',
        path: `/api/v1/journalist/${what}${id ? `/${id}${sub}` : ''}${q}`,
        payload: {} as Payload,
      })),
      fc.record({
        thread: fc.oneof({ arbitrary: fc.constant(threadId), weight: 3 }, hex64, segment),
        box: fc.oneof(
          { arbitrary: fc.uint8Array({ minLength: 72, maxLength: 300 }).map((b) => base64.encode(concatBytes(new Uint8Array([1]), b))), weight: 3 },
          fc.uint8Array({ maxLength: 80 }).map((b) => base64.encode(concatBytes(new Uint8Array([1]), b))),
          b64field,
        ),
        copy: fc.oneof({ arbitrary: packets.map((b) => base64.encode(b)), weight: 3 }, b64field),
        raw: fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, payload),
      }).map(({ thread, box, copy, raw }) => ({
        kind: 'reply' as const,
        method: 'POST',
        path: `/api/v1/journalist/threads/${thread}/replies`,
        payload: raw ?? { contentType: 'application/json', body: JSON.stringify({ box, copy }) },
      })),
      // Re-keying a stored tip: new key packets in front of its very own data packet, or anything else.
      fc.record({
        which: fc.nat(),
        randomId: fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, base64urlId, segment),
        keys: fc.oneof(exactKeyPackets, fc.array(fc.oneof(pkesk, randomPacket), { maxLength: 3 }).map((ps) => concatBytes(...ps))),
        data: fc.constantFrom('same', 'same', 'same', 'other', 'none'),
        other: packets,
        raw: fc.oneof({ arbitrary: fc.constant(undefined), weight: 4 }, payload),
      }).map(({ which, randomId, keys, data, other, raw }) => ({ kind: 'rekey' as const, which, randomId, keys, data, other, raw })),
    );
    await fc.assert(
      fc.asyncProperty(journalistRequest, async (spec) => {
        let r: { method: string; path: string; payload: Payload; kind: string };
        let rekeyed: Uint8Array | undefined;
        let tip: { id: string; ciphertext: Uint8Array } | undefined;
        if (spec.kind === 'rekey') {
          tip = storedTips[spec.which % storedTips.length]!;
          const { dataPacket } = inspectEncryptedMessage(tip.ciphertext);
          rekeyed =
            spec.data === 'same' ? concatBytes(spec.keys, tip.ciphertext.subarray(dataPacket.start, dataPacket.end))
            : spec.data === 'other' ? spec.other
            : spec.keys;
          r = {
            kind: 'rekey',
            method: 'PUT',
            path: `/api/v1/journalist/tips/${spec.randomId ?? tip.id}/ciphertext`,
            payload: spec.raw ?? { contentType: 'application/json', body: JSON.stringify({ ciphertext: base64.encode(rekeyed) }) },
          };
        } else r = spec;
        const p = r.payload;
        const out = await send({ method: r.method, path: r.path, headers: { ...(p.contentType ? { 'content-type': p.contentType } : {}), ...auth }, body: bodyOf(p) });
        if (r.kind === 'reply' && out?.res.status === 201) {
          const { copy } = JSON.parse(utf8.decode(bodyOf(p) as Uint8Array)) as { copy: string };
          expectAcceptable(base64.decode(copy));
        }
        if (r.kind === 'rekey' && out?.res.status === 200) {
          // Only the key packets changed, and they name exactly the manifest keys.
          const sent = bodyOf(p) as Uint8Array;
          const accepted = base64.decode((JSON.parse(utf8.decode(sent)) as { ciphertext: string }).ciphertext);
          expectAcceptable(accepted);
          const span = (m: Uint8Array) => inspectEncryptedMessage(m).dataPacket;
          const before = tip!.ciphertext.subarray(span(tip!.ciphertext).start, span(tip!.ciphertext).end);
          expect(hex.encode(accepted.subarray(span(accepted).start, span(accepted).end))).toBe(hex.encode(before));
          tip!.ciphertext = accepted;
        }
      }),
      runs(80, 3),
    );
  }, TIME_LIMIT);

  it('a logged-in source: replies, follow-ups and the no-JavaScript inbox with junk', async () => {
    stats.label = 'source';
    const sessionRequest = fc.oneof(
      fc.tuple(packets, powMode).map(([c, mode]) => ({ kind: 'followup' as const, ciphertext: c, mode })),
      fc.record({ kind: fc.constant('page' as const), method, path: fc.constantFrom('/inbox', '/inbox/reply', '/inbox/delete', '/api/v1/source/replies', '/api/v1/source/followups', '/login'), body: formBody }),
      fc.record({ kind: fc.constant('delete' as const), id: fc.oneof(base64urlId, segment) }),
      // The no-JavaScript login opens every reply in the thread, including the junk boxes the journalist property stored.
      fc.record({
        kind: fc.constant('nojs-login' as const),
        mangle: fc.constantFrom('none', 'none', 'upper', 'spaces', 'drop-word', 'swap-words', 'junk-word'),
        lang: fc.constantFrom('', '?lang=fr', '?lang=zh-Hans', '?lang=xx'),
      }),
    );
    await fc.assert(
      fc.asyncProperty(sessionRequest, fc.option(cookie, { nil: undefined }), async (r, junkCookie) => {
        const session = await sessionCookie();
        const cookies = { cookie: junkCookie ? `${junkCookie}; tl_session=${session}` : `tl_session=${session}` };
        if (r.kind === 'followup') {
          const out = await send(post('/api/v1/source/followups', { ciphertext: base64.encode(r.ciphertext), pow: await powFor(r.mode, 'followup') }, cookies));
          if (out?.res.status === 201) expectAcceptable(r.ciphertext);
        } else if (r.kind === 'page') {
          await send({ method: r.method, path: r.path, headers: { 'content-type': 'application/x-www-form-urlencoded', ...cookies }, body: r.body });
        } else if (r.kind === 'nojs-login') {
          const words = codename.split(' ');
          const typed =
            r.mangle === 'upper' ? codename.toUpperCase()
            : r.mangle === 'spaces' ? `  ${words.join('   ')}\t`
            : r.mangle === 'drop-word' ? words.slice(1).join(' ')
            : r.mangle === 'swap-words' ? [words[1], words[0], ...words.slice(2)].join(' ')
            : r.mangle === 'junk-word' ? [...words.slice(0, 11), 'zzzz'].join(' ')
            : codename;
          const out = await send({ method: 'POST', path: `/login${r.lang}`, headers: { 'content-type': 'application/x-www-form-urlencoded', ...cookies }, body: `codename=${encodeURIComponent(typed)}` });
          if (r.mangle === 'none' || r.mangle === 'upper' || r.mangle === 'spaces') {
            expect(out!.res.status).toBe(200);
            expect(utf8.decode(out!.body)).toContain(GOOD_REPLY);
          }
        } else {
          await send({ method: 'DELETE', path: `/api/v1/source/replies/${r.id}`, headers: cookies });
        }
      }),
      runs(50, 2),
    );
  }, TIME_LIMIT);

  it('left no prototype polluted and memory bounded', () => {
    expect(Object.getOwnPropertyNames(Object.prototype).sort()).toEqual(prototypeNamesBefore);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const heapUsed = process.memoryUsage().heapUsed;
    const tally = (m: Map<number, number>) => [...m].sort(([a], [b]) => a - b).map(([s, n]) => `${s}×${n}`).join(' ');
    const statuses = [...stats.byLabel].map(([label, m]) => `${label}: ${tally(m)}`).join('; ');
    console.log(
      `[hostile-input] seed ${SEED}: ${stats.requests} requests (${stats.unbuildable} not buildable as a Request); statuses ${statuses}; ` +
        `heapUsed ${(heapUsed / 2 ** 20).toFixed(1)} MiB`,
    );
    expect(stats.requests).toBeGreaterThan(400);
    expect(heapUsed).toBeLessThan(2 ** 30);
  });
});
