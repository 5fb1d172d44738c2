// Proves that what a backup stored is usable with the standard tools alone: pg_restore the dump
// into a new database, extract the media archive with tar.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { run } from "./exec.js";

export async function pgRestoreInto(binDir: string, dumpFile: string, env: Record<string, string>): Promise<void> {
  const result = await run(
    path.join(binDir, "pg_restore"),
    ["--no-owner", "--exit-on-error", "--dbname", env.PGDATABASE!, dumpFile],
    {
      env: { ...process.env, ...env },
    },
  );
  if (result.code !== 0) throw new Error(`pg_restore failed (${result.code}): ${result.stderr}`);
}

/** `zstd -d` of a file beside it (the real zstd, as an operator would run it). */
export async function decompressZstd(file: string): Promise<string> {
  const out = file.replace(/\.zst$/, "");
  const result = await run("zstd", ["-q", "-d", "-f", file, "-o", out]);
  if (result.code !== 0) throw new Error(`zstd -d failed (${result.code}): ${result.stderr}`);
  return out;
}

export async function extractArchive(archive: string): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), "edms-extract-"));
  const flag = archive.endsWith(".gz") ? ["-z"] : archive.endsWith(".zst") ? ["--zstd"] : [];
  const result = await run("tar", ["-x", ...flag, "-f", archive, "-C", dir]);
  if (result.code !== 0) throw new Error(`tar -x failed (${result.code}): ${result.stderr}`);
  return dir;
}
