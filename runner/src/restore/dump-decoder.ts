/**
 * What stands between a dump's stored bytes (hashed) and pg_restore: age's decryption for an
 * encrypted set, then zstd's decompression for a dump written with PG_DUMP_COMPRESSION=zstd:N
 * (the order of the object name's suffixes, read backwards: database.dump.zst.age).
 */
import type { Readable } from "node:stream";
import { dumpStreamCompression, type DatabaseEntry } from "../manifest.js";
import { composeSources } from "../stages/child-filter.js";
import type { ChildSource } from "../stages/child-source.js";
import { zstdDecompressStream } from "../stages/zstd.js";

export type Decoder = (input: Readable) => ChildSource;

export function dumpDecoder(entry: DatabaseEntry, decrypt?: Decoder): Decoder | undefined {
  if (!dumpStreamCompression(entry)) return decrypt;
  if (!decrypt) return zstdDecompressStream;
  return (input) => {
    const plain = decrypt(input);
    return composeSources(plain, zstdDecompressStream(plain.stream));
  };
}
