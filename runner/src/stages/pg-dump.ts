import { childEnv, type PgConnection } from "../pg/connection.js";
import { pgBinary } from "../pg/versions.js";
import { spawnChildSource, type ChildSource } from "./child-source.js";

export function pgDumpArgs(snapshotId: string, compression: number): string[] {
  return [
    "--format=custom",
    `--compress=${compression}`,
    `--snapshot=${snapshotId}`,
    // Never prompt: without a terminal a password prompt would hang the Job until its deadline.
    "--no-password",
  ];
}

/** pg_dump -Fc of the connection's database, reading the exported snapshot, to stdout. */
export function spawnPgDump(
  connection: PgConnection,
  snapshotId: string,
  compression: number,
  binDir?: string,
): ChildSource {
  return spawnChildSource(pgBinary("pg_dump", binDir), pgDumpArgs(snapshotId, compression), {
    label: "pg_dump",
    env: childEnv(connection),
    secrets: connection.secrets,
  });
}
