// A source database (the EDMS sample data), a media tree and one backup of both to a new folder:
// the starting point of the restore tests.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "vitest";
import type { TestDatabase } from "./pg-test-db.js";
import { runRunner } from "./runner-cli.js";
import { makeMediaTree, seedEdmsDatabase } from "./sample-data.js";

export interface SeededBackup {
  source: TestDatabase;
  mediaDir: string;
  /** The file:// destination's folder. */
  dest: string;
  backupId: string;
}

export async function seededBackup(
  newDatabase: (prefix: string) => Promise<TestDatabase>,
  prefix: string,
  bigFileMiB: number,
): Promise<SeededBackup> {
  const source = await newDatabase(`${prefix}_src`);
  await seedEdmsDatabase(source.url);
  const mediaDir = await mkdtemp(path.join(tmpdir(), "edms-media-"));
  await makeMediaTree(mediaDir, { bigFileMiB });
  const dest = await mkdtemp(path.join(tmpdir(), "edms-dest-"));
  const backup = await runRunner(["backup", "--tier", "daily"], {
    DATABASE_URL: source.url,
    MEDIA_DIR: mediaDir,
    BACKUP_DESTINATION: `file://${dest}`,
  });
  expect(backup.code, backup.stderr).toBe(0);
  return { source, mediaDir, dest, backupId: backup.logs.find((l) => l.stage === "done")!.backupId as string };
}
