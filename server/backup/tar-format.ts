/**
 * The POSIX ustar archive format, for regular files and folders only: enough
 * for backups, and readable by any `tar` (`tar -tvf backup.tar` lists one).
 * Why tar and not a format of our own: an admin can inspect and unpack a backup
 * with standard tools, and 512-byte headers are small enough to write and
 * check here without a dependency.
 *
 * Each entry is a 512-byte header (name, mode, size, type, checksum…) followed
 * by its bytes, padded to 512; two zero blocks end the archive. Sizes of 8 GiB
 * and more use the GNU base-256 size field, which GNU tar, bsdtar and busybox
 * read. Everything else (links, devices, pax and GNU long-name headers) is
 * refused when reading: a backup never holds them, and a hostile archive might.
 *
 * Files are streamed in 1 MiB chunks, never held whole in memory.
 *
 * @example
 * const tar = new TarWriter(await open('out.tar', 'wx', 0o600));
 * await tar.addDirectory('blobs');
 * const sha256 = await tar.addFile('blobs/abc', '/srv/tipline/blobs/abc');
 * await tar.finish();
 *
 * const reader = new TarReader(await open('out.tar', 'r'));
 * for (let e = await reader.next(); e; e = await reader.next()) await reader.copyData(e, async (chunk) => {});
 */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';

export const BLOCK = 512;
const CHUNK = 1024 * 1024;
const OCTAL_SIZE_LIMIT = 8 ** 11; // 11 octal digits: 8 GiB

export class TarFormatError extends Error {
  override name = 'TarFormatError';
}

export type TarEntryType = 'file' | 'directory';

export type TarHeader = {
  /** The path inside the archive, `/`-separated, with no trailing slash for folders. */
  name: string;
  type: TarEntryType;
  size: number;
  mode: number;
};

/** What a raw header block says, before any policy: tests use it to build hostile archives. */
export type RawTarHeader = { name: string; typeflag: string; size: number; mode: number; linkname?: string };

/**
 * Encodes one 512-byte ustar header. It checks only what the format itself
 * needs (field lengths); which names are acceptable is the caller's policy.
 * Times, owners and groups are written as zero: the time of day a file was
 * written is metadata a tip line doesn't keep.
 */
export function encodeTarHeader(h: RawTarHeader): Uint8Array {
  const block = new Uint8Array(BLOCK);
  const { name, prefix } = splitName(h.name);
  putString(block, 0, 100, name);
  putOctal(block, 100, 8, h.mode);
  putOctal(block, 108, 8, 0);
  putOctal(block, 116, 8, 0);
  if (h.size < OCTAL_SIZE_LIMIT) putOctal(block, 124, 12, h.size);
  else putBase256(block, 124, 12, h.size);
  putOctal(block, 136, 12, 0);
  block.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  block[156] = h.typeflag.charCodeAt(0);
  putString(block, 157, 100, h.linkname ?? '');
  putString(block, 257, 6, 'ustar\0');
  putString(block, 263, 2, '00');
  putString(block, 345, 155, prefix);
  const sum = block.reduce((a, b) => a + b, 0);
  putString(block, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return block;
}

/** Decodes and checks one header block; null for a zero block (the end of the archive). */
export function decodeTarHeader(block: Uint8Array): TarHeader | null {
  if (block.length !== BLOCK) throw new TarFormatError('the archive is cut short (a header is incomplete)');
  if (block.every((b) => b === 0)) return null;
  // "ustar\0" (POSIX) or "ustar " (old GNU), compared as bytes: nothing else in the block is trusted yet.
  const magic = String.fromCharCode(...block.subarray(257, 263));
  if (magic !== 'ustar\0' && magic !== 'ustar ') throw new TarFormatError('not a tar archive (no ustar header)');
  const stored = parseOctal(block, 148, 8, 'checksum');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  if (sum !== stored) throw new TarFormatError('a tar header is damaged (its checksum does not match)');
  const prefix = getString(block, 345, 155);
  const short = getString(block, 0, 100);
  const name = prefix ? `${prefix}/${short}` : short;
  const flag = String.fromCharCode(block[156]!);
  const mode = parseOctal(block, 100, 8, 'mode');
  const size = (block[124]! & 0x80) !== 0 ? parseBase256(block, 124, 12) : parseOctal(block, 124, 12, 'size');
  if (flag === '0' || flag === '\0') return { name, type: 'file', size, mode };
  if (flag === '5') {
    if (size !== 0) throw new TarFormatError(`the folder entry "${name}" has a size`);
    return { name: name.replace(/\/+$/, ''), type: 'directory', size: 0, mode };
  }
  const kinds: Record<string, string> = { '1': 'a hard link', '2': 'a symbolic link', '3': 'a device', '4': 'a device', '6': 'a FIFO', x: 'a pax header', g: 'a pax header', L: 'a GNU long name', K: 'a GNU long link' };
  throw new TarFormatError(`the entry "${name}" is ${kinds[flag] ?? `of type "${flag}"`}; only regular files and folders are allowed`);
}

/** Writes an archive sequentially to an open file. */
export class TarWriter {
  private position = 0;

  constructor(private readonly out: FileHandle) {}

  async addDirectory(name: string): Promise<void> {
    await this.write(encodeTarHeader({ name: `${name}/`, typeflag: '5', size: 0, mode: 0o700 }));
  }

  /** Adds bytes already in memory (small files: config, the backup's own manifest). Returns their SHA-256, hex. */
  async addBytes(name: string, bytes: Uint8Array): Promise<string> {
    await this.write(encodeTarHeader({ name, typeflag: '0', size: bytes.length, mode: 0o600 }));
    await this.write(bytes);
    await this.pad(bytes.length);
    return createHash('sha256').update(bytes).digest('hex');
  }

  /**
   * Streams a file into the archive and returns its SHA-256 (hex) and size. The
   * size is taken when the file is opened; a file that grows meanwhile is cut
   * there, one that shrinks is padded with zeros (only an upload still in
   * progress can do either), so the archive itself is always well-formed.
   */
  async addFile(name: string, path: string): Promise<{ sha256: string; size: number }> {
    const source = await open(path, 'r');
    try {
      const size = (await source.stat()).size;
      await this.write(encodeTarHeader({ name, typeflag: '0', size, mode: 0o600 }));
      const hash = createHash('sha256');
      const buffer = new Uint8Array(Math.min(CHUNK, Math.max(size, 1)));
      let done = 0;
      while (done < size) {
        const want = Math.min(buffer.length, size - done);
        const { bytesRead } = await source.read(buffer, 0, want, done);
        if (bytesRead === 0) buffer.fill(0, 0, want);
        const chunk = buffer.subarray(0, bytesRead || want);
        hash.update(chunk);
        await this.write(chunk);
        done += chunk.length;
      }
      await this.pad(size);
      return { sha256: hash.digest('hex'), size };
    } finally {
      await source.close();
    }
  }

  /** Writes the two zero blocks that end an archive. */
  async finish(): Promise<void> {
    await this.write(new Uint8Array(BLOCK * 2));
  }

  private async pad(size: number): Promise<void> {
    const rest = (BLOCK - (size % BLOCK)) % BLOCK;
    if (rest) await this.write(new Uint8Array(rest));
  }

  private async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) {
      const { bytesWritten } = await this.out.write(bytes, at, bytes.length - at, this.position + at);
      at += bytesWritten;
    }
    this.position += bytes.length;
  }
}

