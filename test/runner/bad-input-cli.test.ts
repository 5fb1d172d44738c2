// Bad input is treated as bad input at the CLI (issue 10, items 8 and 10): exit 2, one message,
// nothing written anywhere; an ambient variable that does not apply is ignored (said at debug).
import { mkdtemp, readdir, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runRunner } from "../helpers/runner-cli.js";

async function smallMedia(): Promise<string> {
  const media = await mkdtemp(path.join(tmpdir(), "edms-badinput-"));
  await writeFile(path.join(media, "a.txt"), "a\n");
  return media;
}

describe("file: destinations", () => {
  it.each(["file:relative", "file:/relative-abs", "file:///", "file:///a%2Fb"])(
    "%s: exit 2 with one message, nothing written",
    async (value) => {
      const media = await smallMedia();
      const rootBefore = (await readdir("/")).sort();
      const result = await runRunner(["backup", "--tier", "daily", "--no-database"], {
        MEDIA_DIR: media,
        BACKUP_DESTINATION: value,
      });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).toMatch(
        /^edms-backup: invalid configuration:\n {2}- BACKUP_DESTINATION \(--destination\): /,
      );
      expect((await readdir("/")).sort()).toEqual(rootBefore);
      expect(await stat("/relative").catch(() => undefined)).toBeUndefined();
    },
  );
});

describe("settings that do not apply to the destination", () => {
  it("an S3_ENDPOINT in the environment is ignored for a file:// destination, and said at debug level", async () => {
    const media = await smallMedia();
    const dest = await mkdtemp(path.join(tmpdir(), "edms-badinput-dest-"));
    const env = {
      MEDIA_DIR: media,
      BACKUP_DESTINATION: `file://${dest}`,
      S3_ENDPOINT: "http://127.0.0.1:9",
      OBJECT_LOCK_MODE: "GOVERNANCE",
      OBJECT_LOCK_DAYS: "7",
      LOG_LEVEL: "debug",
    };
    const backup = await runRunner(["backup", "--tier", "daily", "--no-database"], env);
    expect(backup.code, backup.stderr).toBe(0);
    const said = backup.logs.find((l) => Array.isArray(l.ignored));
    expect(said).toMatchObject({ level: "debug" });
    expect(said!.ignored).toEqual([expect.stringMatching(/^S3_ENDPOINT/), expect.stringMatching(/^OBJECT_LOCK_MODE/)]);
    const list = await runRunner(["list", "--json"], env);
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout)).toHaveLength(1);
  });

  it("the --s3-endpoint flag with a file:// destination is an error (exit 2)", async () => {
    const dest = await mkdtemp(path.join(tmpdir(), "edms-badinput-dest-"));
    const result = await runRunner(["list", "--s3-endpoint", "http://127.0.0.1:9"], {
      BACKUP_DESTINATION: `file://${dest}`,
    });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/S3_ENDPOINT \(--s3-endpoint\): only applies to s3:\/\/ destinations/);
  });
});

describe("undo-restore's scope", () => {
  it("--database-only with --media-only: exit 2, the settings' one message, nothing read", async () => {
    const dest = await mkdtemp(path.join(tmpdir(), "edms-badinput-dest-"));
    const result = await runRunner(["undo-restore", "--database-only", "--media-only", "--yes"], {
      BACKUP_DESTINATION: `file://${dest}`,
      DATABASE_URL: "postgres://nobody@127.0.0.1:9/app",
    });
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/--database-only and --media-only: choose one \(or neither for both\)/);
    expect(await readdir(dest)).toEqual([]);
  });
});
