/**
 * The content store's stack pieces with non-prod choices: back on tar after using the store (gc
 * kept on explicitly, so objects of the store sets still in retention are freed when those expire),
 * and no metrics (so no gc alarms). Its own file, so index.ts is evaluated afresh under these mocks.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { at, ofType, one, runStack, type StackRun } from "./stack-harness.js";

let run: StackRun;
beforeAll(async () => {
  run = await runStack("prod", {
    mediaFormat: "tar",
    mediaStore: { gc: { enabled: true, schedule: "15 4 * * 0" } },
    cloudwatchNamespace: undefined,
    alertEmails: undefined,
  });
});

describe("a stack back on tar with gc kept, without metrics", () => {
  it("writes tar sets: MEDIA_FORMAT tar in the ConfigMap, no store key Secret, nothing mounts one", () => {
    const data = at(one(run, "kubernetes:core/v1:ConfigMap", "edms-backup-schedule-config").inputs, "data");
    expect(at(data, "MEDIA_FORMAT")).toBe("tar");
    expect(ofType(run, "kubernetes:core/v1:Secret")).toEqual([]);
    expect(JSON.stringify(run.resources.map((r) => r.inputs))).not.toMatch(/store-key|MEDIA_STORE_KEY/);
  });

  it("still runs gc on its schedule (weekly is fine without an alarm to watch it), and has no gc alarm", () => {
    const gc = one(run, "kubernetes:batch/v1:CronJob", "edms-backup-gc-cron").inputs;
    expect(at(gc, "spec", "schedule")).toBe("15 4 * * 0");
    expect(at(gc, "spec", "jobTemplate", "spec", "template", "spec", "containers", 0, "args")).toEqual(["gc", "--yes"]);
    // The grace left to the runner's default.
    expect(JSON.stringify(gc)).not.toContain("MEDIA_STORE_GC_GRACE_HOURS");
    expect(ofType(run, "aws:cloudwatch/metricAlarm:MetricAlarm")).toEqual([]);
    expect(ofType(run, "aws:cloudwatch/compositeAlarm:CompositeAlarm")).toEqual([]);
    // No namespace to publish into: the gc role gets no CloudWatch grant.
    const policy = String(one(run, "aws:iam/rolePolicy:RolePolicy", "edms-backup-gc-identity-policy").inputs.policy);
    expect(policy).not.toContain("cloudwatch");
    expect(run.outputs.cronJobNames).toMatchObject({ gc: "edms-backup-gc" });
  });
});
