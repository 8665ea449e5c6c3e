/**
 * The attachment hash that the tip document carries (format "sha256-pieces"):
 * the SHA-256 of the concatenated SHA-256s of the file's 4 MiB pieces (the last
 * piece may be shorter; an empty file has one empty piece).
 *
 * Why not the file's plain SHA-256: WebCrypto's `digest` only takes whole
 * buffers, and Tor Browser at "Safer" runs JavaScript without a JIT, where a
 * streaming SHA-256 in JavaScript managed 1.5 MiB/s. Hashing pieces lets the
 * browser do all of it natively, piece by piece, in flat memory.
 *
 * Tips written before this format have no `hashFormat` and carry the plain
 * SHA-256 of the file; both are checked by the journalist's tool.
 *
 * @module
 * @example
 * import { PieceHasher } from './piece-hash.ts';
 * const hasher = new PieceHasher((piece) => sha256(piece));
 * hasher.update(bytes);
 * hasher.digestHex(); // '3f1a…' (64 hex digits)
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { abytes, concatBytes, hex } from './bytes.ts';

/** The tip document's name for this format (`AttachmentRef.hashFormat`). */
export const PIECE_HASH_FORMAT = 'sha256-pieces';
/** The piece size: large enough that per-call overhead vanishes, small enough to hold a few in memory. */
export const PIECE_BYTES = 4 * 1024 * 1024;

/**
 * The root hash from the pieces' SHA-256s, in order (hex).
 *
 * @example
 * pieceHashRoot([await crypto.subtle.digest('SHA-256', piece)].map((d) => new Uint8Array(d)));
 */
export function pieceHashRoot(pieceDigests: Uint8Array[]): string {
  if (pieceDigests.length === 0) throw new RangeError('at least one piece (an empty file has one empty piece)');
  for (const d of pieceDigests) abytes(d, 32, 'piece digest');
  return hex.encode(sha256(concatBytes(...pieceDigests)));
}

/**
 * Cuts a stream of bytes into PIECE_BYTES pieces and hashes each with `digest`
 * (Node's createHash or noble's sha256): for the journalist's side, which
 * receives the plaintext in chunks of any size.
 */
export class PieceHasher {
  private readonly digests: Uint8Array[] = [];
  private piece = new Uint8Array(PIECE_BYTES);
  private filled = 0;

  constructor(private readonly digest: (piece: Uint8Array) => Uint8Array) {}

  update(bytes: Uint8Array): void {
    abytes(bytes, undefined, 'bytes');
    for (let at = 0; at < bytes.length; ) {
      const n = Math.min(bytes.length - at, PIECE_BYTES - this.filled);
      this.piece.set(bytes.subarray(at, at + n), this.filled);
      this.filled += n;
      at += n;
      if (this.filled === PIECE_BYTES) {
        this.digests.push(this.digest(this.piece));
        this.filled = 0;
      }
    }
  }

  /** The root hash (hex). Call once, at the end. */
  digestHex(): string {
    if (this.filled > 0 || this.digests.length === 0) this.digests.push(this.digest(this.piece.subarray(0, this.filled)));
    return pieceHashRoot(this.digests);
  }
}
