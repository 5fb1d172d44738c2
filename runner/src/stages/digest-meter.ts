/**
 * A pass-through stage that counts bytes and computes the sha256 of everything that flows through,
 * so the manifest's checksum is of exactly the bytes handed to the store, with no second read.
 */
import { createHash } from "node:crypto";
import { Transform } from "node:stream";

export class DigestMeter extends Transform {
  bytes = 0;
  private readonly hash = createHash("sha256");
  private digestHex: string | undefined;

  override _transform(
    chunk: Buffer,
    _encoding: BufferEncoding,
    callback: (error?: Error | null, data?: Buffer) => void,
  ): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: (error?: Error | null) => void): void {
    this.digestHex = this.hash.digest("hex");
    callback();
  }

  /** True once the whole stream went through (the digest is then known). */
  get finished(): boolean {
    return this.digestHex !== undefined;
  }

  /** The sha256 of the whole stream; only defined after it ended cleanly. */
  get sha256(): string {
    if (this.digestHex === undefined) throw new Error("digest read before the stream ended");
    return this.digestHex;
  }
}
