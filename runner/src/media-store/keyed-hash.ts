/**
 * HMAC-SHA256 with one key over many short messages, built by hand from one-shot `crypto.hash`
 * calls: exactly `createHmac("sha256", key).update(message).digest()` (RFC 2104:
 * H((K ^ opad) || H((K ^ ipad) || message)), a key longer than SHA-256's 64-byte block hashed
 * first, a shorter one zero-padded), but about three times cheaper. A store backup computes one
 * per file (its object's keyed name) and one per entry (segment cuts), 100,000 at 50,000 files
 * (issue 22, second backup vs restic), and createHmac's cost there is per call, not per byte: a
 * new Hmac object, the key set up again, a Buffer made for the digest. Here the padded keys are
 * made once and the message is written into a reused buffer behind K ^ ipad; the inner digest
 * comes back as a latin1 ("binary") string (a Buffer back from native code costs more than the
 * hash itself) and is written into a fixed buffer behind K ^ opad. One scratch buffer per instance
 * is safe: every call is synchronous, done before it returns.
 */
import { createHash, hash } from "node:crypto";

const BLOCK = 64;
const DIGEST = 32;

export class KeyedHash {
  /** K ^ ipad, then the message (grown when a message does not fit). */
  private inner: Buffer;
  /** K ^ opad, then the inner digest. */
  private readonly outer = Buffer.alloc(BLOCK + DIGEST);

  constructor(key: Buffer) {
    const k = key.length > BLOCK ? createHash("sha256").update(key).digest() : key;
    this.inner = Buffer.alloc(BLOCK + 1024);
    for (let i = 0; i < BLOCK; i += 1) {
      const byte = i < k.length ? k[i]! : 0;
      this.inner[i] = byte ^ 0x36;
      this.outer[i] = byte ^ 0x5c;
    }
  }

  /** The HMAC of `message` (a string counts as its UTF-8 bytes, as Hmac.update takes it) as 64 hex digits. */
  hex(message: string | Buffer): string {
    return this.mac(message, "hex");
  }

  /** The HMAC of `message` as bytes. */
  digest(message: string | Buffer): Buffer {
    return Buffer.from(this.mac(message, "binary"), "latin1");
  }

  /** The HMAC's first 4 bytes as a big-endian unsigned integer (no Buffer made). */
  head32(message: string | Buffer): number {
    const d = this.mac(message, "binary");
    return ((d.charCodeAt(0) << 24) | (d.charCodeAt(1) << 16) | (d.charCodeAt(2) << 8) | d.charCodeAt(3)) >>> 0;
  }

  private mac(message: string | Buffer, encoding: "hex" | "binary"): string {
    const length = typeof message === "string" ? this.writeString(message) : this.writeBytes(message);
    this.outer.write(hash("sha256", this.inner.subarray(0, BLOCK + length), "binary"), BLOCK, "latin1");
    return hash("sha256", this.outer, encoding);
  }

  private writeString(message: string): number {
    // UTF-8 takes at most 3 bytes per UTF-16 unit; count exactly only when that could overflow.
    if (BLOCK + message.length * 3 > this.inner.length) this.room(Buffer.byteLength(message));
    return this.inner.write(message, BLOCK, "utf8");
  }

  private writeBytes(message: Buffer): number {
    this.room(message.length);
    return message.copy(this.inner, BLOCK);
  }

  private room(length: number): void {
    if (BLOCK + length <= this.inner.length) return;
    const grown = Buffer.alloc(BLOCK + length * 2);
    this.inner.copy(grown, 0, 0, BLOCK);
    this.inner = grown;
  }
}
