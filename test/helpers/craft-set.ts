// Writes a backup set by hand into a file:// destination: real artifacts (or deliberately broken
// ones) with a manifest whose checksums match them, so tests can reach the restore paths that a
// correct backup never produces. The manifest is written in format 1 (the first release's), so
// every test built on crafted sets also proves that format-1 sets keep restoring.
import { createHash } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { parseManifest, type Manifest, type TableRowCount } from "../../runner/src/catalog/manifest.js";

export function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

export async function readManifestFile(root: string, tier: string, id: string): Promise<Manifest> {
  const where = path.join(root, tier, id, "manifest.json");
  return parseManifest(await readFile(where, "utf8"), where);
}

export interface CraftOptions {
  database?: {
    dump: Buffer;
    tables: TableRowCount[];
  };
  media?: { archive: Buffer; files: number; sourceBytes: number; compression?: "gzip" | "zstd" | "none" };
}

/** Writes `<root>/<tier>/<id>/...` with a valid manifest describing exactly the given bytes. */
export async function craftSet(
  root: string,
  tier: "daily" | "weekly" | "monthly" | "adhoc",
  id: string,
  options: CraftOptions,
): Promise<Manifest> {
  const dir = path.join(root, tier, id);
  await mkdir(dir, { recursive: true });
  const compression = options.media?.compression ?? "gzip";
  const mediaKey =
    compression === "gzip" ? "storage.tar.gz" : compression === "zstd" ? "storage.tar.zst" : "storage.tar";
  if (options.database) await writeFile(path.join(dir, "database.dump"), options.database.dump);
  if (options.media) await writeFile(path.join(dir, mediaKey), options.media.archive);
  const manifest = {
    formatVersion: 1,
    backupId: id,
    tier,
    trigger: "manual",
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    runnerVersion: "test",
    database: options.database
      ? {
          key: "database.dump",
          bytes: options.database.dump.length,
          sha256: sha256(options.database.dump),
          format: "custom",
          name: "crafted",
          pgDumpVersion: "15",
          serverVersion: "15",
          tables: options.database.tables,
        }
      : null,
    media: options.media
      ? {
          key: mediaKey,
          bytes: options.media.archive.length,
          sha256: sha256(options.media.archive),
          compression,
          files: options.media.files,
          sourceBytes: options.media.sourceBytes,
        }
      : null,
  };
  const text = `${JSON.stringify(manifest, null, 2)}\n`;
  await writeFile(path.join(dir, "manifest.json"), text);
  return parseManifest(text, "crafted");
}
