// `status` on a folder destination (issue 26, item 10): the runner there is run by cron or a
// person, not by the stack's CronJobs, so the overdue message gives no kubectl advice; on S3 it
// still points at the CronJobs.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runRunner } from "../helpers/runner-cli.js";

describe("status advice", () => {
  it("a file:// destination with a missing tier: exit 1, no kubectl in the advice", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "edms-status-advice-"));
    const result = await runRunner(["status"], { BACKUP_DESTINATION: `file://${dir}`, STATUS_TIERS: "daily" });
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).toMatch(/backups are overdue at file:\/\//);
    expect(result.stderr).toMatch(/cron, a systemd timer/);
    expect(result.stderr).not.toMatch(/kubectl/);
  });
});
