// A real, quick backup set for drill tests: one small file, no database, into a new file:// folder.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "vitest";
import { runRunner } from "./runner-cli.js";

/** The destination folder holding one complete daily set. */
export async function mediaOnlyBackup(prefix = "edms-drill"): Promise<string> {
  const media = await mkdtemp(path.join(tmpdir(), `${prefix}-media-`));
  await writeFile(path.join(media, "a.txt"), "drill me\n");
  const root = await mkdtemp(path.join(tmpdir(), `${prefix}-`));
  const backup = await runRunner(["backup", "--tier", "daily", "--no-database"], {
    BACKUP_DESTINATION: `file://${root}`,
    MEDIA_DIR: media,
  });
  expect(backup.code, backup.stderr).toBe(0);
  return root;
}
