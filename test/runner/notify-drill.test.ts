// Drills report on the same channels as backups: a drill that fails (or cannot start) pings the
// healthcheck's /fail and posts the reason, so a backup that cannot be restored is never silent.
import { mkdir, mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DrillWebhookPayload } from "../../runner/src/notify/drill-reporter.js";
import { craftSet } from "../helpers/craft-set.js";
import { run } from "../helpers/exec.js";
import { startReceiver, type Receiver } from "../helpers/notify-receiver.js";
import { mediaOnlyBackup } from "../helpers/media-only-backup.js";
import { runRunner } from "../helpers/runner-cli.js";
import { runOnTerminal } from "../helpers/terminal.js";

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
});

function channels(tag: string) {
  return { HEALTHCHECK_URL: `${receiver.url}/${tag}/ping`, NOTIFY_WEBHOOK_URL: `${receiver.url}/${tag}/hook` };
}

function received(tag: string) {
  const got = receiver.requests.filter((r) => r.path.startsWith(`/${tag}/`));
  const hook = got.find((r) => r.method === "POST");
  return {
    paths: got.map((r) => `${r.method} ${r.path}`),
    payload: hook ? (JSON.parse(hook.body) as DrillWebhookPayload) : undefined,
  };
}

describe("drill notifications", () => {
  it("pings start then success and posts the passed drill", async () => {
    const root = await mediaOnlyBackup("edms-drill-notify");
    const result = await runRunner(["drill"], { BACKUP_DESTINATION: `file://${root}`, ...channels("ok") });
    expect(result.code, result.stderr).toBe(0);
    const { paths, payload } = received("ok");
    expect(paths[0]).toBe("GET /ok/ping/start");
    expect(paths.slice(1).sort()).toEqual(["GET /ok/ping", "POST /ok/hook"]);
    expect(payload).toMatchObject({
      event: "drill",
      status: "success",
      tier: "daily",
      error: null,
      checks: [{ name: "media", ok: true }],
    });
    expect(payload!.text).toMatch(/^:white_check_mark: edms restore drill of daily\/\S+ passed: restored in [\d.]+ s$/);
  });

  it("pings /fail and posts the reason when the restored copy does not match the manifest", async () => {
    const root = await mediaOnlyBackup("edms-drill-notify");
    // Same archive, but a manifest that claims one more file than it holds.
    const work = await mkdtemp(path.join(tmpdir(), "edms-drill-notify-bad-"));
    const archive = path.join(work, "m.tar.gz");
    const made = await run("tar", ["czf", archive, "-C", root, "."]);
    expect(made.code).toBe(0);
    const bad = path.join(work, "dest");
    await craftSet(bad, "weekly", "20260101T020000Z-0bad", {
      media: { archive: await readFile(archive), files: 999, sourceBytes: 1 },
    });
    const result = await runRunner(["drill", "--tier", "weekly"], {
      BACKUP_DESTINATION: `file://${bad}`,
      ...channels("bad"),
    });
    expect(result.code).toBe(1);
    const { paths, payload } = received("bad");
    expect(paths.slice(1).sort()).toEqual(["GET /bad/ping/fail", "POST /bad/hook"]);
    expect(payload).toMatchObject({
      event: "drill",
      status: "failure",
      tier: "weekly",
      backupId: "20260101T020000Z-0bad",
    });
    expect(payload!.error).toMatch(/media: .*manifest says 999/);
    expect(payload!.text).toMatch(/^:x: edms restore drill of weekly\/20260101T020000Z-0bad FAILED: /);
  });

  it("reports a drill that cannot start (no complete backup)", async () => {
    const empty = await mkdtemp(path.join(tmpdir(), "edms-drill-notify-empty-"));
    const result = await runRunner(["drill", "--tier", "monthly"], {
      BACKUP_DESTINATION: `file://${empty}`,
      ...channels("none"),
    });
    expect(result.code).toBe(1);
    const { paths, payload } = received("none");
    expect(paths.slice(1).sort()).toEqual(["GET /none/ping/fail", "POST /none/hook"]);
    expect(payload).toMatchObject({ event: "drill", status: "failure", tier: "monthly", backupId: null });
    expect(payload!.error).toMatch(/no complete backup of tier monthly/);
  });

  // Backups and drills share one "reported run" (cli/reported-run.ts); these two held only for
  // backups before they did.
  it("redacts the database password from the failure it reports and prints, as a backup does", async () => {
    const password = "Drill-S3cret-pw";
    // A destination folder whose name happens to contain the password: the message names it.
    const parent = await mkdtemp(path.join(tmpdir(), "edms-drill-notify-secret-"));
    const root = path.join(parent, `backups-${password}`);
    await mkdir(root);
    const result = await runRunner(["drill"], {
      BACKUP_DESTINATION: `file://${root}`,
      DATABASE_URL: `postgres://app:${password}@127.0.0.1:1/edms`,
      ...channels("secret"),
    });
    expect(result.code).toBe(1);
    const { payload } = received("secret");
    expect(payload!.error).toMatch(/no complete backup( of tier [a-z, ]+)? at file:\/\/\S+\/backups-\*\*\*/);
    expect(JSON.stringify(payload)).not.toContain(password);
    expect(result.stderr).toMatch(/no complete backup/);
    expect(result.stdout + result.stderr).not.toContain(password);
  });

  it("logs in the readable view on a terminal even before its settings are valid", async () => {
    const run = await runOnTerminal(["drill"], { ...channels("tty") }); // no destination: exit 2
    expect(run.code, run.raw).toBe(2);
    const lines = run.rows.map((r) => r.text);
    expect(lines).toContainEqual(expect.stringMatching(/^\[\d\d:\d\d:\d\d\] INFO: webhook notified \(stage notify\)$/));
    expect(lines.filter((l) => l.startsWith("{"))).toEqual([]);
    expect(received("tty").payload).toMatchObject({
      status: "failure",
      error: expect.stringMatching(/BACKUP_DESTINATION/),
    });
  });
});