export type TarEntry = TarHeader & { dataOffset: number };

/** Reads an archive entry by entry, with random access into an open file. */
export class TarReader {
  private position = 0;
  private fileSize: number | undefined;

  constructor(private readonly input: FileHandle) {}

  /** The next entry, or null at the end. Throws TarFormatError on anything malformed. */
  async next(): Promise<TarEntry | null> {
    this.fileSize ??= (await this.input.stat()).size;
    const block = new Uint8Array(BLOCK);
    const { bytesRead } = await this.input.read(block, 0, BLOCK, this.position);
    if (bytesRead === 0) throw new TarFormatError('the archive is cut short (it has no end marker)');
    const header = decodeTarHeader(block.subarray(0, bytesRead));
    if (!header) return null;
    const dataOffset = this.position + BLOCK;
    const padded = Math.ceil(header.size / BLOCK) * BLOCK;
    if (dataOffset + header.size > this.fileSize) throw new TarFormatError(`the archive is cut short (in "${header.name}")`);
    this.position = dataOffset + padded;
    return { ...header, dataOffset };
  }

  /** Streams an entry's bytes to `sink`, chunk by chunk. */
  async copyData(entry: TarEntry, sink: (chunk: Uint8Array) => Promise<void>): Promise<void> {
    const buffer = new Uint8Array(Math.min(CHUNK, Math.max(entry.size, 1)));
    let done = 0;
    while (done < entry.size) {
      const want = Math.min(buffer.length, entry.size - done);
      const { bytesRead } = await this.input.read(buffer, 0, want, entry.dataOffset + done);
      if (bytesRead === 0) throw new TarFormatError(`the archive is cut short (in "${entry.name}")`);
      await sink(buffer.subarray(0, bytesRead));
      done += bytesRead;
    }
  }
}

function splitName(full: string): { name: string; prefix: string } {
  const bytes = new TextEncoder().encode(full);
  if (bytes.length <= 100) return { name: full, prefix: '' };
  // ustar splits a long path at a slash: up to 155 bytes of prefix, up to 100 of name.
  for (let i = full.lastIndexOf('/'); i > 0; i = full.lastIndexOf('/', i - 1)) {
    const prefix = full.slice(0, i);
    const name = full.slice(i + 1);
    if (new TextEncoder().encode(prefix).length <= 155 && new TextEncoder().encode(name).length <= 100 && name.length > 0) return { name, prefix };
  }
  throw new TarFormatError(`the path "${full}" is too long for a tar header`);
}

function putString(block: Uint8Array, offset: number, length: number, text: string): void {
  const bytes = new TextEncoder().encode(text);
  if (bytes.length > length) throw new TarFormatError(`"${text}" is too long for a tar header field`);
  block.set(bytes, offset);
}

function putOctal(block: Uint8Array, offset: number, length: number, value: number): void {
  putString(block, offset, length, `${value.toString(8).padStart(length - 1, '0')}\0`);
}

function putBase256(block: Uint8Array, offset: number, length: number, value: number): void {
  let v = BigInt(value);
  for (let i = offset + length - 1; i > offset; i--) {
    block[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  block[offset] = 0x80;
}

function getString(block: Uint8Array, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(end === -1 ? field : field.subarray(0, end));
  } catch {
    throw new TarFormatError('a tar header holds a name that is not UTF-8');
  }
}

function parseOctal(block: Uint8Array, offset: number, length: number, what: string): number {
  const text = String.fromCharCode(...block.subarray(offset, offset + length)).replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (!/^[0-7]+$/.test(text)) throw new TarFormatError(`a tar header has a malformed ${what} field`);
  return parseInt(text, 8);
}

function parseBase256(block: Uint8Array, offset: number, length: number): number {
  if (block[offset] !== 0x80) throw new TarFormatError('a tar header has a negative size');
  let v = 0n;
  for (let i = offset + 1; i < offset + length; i++) v = (v << 8n) | BigInt(block[i]!);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new TarFormatError('a tar header has an impossible size');
  return Number(v);
}
