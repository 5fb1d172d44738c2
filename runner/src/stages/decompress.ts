/**
 * The decompressor for a compression setting, as steps of an OS pipe in front of the consumer
 * (`zstd -d | pg_restore`, `zstd -d | tar -x`). Not tar's own --zstd/--gzip: reading an archive
 * on stdin, tar copies it to its decompressor in 10 KiB records through a process of its own,
 * which took 0.75 s where `zstd -d | tar -x` took 0.33 s (BENCHMARKS.md).
 */
import type { Compression } from "../contract.js";
import type { PipelineStep } from "./child-chain.js";
import { ZSTD_DECOMPRESS } from "./zstd.js";

export const GZIP_DECOMPRESS: PipelineStep = {
  command: "gzip",
  args: ["-d", "-c"],
  options: { label: "gzip --decompress" },
};

export function decompressSteps(compression: Compression): PipelineStep[] {
  if (compression === "zstd") return [ZSTD_DECOMPRESS];
  if (compression === "gzip") return [GZIP_DECOMPRESS];
  return [];
}
