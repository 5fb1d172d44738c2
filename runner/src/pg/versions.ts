import { execFile } from "node:child_process";
import { promisify } from "node:util";
import path from "node:path";

const run = promisify(execFile);

export function pgBinary(name: "pg_dump" | "pg_restore" | "psql", binDir?: string): string {
  return binDir ? path.join(binDir, name) : name;
}

/** "pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)" -> "15.18". */
export function parseToolVersion(output: string): string | undefined {
  return /\(PostgreSQL\)\s+(\d+(?:\.\d+)?)/.exec(output)?.[1];
}

export function majorOf(version: string): number {
  return Number.parseInt(version, 10);
}

export async function toolVersion(binary: string): Promise<string> {
  let stdout: string;
  try {
    ({ stdout } = await run(binary, ["--version"]));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new Error(
      code === "ENOENT"
        ? `${binary} was not found: install the PostgreSQL client (apt-get install postgresql-client-15) or set PG_BIN_DIR`
        : `${binary} --version failed: ${(error as Error).message}`,
    );
  }
  const version = parseToolVersion(stdout);
  if (!version) throw new Error(`could not read the version from "${stdout.trim()}"`);
  return version;
}

/**
 * pg_restore cannot read archives written by a newer pg_dump ("unsupported version in file
 * header"); saying so before a restore starts beats failing half-way. The oldest pg_restore is
 * the manifest's pgRestoreMin (format 3), else pg_dump's major. Undefined when fine or unknown
 * (imported archives do not record the version).
 */
export function restoreVersionProblem(
  pgRestoreVersion: string,
  dump: { pgDumpVersion: string; pgRestoreMin?: number },
): string | undefined {
  const needed = dump.pgRestoreMin ?? majorOf(dump.pgDumpVersion);
  if (Number.isNaN(needed) || majorOf(pgRestoreVersion) >= needed) return undefined;
  return (
    `pg_restore ${pgRestoreVersion} is older than this backup needs (written by pg_dump ${dump.pgDumpVersion}; it needs pg_restore ${needed} or newer); ` +
    `set PG_BIN_DIR, or use a runner image built with PG_MAJOR=${needed}`
  );
}

/**
 * pg_dump can dump servers up to its own major version only; an older pg_dump must never be used
 * (it would fail, or worse, miss newer catalog features). Returns the refusal, or undefined.
 */
export function dumpVersionProblem(pgDumpVersion: string, serverVersion: string): string | undefined {
  if (majorOf(pgDumpVersion) >= majorOf(serverVersion)) return undefined;
  return (
    `pg_dump ${pgDumpVersion} is older than the server (PostgreSQL ${serverVersion}); ` +
    `use pg_dump ${majorOf(serverVersion)} or newer (set PG_BIN_DIR, or build the runner image with PG_MAJOR=${majorOf(serverVersion)})`
  );
}
