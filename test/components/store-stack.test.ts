/**
 * The stack side of the content store (mediaFormat store, the default; issue 22), on the prod stack and the
 * pure builders: the lifecycle rule of the content prefix (S3's prefix filter as the oracle), the
 * stack-config keys, the gc alarm's window, and the store key: a Pulumi secret in a Kubernetes
 * Secret that only backup pods mount, never in the ConfigMap.
 */
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { storeObjectKey, TIERS } from "../../runner/src/contract.js";
import { lifecycleRules } from "../../components/storage/bucket-rules.js";
import { parseStackConfig, StackConfigError } from "../../components/config/stack-config.js";
import { gcEnabled, usesStore } from "../../components/media-store/store-config.js";
import { gcAlarmRules } from "../../components/media-store/store-gc-alarms.js";
import { SECRET_PLACEHOLDER } from "../../components/config/stack-file.js";
import { isPulumiSecret, unwrapSecrets } from "./k8s-validation.js";
import { MINIMAL_CONFIG } from "./minimal-config.js";
import { at, ofType, one, runStack, type Recorded, type StackRun } from "./stack-harness.js";

const minimal = {
  ...MINIMAL_CONFIG,
  media: { pvcName: "media", accessMode: "ReadWriteMany" },
};

function problems(raw: Record<string, unknown>): string[] {
  try {
    parseStackConfig(raw);
  } catch (error) {
    if (error instanceof StackConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("the content prefix's lifecycle rule", () => {
  const retention = { daily: 7, weekly: 28, monthly: 366, adhoc: 30 };
  // S3 applies a rule to a key when the key starts with the rule's filter prefix.
  const rulesFor = (rules: ReturnType<typeof lifecycleRules>, key: string) =>
    rules.filter((r) => key.startsWith(r.filter.prefix)).map((r) => r.id);
  const keyPrefix = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,12}(\/[A-Za-z0-9][A-Za-z0-9._-]{0,12}){0,2}$/);

  it("every content object falls under the store rule alone: never expired by age, its versions and uploads as elsewhere", () => {
    fc.assert(
      fc.property(keyPrefix, fc.stringMatching(/^[0-9a-f]{64}$/), fc.boolean(), (prefix, name, encrypted) => {
        const rules = lifecycleRules({ keyPrefix: prefix, retentionDays: retention, noncurrentVersionDays: 5 });
        const key = `${prefix}/${storeObjectKey(name, encrypted)}`;
        expect(rulesFor(rules, key)).toEqual(["store-objects"]);
        const rule = rules.find((r) => r.id === "store-objects")!;
        expect(rule.expiration).toEqual({ expiredObjectDeleteMarker: true });
        expect(rule.noncurrentVersionExpiration).toEqual({ noncurrentDays: 5 });
        expect(rule.abortIncompleteMultipartUpload).toEqual({ daysAfterInitiation: 1 });
        expect(rule.transitions).toBeUndefined();
      }),
    );
  });

  it("every object of a set (its index included) falls under its tier's rule alone, as before", () => {
    fc.assert(
      fc.property(
        keyPrefix,
        fc.constantFrom(...TIERS),
        fc.constantFrom("manifest.json", "media-index.jsonl.zst", "media-index.jsonl.zst.age", "database.dump.zst"),
        (prefix, tier, file) => {
          const rules = lifecycleRules({ keyPrefix: prefix, retentionDays: retention, noncurrentVersionDays: 5 });
          expect(rulesFor(rules, `${prefix}/${tier}/20260111T144748Z-3f9a/${file}`)).toEqual([`${tier}-retention`]);
        },
      ),
    );
  });
});

describe("stack config of the content store", () => {
  it("defaults to the runner's default (store), gc on with it, and a daily gc schedule after the backups", () => {
    const config = parseStackConfig(minimal);
    expect(config.mediaFormat).toBe("store");
    expect(config.mediaStore).toEqual({ gc: { schedule: "30 5 * * *" } });
    expect(usesStore(config)).toBe(true);
    expect(gcEnabled(config)).toBe(true);
    // tar kept on purpose: no store, no gc.
    const tar = parseStackConfig({ ...minimal, mediaFormat: "tar" });
    expect([tar.mediaFormat, usesStore(tar), gcEnabled(tar)]).toEqual(["tar", false, false]);
    // Back on tar, the store's objects stay referenced until their sets expire: gc can stay on.
    expect(gcEnabled(parseStackConfig({ ...minimal, mediaFormat: "tar", mediaStore: { gc: { enabled: true } } }))).toBe(
      true,
    );
    // Without a media folder the default stores nothing: no store key, no gc, and no complaint.
    const { media: _media, ...noMedia } = minimal;
    const bare = parseStackConfig(noMedia);
    expect([usesStore(bare), gcEnabled(bare)]).toEqual([false, false]);
  });

  it("rejects the store without a media folder, an unknown format and an unwatchable gc schedule, naming each", () => {
    const { media: _media, ...noMedia } = minimal;
    expect(problems({ ...noMedia, mediaFormat: "store" })).toEqual([
      "edms-backup:mediaFormat is store, but there is no media folder (media): remove mediaFormat or configure media",
    ]);
    expect(problems({ ...minimal, mediaFormat: "zip" })).toEqual(["edms-backup:mediaFormat must be one of tar, store"]);
    // Weekly + 6 h grace is past the 7 days a CloudWatch alarm can look back.
    const weekly = { ...minimal, mediaFormat: "store", mediaStore: { gc: { schedule: "0 5 * * 0" } } };
    expect(problems({ ...weekly, cloudwatchNamespace: "EDMS/Backup" })).toEqual([
      'edms-backup:mediaStore.gc.schedule ("0 5 * * 0") leaves up to 174 h between gc runs with alerts.graceHours: the gc alarm can watch at most 168 h; run gc more often (e.g. "30 5 * * *")',
    ]);
    expect(problems(weekly)).toEqual([]);
    expect(problems({ ...minimal, mediaStore: { gc: { schedule: "* * *" }, transfers: 65, typo: 1 } })).toEqual([
      'edms-backup:mediaStore.gc.schedule invalid cron expression "* * *": must have 5 fields (minute hour day-of-month month day-of-week), got 3 (example: "0 2 * * *" = 02:00 every day)',
      "edms-backup:mediaStore.transfers Too big: expected number to be <=64",
      'edms-backup:mediaStore: unknown key "typo" (a typo?)',
    ]);
  });

  it("takes a store key of at least 32 characters, or one set as a Pulumi secret, and never quotes it", () => {
    const store = { ...minimal, mediaFormat: "store" };
    const key = "0123456789abcdef".repeat(4);
    expect(parseStackConfig({ ...store, mediaStoreKey: key }).mediaStoreKey).toBe(key);
    // Read without the CLI, a `pulumi config set --secret` value is only known to be there.
    expect(problems({ ...store, mediaStoreKey: SECRET_PLACEHOLDER })).toEqual([]);
    for (const bad of ["short-secret-0123456789", ` ${key}`, `${"x".repeat(40)}\n`]) {
      const found = problems({ ...store, mediaStoreKey: bad });
      expect(found.length, bad).toBeGreaterThan(0);
      expect(found.join("\n")).toMatch(/^edms-backup:mediaStoreKey /);
      expect(found.join("\n")).not.toContain(bad.trim());
    }
  });
});

describe("the gc alarm's window", () => {
  it("is one-hour periods over the interval + grace, every one without a success, within CloudWatch's 7 days", () => {
    const rules = gcAlarmRules({ appName: "edms", namespace: "EDMS/Backup", windowHours: 30 });
    expect(rules.overdue).toMatchObject({
      metricName: "GcSucceeded",
      dimensions: { App: "edms" },
      period: 3600,
      evaluationPeriods: 30,
      datapointsToAlarm: 30,
      threshold: 1,
      comparisonOperator: "LessThanThreshold",
      treatMissingData: "breaching",
    });
    expect(rules.failed).toMatchObject({ metricName: "GcSucceeded", statistic: "Minimum", treatMissingData: "ignore" });
    expect(rules.composite.alarmRule).toBe('ALARM("edms-backup-gc-failed") OR ALARM("edms-backup-gc-overdue")');
    expect(gcAlarmRules({ appName: "a", namespace: "n", windowHours: 168 }).overdue.evaluationPeriods).toBe(168);
    expect(() => gcAlarmRules({ appName: "a", namespace: "n", windowHours: 168.5 })).toThrow(/exceeds/);
  });
});

describe("the prod stack's store key and gc", () => {
  let run: StackRun;
  beforeAll(async () => {
    run = await runStack("prod");
  });
  const cronJobs = () => ofType(run, "kubernetes:batch/v1:CronJob");
  const podOf = (r: Recorded) => at(r.inputs, "spec", "jobTemplate", "spec", "template", "spec");
  const command = (r: Recorded) => String(at(podOf(r), "containers", 0, "args", 0));

  it("keeps the generated key as a Pulumi secret in a Secret of the namespace, 32 random bytes", () => {
    const secret = one(run, "kubernetes:core/v1:Secret", "edms-backup-store-key-secret").inputs;
    expect(at(secret, "metadata")).toMatchObject({ name: "edms-backup-store-key", namespace: "edms" });
    // Encrypted in the Pulumi state, not only hidden in the cluster.
    expect(isPulumiSecret(secret.stringData)).toBe(true);
    expect(at(unwrapSecrets(secret), "stringData", "key")).toMatch(/^[0-9a-f]{64}$/);
  });

  it("is mounted by the backup CronJobs only (every tier and adhoc), as MEDIA_STORE_KEY_FILE, never as a value", () => {
    const key = String(
      at(
        unwrapSecrets(one(run, "kubernetes:core/v1:Secret", "edms-backup-store-key-secret").inputs),
        "stringData",
        "key",
      ),
    );
    const mounting = cronJobs().filter((c) =>
      JSON.stringify(podOf(c)).includes('"secretName":"edms-backup-store-key"'),
    );
    expect(mounting.map((c) => String(at(c.inputs, "metadata", "name"))).sort()).toEqual([
      "edms-backup-adhoc",
      "edms-backup-daily",
      "edms-backup-monthly",
      "edms-backup-weekly",
    ]);
    for (const c of mounting) {
      expect(command(c)).toBe("backup");
      expect(at(podOf(c), "volumes")).toContainEqual({
        name: "store-key",
        secret: { secretName: "edms-backup-store-key", items: [{ key: "key", path: "key" }], defaultMode: 0o444 },
      });
      expect(at(podOf(c), "containers", 0, "volumeMounts")).toContainEqual({
        name: "store-key",
        mountPath: "/run/secrets/edms-store-key",
        readOnly: true,
      });
      expect(at(podOf(c), "containers", 0, "env")).toContainEqual({
        name: "MEDIA_STORE_KEY_FILE",
        value: "/run/secrets/edms-store-key/key",
      });
    }
    // Nothing else refers to it: not gc, the drill, status, the ConfigMap or the operator's commands.
    for (const r of run.resources.filter((r) => !mounting.includes(r) && r.type !== "kubernetes:core/v1:Secret")) {
      expect(JSON.stringify(r.inputs), r.name).not.toMatch(/edms-backup-store-key|MEDIA_STORE_KEY|edms-store-key/);
      expect(JSON.stringify(r.inputs), r.name).not.toContain(key);
    }
    expect(JSON.stringify(run.outputs)).not.toMatch(/edms-backup-store-key|MEDIA_STORE_KEY/);
  });

  it("tells every pod the media format in the ConfigMap, and runs gc --yes daily under its own service account", () => {
    // The prod stack leaves mediaFormat to the default: what follows is what an upgrade gets.
    expect(run.config).not.toHaveProperty(["edms-backup:mediaFormat"]);
    const data = at(one(run, "kubernetes:core/v1:ConfigMap", "edms-backup-schedule-config").inputs, "data");
    expect(data).toMatchObject({ MEDIA_FORMAT: "store", MEDIA_STORE_TRANSFERS: "8" });
    const gc = one(run, "kubernetes:batch/v1:CronJob", "edms-backup-gc-cron").inputs;
    expect(at(gc, "metadata", "name")).toBe("edms-backup-gc");
    expect(at(gc, "metadata", "labels", "app.kubernetes.io/component")).toBe("gc");
    expect(at(gc, "spec")).toMatchObject({ schedule: "30 5 * * *", concurrencyPolicy: "Forbid", suspend: false });
    const pod = at(gc, "spec", "jobTemplate", "spec", "template", "spec");
    expect(at(pod, "serviceAccountName")).toBe("edms-backup-gc");
    expect(at(pod, "containers", 0, "args")).toEqual(["gc", "--yes"]);
    // No database, no media volume: it reads the bucket only.
    expect(JSON.stringify(pod)).not.toMatch(/PGPASSWORD|"media"/);
    const account = one(run, "kubernetes:core/v1:ServiceAccount", "edms-backup-gc-identity-service-account").inputs;
    expect(at(account, "metadata", "annotations", "eks.amazonaws.com/role-arn")).toBe(
      "arn:aws:iam::123456789012:role/edms-backup-gc-identity-role",
    );
    expect(run.outputs.gcRoleArn).toBe("arn:aws:iam::123456789012:role/edms-backup-gc-identity-role");
  });

  it("alarms on the backups' topic when gc fails or none finished within a day + the 6 h grace", () => {
    const topic = `arn:aws:sns:ap-southeast-1:123456789012:edms-backup-alarms-20260111abcdef`;
    const overdue = one(run, "aws:cloudwatch/metricAlarm:MetricAlarm", "edms-backup-gc-overdue").inputs;
    expect(overdue).toMatchObject({ namespace: "EDMS/Backup", evaluationPeriods: 30, period: 3600 });
    expect(overdue.alarmActions).toBeUndefined();
    const composite = one(run, "aws:cloudwatch/compositeAlarm:CompositeAlarm", "edms-backup-gc-alarm").inputs;
    expect(composite).toMatchObject({ alarmName: "edms-backup-gc", alarmActions: [topic], okActions: [topic] });
  });
});
