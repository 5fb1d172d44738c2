// `status` on a folder destination (issue 26, item 10): the runner there is run by cron or a
// person, not by the stack's CronJobs, so the overdue message gives no kubectl advice; on S3 it
// still points at the CronJobs, with kubectl lines that name the namespace.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { awsTestEnv } from "../helpers/moto.js";
import { runRunner } from "../helpers/runner-cli.js";
import { createTestBucket } from "../helpers/s3-bucket.js";

describe("status advice", () => {
  it("a file:// destination with a missing tier: exit 1, no kubectl in the advice", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "edms-status-advice-"));
    const result = await runRunner(["status"], { BACKUP_DESTINATION: `file://${dir}`, STATUS_TIERS: "daily" });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/backups are overdue at file:\/\//);
    expect(result.stderr).toMatch(/cron, a systemd timer/);
    expect(result.stderr).not.toMatch(/kubectl/);
  });

  it("an S3 destination with a missing tier: the CronJob advice's kubectl lines name the namespace", async () => {
    const bucket = await createTestBucket(inject("s3Endpoint"));
    const result = await runRunner(["status"], { ...awsTestEnv(), ...bucket.env("edms"), STATUS_TIERS: "daily" });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/check the backup CronJobs/);
    for (const command of result.stderr.matchAll(/kubectl \S+ \S+/g))
      expect(command[0]).toMatch(/^kubectl --namespace /);
    expect(result.stderr).not.toMatch(/`edms-backup /);
  });
});
