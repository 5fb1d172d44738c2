import { databaseStreamCompression, pgDumpCompressLevel, type DatabaseCompression } from "../contract.js";
import { childEnv, type PgConnection } from "../pg/connection.js";
import { pgBinary } from "../pg/versions.js";
import type { PipelineStep } from "./child-chain.js";
import { spawnChildPipeline, spawnChildSource, type ChildSource } from "./child-source.js";
import { ZSTD_BINARY, zstdCompressArgs } from "./zstd.js";

export function pgDumpArgs(snapshotId: string, compression: number): string[] {
  return [
    "--format=custom",
    `--compress=${compression}`,
    `--snapshot=${snapshotId}`,
    // Never prompt: without a terminal a password prompt would hang the Job until its deadline.
    "--no-password",
  ];
}

/**
 * pg_dump -Fc of the connection's database, reading the exported snapshot: with zstd:N its
 * uncompressed output (-Z0) goes straight into `zstd -N` through an OS pipe, like the shell's
 * `pg_dump -Z0 | zstd`; with gzip:N or none, pg_dump's own output.
 */
export function spawnPgDump(
  connection: PgConnection,
  snapshotId: string,
  compression: DatabaseCompression,
  binDir?: string,
  onWarning?: (warning: string) => void,
): ChildSource {
  const dump: PipelineStep = {
    command: pgBinary("pg_dump", binDir),
    args: pgDumpArgs(snapshotId, pgDumpCompressLevel(compression)),
    options: { label: "pg_dump", env: childEnv(connection), secrets: connection.secrets, onWarning },
  };
  if (databaseStreamCompression(compression) !== "zstd") return spawnChildSource(dump.command, dump.args, dump.options);
  return spawnChildPipeline(dump, {
    command: ZSTD_BINARY,
    args: zstdCompressArgs(compression.level),
    options: { label: "zstd (database dump)" },
  });
}
