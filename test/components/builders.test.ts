/** The pure builders, without Pulumi: lifecycle rules, IAM documents, pod/CronJob/NetworkPolicy specs, schedules. */
import { CronJob } from "kubernetes-models/batch/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { describe, expect, it } from "vitest";
import { runnerEnvSchema } from "../../runner/src/contract.js";
import {
  lifecycleRules,
  objectLockDefaultDays,
  tierPrefix,
  tlsOnlyBucketPolicy,
} from "../../components/storage/bucket-rules.js";
import { cronJobSpec, SUSPENDED_SCHEDULE, type JobPolicy } from "../../components/schedule/cron-job-spec.js";
import { irsaTrustPolicy, oidcIssuerFromProviderArn, runnerPolicy } from "../../components/identity/iam-policies.js";
import { ecrLifecyclePolicy, imageTag, pinnedReference } from "../../components/image/image-rules.js";
import { networkPolicySpec } from "../../components/schedule/network-policy-spec.js";
import { operatorCommands } from "../../components/schedule/operator-commands.js";
import { podSpec, type PodSettings } from "../../components/schedule/pod-spec.js";
import { configMapData, tierEnv } from "../../components/schedule/runner-env.js";
import {
  cronProblem,
  isKnownTimeZone,
  longestIntervalDays,
  minimumBackupsKept,
  nextRuns,
} from "../../components/config/schedules.js";

const retention = { daily: 7, weekly: 28, monthly: 366, adhoc: 30 };
const policy: JobPolicy = {
  startingDeadlineSeconds: 600,
  activeDeadlineSeconds: 3600,
  backoffLimit: 0,
  successfulJobsHistoryLimit: 1,
  failedJobsHistoryLimit: 1,
};
const podSettings: PodSettings = {
  image: `repo@sha256:${"a".repeat(64)}`,
  args: ["backup", "--tier", "daily"],
  env: tierEnv("daily"),
  serviceAccountName: "sa",
  configMapName: "cm",
  passwordSecret: { name: "db", key: "password" },
  resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { cpu: "1", memory: "256Mi" } },
  tmpSizeLimit: "512Mi",
  runAsUser: 10001,
  runAsGroup: 10001,
  supplementalGroups: [],
};

describe("schedules", () => {
  it("accepts five-field expressions and rejects the rest", () => {
    expect(cronProblem("0 2 * * *")).toBeUndefined();
    expect(cronProblem("0 0 2 * * *")).toMatch(/5 fields/);
    expect(cronProblem("TZ=UTC 0 2 * * *")).toMatch(/TZ=/);
    expect(cronProblem("0 25 * * *")).toBeDefined();
  });

  it("knows IANA zones and refuses offsets and typos", () => {
    expect(isKnownTimeZone("Asia/Singapore")).toBe(true);
    expect(isKnownTimeZone("UTC")).toBe(true);
    expect(isKnownTimeZone("+08:00")).toBe(false);
    expect(isKnownTimeZone("Asia/Singapur")).toBe(false);
  });

  it("computes runs in the configured zone and the longest interval", () => {
    expect(nextRuns("0 2 * * *", "Asia/Singapore", new Date("2026-01-11T00:00:00Z"), 1)[0]!.toISOString()).toBe(
      "2026-01-11T18:00:00.000Z",
    );
    expect(longestIntervalDays("0 2 * * *", "Asia/Singapore")).toBe(1);
    expect(longestIntervalDays("0 3 * * 0", "Asia/Singapore")).toBe(7);
    expect(longestIntervalDays("0 4 1 * *", "Asia/Singapore")).toBe(31);
    expect(minimumBackupsKept("0 4 1 * *", "Asia/Singapore", 365)).toBe(12);
    expect(minimumBackupsKept("0 2 * * *", "Asia/Singapore", 6)).toBe(6);
  });
});

