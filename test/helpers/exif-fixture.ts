/**
 * Photos with hidden information, built byte by byte, for tests of what the
 * browser strips and what the journalist's tool still finds: an EXIF block
 * naming an author and a GPS position (48°51'30" N, 2°17'40" E), which exifr
 * reads like a camera's.
 *
 * @example
 * const jpeg = new Uint8Array([0xff, 0xd8, ...exifSegment(), ...rest]);
 * startOfScan(jpeg); // where the image data begins
 */
/**
 * An EXIF block (big-endian TIFF) with an Artist and a GPS position, built by
 * hand: IFD0 holds Artist and the pointer to the GPS IFD, which holds
 * GPSLatitudeRef/GPSLatitude and GPSLongitudeRef/GPSLongitude as rationals.
 * `ifd0` moves IFD0 further from the TIFF header (any offset is valid TIFF).
 */
export function exifSegment(ifd0 = 8): Uint8Array {
  const artist = 'Jane Source\0';
  const ifd0Size = 2 + 2 * 12 + 4;
  const artistAt = ifd0 + ifd0Size;
  const gpsIfd = artistAt + artist.length;
  const gpsSize = 2 + 4 * 12 + 4;
  const latAt = gpsIfd + gpsSize;
  const lonAt = latAt + 24;
  const tiff = new DataView(new ArrayBuffer(lonAt + 24));
  const bytes = new Uint8Array(tiff.buffer);
  bytes.set([0x4d, 0x4d, 0x00, 0x2a]);
  tiff.setUint32(4, ifd0);
  const entry = (at: number, tag: number, type: number, count: number, value: number | string) => {
    tiff.setUint16(at, tag);
    tiff.setUint16(at + 2, type);
    tiff.setUint32(at + 4, count);
    if (typeof value === 'string') bytes.set([...value].map((c) => c.charCodeAt(0)), at + 8);
    else tiff.setUint32(at + 8, value);
  };
  tiff.setUint16(ifd0, 2);
  entry(ifd0 + 2, 0x013b, 2, artist.length, artistAt); // Artist (ASCII, stored after the IFD)
  entry(ifd0 + 14, 0x8825, 4, 1, gpsIfd); // GPSInfo → the GPS IFD
  tiff.setUint32(ifd0 + 26, 0);
  bytes.set([...artist].map((c) => c.charCodeAt(0)), artistAt);
  tiff.setUint16(gpsIfd, 4);
  entry(gpsIfd + 2, 0x0001, 2, 2, 'N\0'); // GPSLatitudeRef
  entry(gpsIfd + 14, 0x0002, 5, 3, latAt); // GPSLatitude: 48° 51' 30"
  entry(gpsIfd + 26, 0x0003, 2, 2, 'E\0'); // GPSLongitudeRef
  entry(gpsIfd + 38, 0x0004, 5, 3, lonAt); // GPSLongitude: 2° 17' 40"
  tiff.setUint32(gpsIfd + 50, 0);
  const rationals = (at: number, values: number[]) => values.forEach((v, i) => (tiff.setUint32(at + i * 8, v), tiff.setUint32(at + i * 8 + 4, 1)));
  rationals(latAt, [48, 51, 30]);
  rationals(lonAt, [2, 17, 40]);
  const body = new Uint8Array([...[0x45, 0x78, 0x69, 0x66, 0, 0], ...bytes]); // "Exif\0\0" + TIFF
  return new Uint8Array([0xff, 0xe1, (body.length + 2) >> 8, (body.length + 2) & 255, ...body]);
}

/** Where the entropy-coded image data starts: the SOS segment, found by walking the segments. */
export function startOfScan(jpeg: Uint8Array): number {
  let pos = 2;
  while (pos + 4 <= jpeg.length) {
    if (jpeg[pos] !== 0xff) throw new Error(`no marker at ${pos}`);
    const marker = jpeg[pos + 1]!;
    if (marker === 0xda) return pos;
    pos += 2 + ((jpeg[pos + 2]! << 8) | jpeg[pos + 3]!);
  }
  throw new Error('no SOS');
}
