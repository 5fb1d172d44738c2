// With Object Lock, every object of a run (the manifest included) carries the retain-until date of
// its tier's retention, so not even the bucket owner can delete a backup early.
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { runRunner } from "../helpers/runner-cli.js";
import { createTestBucket } from "../helpers/s3-bucket.js";

const s3Endpoint = inject("s3Endpoint");

describe("object lock", () => {
  it("sets each object's retention from OBJECT_LOCK_MODE and OBJECT_LOCK_DAYS", async () => {
    const bucket = await createTestBucket(s3Endpoint, { objectLock: true });
    const media = await mkdtemp(path.join(tmpdir(), "edms-lock-"));
    await writeFile(path.join(media, "a.txt"), "locked\n");
    const before = Date.now();
    const result = await runRunner(["backup", "--tier", "monthly", "--no-database"], {
      ...bucket.env(),
      MEDIA_DIR: media,
      OBJECT_LOCK_MODE: "GOVERNANCE",
      OBJECT_LOCK_DAYS: "366",
    });
    expect(result.code, result.stderr).toBe(0);
    const keys = await bucket.keys();
    expect(keys).toHaveLength(2);
    for (const Key of keys) {
      const head = await bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key }));
      expect(head.ObjectLockMode).toBe("GOVERNANCE");
      const days = (head.ObjectLockRetainUntilDate!.getTime() - before) / 86_400_000;
      expect(days).toBeGreaterThan(365.9);
      expect(days).toBeLessThan(366.1);
    }
  });
});