describe("bucket rules", () => {
  it("has a rule per tier on <prefix>/<tier>/ with expiry, noncurrent expiry and multipart abort", () => {
    const rules = lifecycleRules({ keyPrefix: "edms", retentionDays: retention, noncurrentVersionDays: 3 });
    expect(rules.map((r) => r.filter.prefix)).toEqual([
      "edms/daily/",
      "edms/weekly/",
      "edms/monthly/",
      "edms/adhoc/",
      "edms/store/objects/",
    ]);
    expect(rules.map((r) => r.expiration)).toEqual([
      { days: 7 },
      { days: 28 },
      { days: 366 },
      { days: 30 },
      // Content objects never expire by age (gc frees them); only orphaned delete markers go.
      { expiredObjectDeleteMarker: true },
    ]);
    expect(
      rules.every(
        (r) =>
          r.abortIncompleteMultipartUpload.daysAfterInitiation === 1 &&
          r.noncurrentVersionExpiration.noncurrentDays === 3,
      ),
    ).toBe(true);
    expect(rules.some((r) => r.transitions)).toBe(false);
    expect(tierPrefix("a/b", "weekly")).toBe("a/b/weekly/");
  });

  it("transitions monthly backups only, and only before they expire", () => {
    const rules = lifecycleRules({
      keyPrefix: "p",
      retentionDays: retention,
      noncurrentVersionDays: 7,
      monthlyTransition: { storageClass: "STANDARD_IA", afterDays: 30 },
    });
    expect(rules.filter((r) => r.transitions).map((r) => r.id)).toEqual(["monthly-retention"]);
    expect(() =>
      lifecycleRules({
        keyPrefix: "p",
        retentionDays: retention,
        noncurrentVersionDays: 7,
        monthlyTransition: { storageClass: "GLACIER_IR", afterDays: 366 },
      }),
    ).toThrow();
  });

  it("denies non-TLS access to the bucket and its objects", () => {
    const doc = tlsOnlyBucketPolicy("arn:aws:s3:::b");
    expect(doc.Statement[0]).toMatchObject({
      Effect: "Deny",
      Principal: "*",
      Resource: ["arn:aws:s3:::b", "arn:aws:s3:::b/*"],
      Condition: { Bool: { "aws:SecureTransport": "false" } },
    });
    expect(objectLockDefaultDays(retention)).toBe(7);
  });
});

describe("IAM documents", () => {
  const base = {
    bucketArn: "arn:aws:s3:::b",
    keyPrefix: "edms",
    kmsKeyArn: "arn:aws:kms:r:1:key/k",
    region: "ap-southeast-1",
  };

  it("allows nothing destructive, with or without Object Lock and metrics", () => {
    for (const objectLock of [false, true]) {
      for (const cloudwatchNamespace of [undefined, "NS"]) {
        const doc = runnerPolicy({ ...base, objectLock, cloudwatchNamespace });
        const allowed = doc.Statement.filter((s) => s.Effect === "Allow").flatMap((s) =>
          Array.isArray(s.Action) ? s.Action : [s.Action],
        );
        expect(allowed.filter((a) => /\*|Delete|PutBucket|Lifecycle|ObjectLockConfiguration|Bypass/.test(a))).toEqual(
          [],
        );
        expect(allowed.includes("s3:PutObjectRetention")).toBe(objectLock);
        expect(allowed.includes("cloudwatch:PutMetricData")).toBe(cloudwatchNamespace !== undefined);
        expect(doc.Statement.at(-1)).toMatchObject({ Effect: "Deny", Sid: "NeverDestroyBackups" });
      }
    }
  });

  it("builds IRSA conditions from the provider ARN", () => {
    const arn = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/ABC";
    expect(oidcIssuerFromProviderArn(arn)).toBe("oidc.eks.us-east-1.amazonaws.com/id/ABC");
    expect(irsaTrustPolicy(arn, "ns", "sa").Statement[0]!.Condition).toEqual({
      StringEquals: {
        "oidc.eks.us-east-1.amazonaws.com/id/ABC:sub": "system:serviceaccount:ns:sa",
        "oidc.eks.us-east-1.amazonaws.com/id/ABC:aud": "sts.amazonaws.com",
      },
    });
    expect(() => oidcIssuerFromProviderArn("arn:aws:iam::1:role/x")).toThrow();
  });
});

