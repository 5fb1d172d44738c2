/**
 * What stands between a dump's stored bytes (hashed) and pg_restore: age's decryption for an
 * encrypted set, then zstd's decompression for a dump written with PG_DUMP_COMPRESSION=zstd:N
 * (the order of the object name's suffixes, read backwards: database.dump.zst.age).
 */
import type { Readable } from "node:stream";
import { dumpStreamCompression, type DatabaseEntry } from "../catalog/manifest.js";
import { composeSources } from "../stages/child-filter.js";
import type { ChildSource } from "../stages/child-source.js";
import type { PipelineStep } from "../stages/child-chain.js";
import { decompressSteps } from "../stages/decompress.js";
import { zstdDecompressStream } from "../stages/zstd.js";

/**
 * The steps between the (decrypted) dump and pg_restore, as a restore runs them: joined by OS
 * pipes, so the decompressed dump never passes through the runner (see spawnPgRestore).
 */
export function dumpDecodeSteps(entry: DatabaseEntry): PipelineStep[] {
  return decompressSteps(dumpStreamCompression(entry) ?? "none");
}

export type Decoder = (input: Readable) => ChildSource;

export function dumpDecoder(entry: DatabaseEntry, decrypt?: Decoder): Decoder | undefined {
  if (!dumpStreamCompression(entry)) return decrypt;
  if (!decrypt) return zstdDecompressStream;
  return (input) => {
    const plain = decrypt(input);
    return composeSources(plain, zstdDecompressStream(plain.stream));
  };
}
