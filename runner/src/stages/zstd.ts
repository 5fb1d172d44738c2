/**
 * zstd as a stream stage (the database dump: `pg_dump -Z0 | zstd`, joined in pg-dump.ts), and its
 * inverse for restore, drill and verify. The `zstd` binary (also the image's, and what an operator restores with by
 * hand) runs on its own core beside pg_dump and the runner's hashing; single-threaded, like the
 * media's compressor, so it uses one core whatever the host has (BENCHMARKS.md).
 */
import type { Readable } from "node:stream";
import type { PipelineStep } from "./child-chain.js";
import type { ChildSource } from "./child-source.js";
import { spawnChildFilter } from "./child-filter.js";

export const ZSTD_BINARY = "zstd";

export function zstdCompressArgs(level: number): string[] {
  return ["-q", "-c", "--single-thread", `-${level}`];
}

/**
 * zstd's decompression as a step of an OS pipe (`zstd -d | pg_restore` on restore); it fails on a
 * truncated or corrupted frame (the frame's checksum is on).
 */
export const ZSTD_DECOMPRESS: PipelineStep = {
  command: ZSTD_BINARY,
  args: ["-q", "-d", "-c"],
  options: { label: "zstd --decompress" },
};

/** zstd's decompression writing `file` itself (the restore's scratch copy), fed on stdin. */
export function zstdDecompressTo(file: string): PipelineStep {
  return { ...ZSTD_DECOMPRESS, args: ["-q", "-d", "-o", file] };
}

/** `input` decompressed through the runner (verify). */
export function zstdDecompressStream(input: Readable): ChildSource {
  return spawnChildFilter(ZSTD_DECOMPRESS.command, ZSTD_DECOMPRESS.args, input, ZSTD_DECOMPRESS.options);
}
