import { describe, expect, it } from 'vitest';
import { MIN_BUCKET, PAD_BYTE, bucketFor, padToBucket } from '../crypto/padding.ts';
import { encodeTipDocument, decodeTipDocument, TipDocumentError } from '../crypto/tip-document.ts';

describe('padding', () => {
  it('puts everything up to 4 KiB in the smallest bucket', () => {
    expect(MIN_BUCKET).toBeGreaterThanOrEqual(4096);
    for (const n of [0, 1, 100, 4095, 4096]) expect(bucketFor(n)).toBe(4096);
  });

  it('doubles the bucket past each boundary', () => {
    expect(bucketFor(4097)).toBe(8192);
    expect(bucketFor(8192)).toBe(8192);
    expect(bucketFor(8193)).toBe(16384);
    expect(bucketFor(1_000_000)).toBe(1_048_576);
  });

  it('pads to exactly the bucket with spaces and keeps the content', () => {
    const content = new TextEncoder().encode('hello');
    const padded = padToBucket(content);
    expect(padded.length).toBe(4096);
    expect(padded.subarray(0, 5)).toEqual(content);
    expect(padded.subarray(5).every((b) => b === PAD_BYTE)).toBe(true);
  });

  it('gives tips of different lengths in one bucket the same padded size', () => {
    const a = padToBucket(encodeTipDocument({ type: 'tip', message: 'x', fields: {} }));
    const b = padToBucket(encodeTipDocument({ type: 'tip', message: 'y'.repeat(3000), fields: {} }));
    expect(a.length).toBe(b.length);
  });

  it('refuses bad lengths and non-bytes', () => {
    expect(() => bucketFor(-1)).toThrow(RangeError);
    expect(() => bucketFor(1.5)).toThrow(RangeError);
    expect(() => bucketFor(2 ** 31)).toThrow(RangeError);
    for (const bad of [null, undefined, 'text', [1, 2], {}, 5]) expect(() => padToBucket(bad as never)).toThrow(TypeError);
  });
});

describe('tip document', () => {
  it('round-trips through padding, including non-ASCII and newlines', () => {
    const doc = { type: 'tip' as const, message: '警察站 — café\nline two 🙂', fields: { city: 'Paris' }, lang: 'fr' };
    const decoded = decodeTipDocument(padToBucket(encodeTipDocument(doc)));
    expect(decoded).toEqual(doc);
  });

  it('puts the message in clear after one JSON header line, so gpg output is readable', () => {
    const text = new TextDecoder().decode(encodeTipDocument({ type: 'tip', message: 'Hello\nworld', fields: {} }));
    const [header, ...rest] = text.split('\n');
    expect(JSON.parse(header!)).toMatchObject({ tipline: 1, messageBytes: 11 });
    expect(rest.join('\n')).toBe('Hello\nworld\n');
  });

  it('refuses a wrong length, junk after the padding, and a bad header', () => {
    const good = padToBucket(encodeTipDocument({ type: 'tip', message: 'abc', fields: {} }));
    const junk = good.slice();
    junk[junk.length - 1] = 0x41;
    expect(() => decodeTipDocument(junk)).toThrow(TipDocumentError);
    const text = new TextDecoder().decode(encodeTipDocument({ type: 'tip', message: 'abc', fields: {} }));
    expect(() => decodeTipDocument(new TextEncoder().encode(text.replace('"messageBytes":3', '"messageBytes":9')))).toThrow(TipDocumentError);
    expect(() => decodeTipDocument(new TextEncoder().encode('not json\nabc\n'))).toThrow(TipDocumentError);
    expect(() => decodeTipDocument(new TextEncoder().encode('{"tipline":2,"type":"tip","fields":{},"messageBytes":0}\n\n'))).toThrow(/version/);
    expect(() => decodeTipDocument(new Uint8Array(10))).toThrow(TipDocumentError);
  });
});