describe("pod and CronJob specs", () => {
  it("builds a restricted, schema-valid CronJob", () => {
    const spec = cronJobSpec({
      schedule: "0 2 * * *",
      timeZone: "Asia/Singapore",
      suspend: false,
      labels: { a: "b" },
      pod: podSpec(podSettings),
      policy,
    });
    expect(spec.concurrencyPolicy).toBe("Forbid");
    new CronJob({ metadata: { name: "x" }, spec }).validate();
  });

  it("rejects invalid combinations", () => {
    expect(() => podSpec({ ...podSettings, runAsUser: 0 })).toThrow(/root/);
    expect(() =>
      cronJobSpec({ schedule: "nope", timeZone: "UTC", suspend: false, labels: {}, pod: podSpec(podSettings), policy }),
    ).toThrow(/invalid schedule/);
    expect(() =>
      cronJobSpec({
        schedule: "0 2 * * *",
        timeZone: "Mars/Olympus",
        suspend: false,
        labels: {},
        pod: podSpec(podSettings),
        policy,
      }),
    ).toThrow(/time zone/);
    expect(() =>
      cronJobSpec({
        schedule: "0 2 * * *",
        timeZone: "UTC",
        suspend: false,
        labels: {},
        pod: { ...podSpec(podSettings), restartPolicy: "OnFailure" },
        policy,
      }),
    ).toThrow(/Never/);
    expect(cronProblem(SUSPENDED_SCHEDULE)).toBeUndefined();
  });

  it("adds pod affinity only for a ReadWriteOnce media volume, and never an fsGroup", () => {
    const rwx = podSpec({ ...podSettings, media: { pvcName: "m", mountPath: "/media" } });
    expect(rwx.affinity).toBeUndefined();
    const rwo = podSpec({
      ...podSettings,
      media: { pvcName: "m", mountPath: "/media", colocateWith: { app: "edms" } },
    });
    expect(rwo.affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.[0]?.topologyKey).toBe(
      "kubernetes.io/hostname",
    );
    expect(rwo.securityContext?.fsGroup).toBeUndefined();
    expect(rwo.containers[0]!.volumeMounts).toContainEqual({ name: "media", mountPath: "/media", readOnly: true });
  });

  it("builds a schema-valid NetworkPolicy and requires a database peer", () => {
    const spec = networkPolicySpec({
      podSelector: { a: "b" },
      database: { port: 5432, cidr: "10.0.0.0/16" },
      podIdentityAgent: false,
    });
    new NetworkPolicy({ metadata: { name: "x" }, spec }).validate();
    expect(spec.egress).toHaveLength(3);
    expect(() => networkPolicySpec({ podSelector: {}, database: { port: 5432 }, podIdentityAgent: false })).toThrow();
  });
});

describe("runner environment", () => {
  it("is accepted by the runner's schema", () => {
    const data = configMapData({
      appName: "edms",
      bucketName: "b",
      keyPrefix: "edms",
      region: "r",
      logLevel: "info",
      database: { host: "h", port: 5432, name: "d", user: "u", sslMode: "require" },
    });
    const { PGHOST, PGPORT, PGDATABASE, PGUSER, PGSSLMODE, AWS_REGION, ...runner } = data;
    expect([PGHOST, PGPORT, PGDATABASE, PGUSER, PGSSLMODE, AWS_REGION]).toEqual([
      "h",
      "5432",
      "d",
      "u",
      "require",
      "r",
    ]);
    const parsed = runnerEnvSchema
      .strict()
      .parse({ ...runner, ...tierEnv("monthly", { mode: "COMPLIANCE", retentionDays: 366 }) });
    expect(parsed).toMatchObject({
      BACKUP_DESTINATION: "s3://b/edms",
      BACKUP_MEDIA: false,
      BACKUP_TIER: "monthly",
      OBJECT_LOCK_MODE: "COMPLIANCE",
      OBJECT_LOCK_DAYS: 366,
    });
    expect(tierEnv("adhoc").BACKUP_TRIGGER).toBe("manual");
  });
});

describe("image and commands", () => {
  it("derives a stable tag from the build inputs and pins digests", () => {
    const a = imageTag("0.1.0", { PG_MAJOR: "15" }, [{ path: "x", data: "1" }]);
    expect(a).toMatch(/^0\.1\.0-pg15-[0-9a-f]{12}$/);
    expect(imageTag("0.1.0", { PG_MAJOR: "15" }, [{ path: "x", data: "1" }])).toBe(a);
    expect(imageTag("0.1.0", { PG_MAJOR: "16" }, [{ path: "x", data: "1" }])).not.toBe(a);
    expect(pinnedReference("r/x", `r/x@sha256:${"b".repeat(64)}`)).toBe(`r/x@sha256:${"b".repeat(64)}`);
    expect(() => pinnedReference("r/x", "r/x:latest")).toThrow();
    expect((JSON.parse(ecrLifecyclePolicy(5)) as { rules: unknown[] }).rules).toHaveLength(2);
  });

  it("quotes the one-off pod overrides for the shell", () => {
    const commands = operatorCommands({
      namespace: "ns",
      adhocCronJob: "a-backup-adhoc",
      instanceSelector: "app.kubernetes.io/instance=a-backup",
      oneOffPod: (args) => ({
        name: "a-backup-list",
        image: "img",
        labels: { x: "it's" },
        spec: podSpec({ ...podSettings, args }),
      }),
    });
    expect(commands.startDrill).toBeUndefined();
    expect(commands.listBackups).toContain(`"x":"it'\\''s"`);
  });
});
