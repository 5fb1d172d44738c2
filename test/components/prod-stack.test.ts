/**
 * The real index.ts with the values of Pulumi.prod.yaml, under Pulumi's mocks: the exact resources,
 * every security-relevant input, schema validation of every Kubernetes object, and the CronJobs'
 * environment parsed by the runner's own schema.
 */
import { readdirSync } from "node:fs";
import path from "node:path";
import { CronExpressionParser } from "cron-parser";
import { beforeAll, describe, expect, it } from "vitest";
import { runnerEnvSchema, runnerEnvShape } from "../../runner/src/contract.js";
import { AWS_ENV_NAMES, LIBPQ_ENV_NAMES } from "../../components/schedule/runner-env.js";
import { validateKubernetesObject } from "./k8s-validation.js";
import { ACCOUNT, ofType, one, REPO_ROOT, runStack, type Recorded, type StackRun } from "./stack-harness.js";
import type { PolicyDocument } from "../../components/identity/iam-policies.js";

let run: StackRun;
beforeAll(async () => {
  run = await runStack("prod");
});

/** Navigates recorded (plain JSON) inputs without `any`. */
function at(value: unknown, ...path: Array<string | number>): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

interface Container {
  name: string;
  args: string[];
  env: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }>;
  envFrom: Array<{ configMapRef: { name: string } }>;
  securityContext: Record<string, unknown>;
  volumeMounts: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  resources: { requests: Record<string, string>; limits: Record<string, string> };
}

function podOf(cronJob: Recorded): Record<string, unknown> {
  return at(cronJob.inputs, "spec", "jobTemplate", "spec", "template", "spec") as Record<string, unknown>;
}
function containerOf(cronJob: Recorded): Container {
  return (at(podOf(cronJob), "containers") as Container[])[0]!;
}
function policy(json: unknown): PolicyDocument {
  return JSON.parse(String(json)) as PolicyDocument;
}
function actions(statement: PolicyDocument["Statement"][number]): string[] {
  return Array.isArray(statement.Action) ? statement.Action : [statement.Action];
}

const EXPECTED = [
  "aws:cloudwatch/compositeAlarm:CompositeAlarm edms-backup-alarms-drill",
  "aws:cloudwatch/compositeAlarm:CompositeAlarm edms-backup-gc-alarm",
  "aws:cloudwatch/dashboard:Dashboard edms-backup-dashboard-dashboard",
  "aws:cloudwatch/metricAlarm:MetricAlarm edms-backup-alarms-daily-age",
  "aws:cloudwatch/metricAlarm:MetricAlarm edms-backup-alarms-drill-failed",
  "aws:cloudwatch/metricAlarm:MetricAlarm edms-backup-alarms-drill-overdue",
  "aws:cloudwatch/metricAlarm:MetricAlarm edms-backup-alarms-monthly-age",
  "aws:cloudwatch/metricAlarm:MetricAlarm edms-backup-alarms-reference-check",
  "aws:cloudwatch/metricAlarm:MetricAlarm edms-backup-alarms-weekly-age",
  "aws:cloudwatch/metricAlarm:MetricAlarm edms-backup-gc-failed",
  "aws:cloudwatch/metricAlarm:MetricAlarm edms-backup-gc-overdue",
  "aws:ecr/lifecyclePolicy:LifecyclePolicy edms-backup-runner-repo-lifecycle",
  "aws:ecr/repository:Repository edms-backup-runner-repo",
  "aws:iam/role:Role edms-backup-exporter-identity-role",
  "aws:iam/role:Role edms-backup-gc-identity-role",
  "aws:iam/role:Role edms-backup-identity-role",
  "aws:iam/rolePolicy:RolePolicy edms-backup-exporter-identity-policy",
  "aws:iam/rolePolicy:RolePolicy edms-backup-gc-identity-policy",
  "aws:iam/rolePolicy:RolePolicy edms-backup-identity-policy",
  "aws:kms/alias:Alias edms-backup-key-alias",
  "aws:kms/key:Key edms-backup-key",
  "aws:s3/bucket:Bucket edms-backup-bucket",
  "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration edms-backup-lifecycle",
  "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration edms-backup-object-lock",
  "aws:s3/bucketOwnershipControls:BucketOwnershipControls edms-backup-ownership",
  "aws:s3/bucketPolicy:BucketPolicy edms-backup-policy",
  "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock edms-backup-public-access",
  "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration edms-backup-encryption",
  "aws:s3/bucketVersioning:BucketVersioning edms-backup-versioning",
  "aws:sns/topic:Topic edms-backup-alarms-topic",
  "aws:sns/topic:Topic edms-backup-run-summary-topic",
  "aws:sns/topicSubscription:TopicSubscription edms-backup-alarms-email-ops@example.com",
  "aws:sns/topicSubscription:TopicSubscription edms-backup-run-summary-email-backups@example.com",
  "docker:index/image:Image edms-backup-runner-image",
  "edms-backup:alarms:BackupAlarms edms-backup-alarms",
  "edms-backup:dashboard:BackupDashboard edms-backup-dashboard",
  "edms-backup:exporter:BackupExporter edms-backup-exporter",
  "edms-backup:identity:BackupIdentity edms-backup-exporter-identity",
  "edms-backup:identity:BackupIdentity edms-backup-gc-identity",
  "edms-backup:identity:BackupIdentity edms-backup-identity",
  "edms-backup:image:RunnerImage edms-backup-runner",
  "edms-backup:notify:RunSummaryTopic edms-backup-run-summary",
  "edms-backup:schedule:BackupSchedule edms-backup-schedule",
  "edms-backup:schedule:DeployCheck edms-backup-deploy-check",
  "edms-backup:schedule:FirstDeployStamp edms-backup-first-deploy",
  "edms-backup:storage:BackupBucket edms-backup",
  "edms-backup:store:StoreGc edms-backup-gc",
  "edms-backup:store:StoreKey edms-backup-store-key",
  "kubernetes:apps/v1:Deployment edms-backup-exporter-deployment",
  "kubernetes:batch/v1:CronJob edms-backup-gc-cron",
  "kubernetes:batch/v1:CronJob edms-backup-schedule-adhoc",
  "kubernetes:batch/v1:CronJob edms-backup-schedule-daily",
  "kubernetes:batch/v1:CronJob edms-backup-schedule-monthly",
  "kubernetes:batch/v1:CronJob edms-backup-schedule-restore-drill",
  "kubernetes:batch/v1:CronJob edms-backup-schedule-status",
  "kubernetes:batch/v1:CronJob edms-backup-schedule-weekly",
  "kubernetes:batch/v1:Job edms-backup-deploy-check-job",
  "kubernetes:batch/v1:Job edms-backup-schedule-status-first",
  "kubernetes:core/v1:ConfigMap edms-backup-commands",
  "kubernetes:core/v1:ConfigMap edms-backup-first-deploy-stamp",
  "kubernetes:core/v1:ConfigMap edms-backup-schedule-config",
  "kubernetes:core/v1:Secret edms-backup-store-key-secret",
  "kubernetes:core/v1:Service edms-backup-exporter-service",
  "kubernetes:core/v1:ServiceAccount edms-backup-exporter-identity-service-account",
  "kubernetes:core/v1:ServiceAccount edms-backup-gc-identity-service-account",
  "kubernetes:core/v1:ServiceAccount edms-backup-identity-service-account",
  "kubernetes:monitoring.coreos.com/v1:PrometheusRule edms-backup-exporter-rules",
  "kubernetes:monitoring.coreos.com/v1:ServiceMonitor edms-backup-exporter-service-monitor",
  "kubernetes:networking.k8s.io/v1:NetworkPolicy edms-backup-exporter-ingress",
  "kubernetes:networking.k8s.io/v1:NetworkPolicy edms-backup-schedule-egress",
  "pulumi:providers:kubernetes edms-backup-k8s",
];

describe("the prod stack under mocks", () => {
  it("declares exactly the expected resources", () => {
    expect(run.resources.map((r) => `${r.type} ${r.name}`).sort()).toEqual(EXPECTED);
  });

  it("exports the bucket, the pinned image, the CronJob names and the operator commands", () => {
    expect(run.outputs.bucketName).toMatch(/^edms-backups-/);
    expect(run.outputs.backupDestination).toBe(`s3://${String(run.outputs.bucketName)}/edms`);
    expect(run.outputs.imageRef).toMatch(
      /^[0-9]{12}\.dkr\.ecr\.ap-southeast-1\.amazonaws\.com\/edms-backup-runner-repo@sha256:[0-9a-f]{64}$/,
    );
    expect(run.outputs.cronJobNames).toEqual({
      daily: "edms-backup-daily",
      weekly: "edms-backup-weekly",
      monthly: "edms-backup-monthly",
      adhoc: "edms-backup-adhoc",
      "restore-drill": "edms-restore-drill",
      status: "edms-backup-status",
      gc: "edms-backup-gc",
    });
    const commands = run.outputs.commands as Record<string, string>;
    expect(commands.startAdhocBackup).toBe(
      'JOB=edms-backup-adhoc-$(date -u +%Y%m%d-%H%M%S) && kubectl --namespace edms create job --from=cronjob/edms-backup-adhoc "$JOB"',
    );
    expect(commands.followJob).toBe('kubectl --namespace edms logs --follow "job/$JOB"');
    expect(commands.jobLogs).toBe('kubectl --namespace edms logs "job/$JOB"');
    expect(commands.startDrill).toBe(
      'JOB=edms-restore-drill-$(date -u +%Y%m%d-%H%M%S) && kubectl --namespace edms create job --from=cronjob/edms-restore-drill "$JOB"',
    );
    expect(commands.listBackups).toMatch(
      /^kubectl --namespace edms run edms-backup-list --rm --stdin --quiet --restart=Never --image=\S+@sha256:[0-9a-f]{64} --override-type=merge --overrides='\{.*\}'$/,
    );
    const overrides = JSON.parse(/--overrides='(.*)'$/.exec(commands.listBackups!)![1]!) as Record<string, unknown>;
    expect(at(overrides, "spec", "containers", 0, "args")).toEqual(["list"]);
    expect(at(overrides, "spec", "securityContext", "runAsNonRoot")).toBe(true);
    expect(at(overrides, "metadata", "labels", "app.kubernetes.io/instance")).toBe("edms-backup");
  });

  it("exports a restore Job manifest: the runner's restore, media read-write, never retried, no affinity", () => {
    const command = (run.outputs.commands as Record<string, string>).startRestore!;
    const [head, manifestLine, end] = command.split("\n");
    expect(head).toBe(
      'JOB=edms-restore-$(date -u +%Y%m%d-%H%M%S) && BACKUP_ID="${BACKUP_ID:-latest}" && kubectl --namespace edms create -f - <<EOF',
    );
    expect(end).toBe("EOF");
    // What the shell's heredoc makes of it with BACKUP_ID set by the operator.
    const job = JSON.parse(
      manifestLine!
        .replaceAll("$JOB", "edms-restore-20260111-150000")
        .replaceAll("$BACKUP_ID", "20260111T144748Z-3f9a"),
    ) as Record<string, unknown>;
    validateKubernetesObject("kubernetes:batch/v1:Job", job);
    expect(at(job, "metadata", "name")).toBe("edms-restore-20260111-150000");
    expect(at(job, "metadata", "namespace")).toBe("edms");
    expect(at(job, "spec", "backoffLimit")).toBe(0);
    const pod = at(job, "spec", "template", "spec") as Record<string, unknown>;
    expect(at(pod, "containers", 0, "args")).toEqual([
      "restore",
      "20260111T144748Z-3f9a",
      "--yes",
      "--terminate-connections",
    ]);
    expect(at(pod, "containers", 0, "volumeMounts")).toContainEqual({
      name: "media",
      mountPath: "/media",
      readOnly: false,
    });
    expect(pod.volumes).toContainEqual({
      name: "media",
      persistentVolumeClaim: { claimName: "edms-media", readOnly: false },
    });
    expect(pod.affinity).toBeUndefined();
    expect(pod.serviceAccountName).toBe("edms-backup");
    expect(at(pod, "containers", 0, "securityContext", "readOnlyRootFilesystem")).toBe(true);
    expect(at(job, "spec", "template", "metadata", "labels")).toMatchObject({
      "app.kubernetes.io/instance": "edms-backup",
      "app.kubernetes.io/component": "restore",
    });
  });

  it("exports undo and cleanup Jobs on the restore Job's pod, and every command in a ConfigMap for kubectl-only use", () => {
    const commands = run.outputs.commands as Record<string, string>;
    const podOf = (name: string, vars: Record<string, string>) => {
      const [head, manifestLine, end] = commands[name]!.split("\n");
      expect(end).toBe("EOF");
      let text = manifestLine!;
      for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`$${k}`, v);
      expect(text).not.toContain("$");
      const job = JSON.parse(text) as Record<string, unknown>;
      validateKubernetesObject("kubernetes:batch/v1:Job", job);
      expect(at(job, "spec", "backoffLimit")).toBe(0);
      return { head: head!, pod: at(job, "spec", "template", "spec") as Record<string, unknown> };
    };
    const restore = podOf("startRestore", { JOB: "j", BACKUP_ID: "latest" });
    const undo = podOf("startUndoRestore", { JOB: "j" });
    const cleanup = podOf("startCleanup", { JOB: "j" });
    const cleanupNow = podOf("startCleanupNow", { JOB: "j" });
    expect(undo.head).toBe(
      "JOB=edms-restore-undo-$(date -u +%Y%m%d-%H%M%S) && kubectl --namespace edms create -f - <<EOF",
    );
    expect(cleanup.head).toBe(
      "JOB=edms-restore-cleanup-$(date -u +%Y%m%d-%H%M%S) && kubectl --namespace edms create -f - <<EOF",
    );
    expect(at(undo.pod, "containers", 0, "args")).toEqual(["undo-restore", "--yes", "--terminate-connections"]);
    // No window of its own: each kept copy's keepUntil decides (issue 21 item 2); "now" is asked for by name.
    expect(at(cleanup.pod, "containers", 0, "args")).toEqual(["cleanup", "--yes"]);
    expect(at(cleanupNow.pod, "containers", 0, "args")).toEqual(["cleanup", "--older-than", "0", "--yes"]);
    // The same pod as the restore's, but for its args.
    const withoutArgs = (pod: Record<string, unknown>) =>
      JSON.stringify({ ...pod, containers: [{ ...(at(pod, "containers", 0) as object), args: [] }] });
    expect(withoutArgs(undo.pod)).toBe(withoutArgs(restore.pod));
    expect(withoutArgs(cleanup.pod)).toBe(withoutArgs(restore.pod));
    expect(withoutArgs(cleanupNow.pod)).toBe(withoutArgs(restore.pod));
    const configMap = one(run, "kubernetes:core/v1:ConfigMap", "edms-backup-commands");
    expect(at(configMap.inputs, "metadata", "name")).toBe("edms-backup-commands");
    expect(at(configMap.inputs, "metadata", "namespace")).toBe("edms");
    expect(at(configMap.inputs, "data")).toEqual(commands);
  });

  describe("client-side encryption", () => {
    const IDENTITY_VOLUME = {
      name: "age-identity",
      secret: { secretName: "edms-backup-age", items: [{ key: "identity", path: "identity" }], defaultMode: 0o444 },
    };
    const IDENTITY_MOUNT = { name: "age-identity", mountPath: "/run/secrets/edms-age", readOnly: true };
    const IDENTITY_ENV = { name: "AGE_IDENTITY_FILE", value: "/run/secrets/edms-age/identity" };

    it("every backup encrypts to the stack's recipients (public keys, in the ConfigMap)", () => {
      const data = at(one(run, "kubernetes:core/v1:ConfigMap", "edms-backup-schedule-config").inputs, "data") as Record<
        string,
        string
      >;
      const parsed = runnerEnvSchema.pick({ ENCRYPTION_RECIPIENTS: true }).parse(data);
      expect(parsed.ENCRYPTION_RECIPIENTS!.split(",")).toHaveLength(2);
      expect(JSON.stringify(data)).not.toMatch(/AGE-SECRET-KEY|AGE_IDENTITY/i);
    });

    it("the identity is mounted only by the restore drill and the store's gc (it reads encrypted indexes): backup, adhoc and status CronJobs never reference it", () => {
      const cronJobs = ofType(run, "kubernetes:batch/v1:CronJob");
      expect(cronJobs.map((c) => c.name).sort()).toEqual([
        "edms-backup-gc-cron",
        "edms-backup-schedule-adhoc",
        "edms-backup-schedule-daily",
        "edms-backup-schedule-monthly",
        "edms-backup-schedule-restore-drill",
        "edms-backup-schedule-status",
        "edms-backup-schedule-weekly",
      ]);
      for (const cronJob of cronJobs) {
        const pod = podOf(cronJob);
        const container = containerOf(cronJob);
        if (cronJob.name.endsWith("restore-drill") || cronJob.name.endsWith("-gc-cron")) {
          expect(pod.volumes).toContainEqual(IDENTITY_VOLUME);
          expect(container.volumeMounts).toContainEqual(IDENTITY_MOUNT);
          expect(container.env).toContainEqual(IDENTITY_ENV);
          // The key itself never appears: only the Secret's name and the file's path.
          expect(container.env.map((e) => e.name)).not.toContain("AGE_IDENTITY");
          continue;
        }
        // Not the Secret, not the variable, not the mount path: nothing that could read it.
        expect(JSON.stringify(cronJob.inputs), cronJob.name).not.toMatch(/edms-backup-age|AGE_IDENTITY|edms-age/);
      }
    });

    it("the documented restore Job mounts the identity too (it decrypts)", () => {
      const command = (run.outputs.commands as Record<string, string>).startRestore!;
      const job = JSON.parse(command.split("\n")[1]!) as Record<string, unknown>;
      const pod = at(job, "spec", "template", "spec") as Record<string, unknown>;
      expect(pod.volumes).toContainEqual(IDENTITY_VOLUME);
      expect(at(pod, "containers", 0, "volumeMounts")).toContainEqual(IDENTITY_MOUNT);
      expect(at(pod, "containers", 0, "env")).toContainEqual(IDENTITY_ENV);
      // list and status, started by hand, do not.
      for (const name of ["listBackups", "status"])
        expect((run.outputs.commands as Record<string, string>)[name]).not.toMatch(/edms-backup-age|AGE_IDENTITY/);
    });
  });

  describe("bucket", () => {
    it("is private, owner-enforced, versioned and KMS-encrypted with a rotating key", () => {
      expect(
        one(run, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "edms-backup-public-access").inputs,
      ).toMatchObject({
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      });
      expect(
        at(
          one(run, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "edms-backup-ownership").inputs,
          "rule",
          "objectOwnership",
        ),
      ).toBe("BucketOwnerEnforced");
      expect(
        at(
          one(run, "aws:s3/bucketVersioning:BucketVersioning", "edms-backup-versioning").inputs,
          "versioningConfiguration",
          "status",
        ),
      ).toBe("Enabled");
      const sse = one(
        run,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "edms-backup-encryption",
      );
      expect(at(sse.inputs, "rules", 0, "applyServerSideEncryptionByDefault", "sseAlgorithm")).toBe("aws:kms");
      expect(at(sse.inputs, "rules", 0, "applyServerSideEncryptionByDefault", "kmsMasterKeyId")).toMatch(
        /^arn:aws:kms:/,
      );
      expect(one(run, "aws:kms/key:Key", "edms-backup-key").inputs.enableKeyRotation).toBe(true);
      const bucket = one(run, "aws:s3/bucket:Bucket", "edms-backup-bucket").inputs;
      expect(bucket.forceDestroy).toBe(false);
      expect(bucket.objectLockEnabled).toBe(true);
    });

    it("denies every request without TLS", () => {
      const doc = policy(one(run, "aws:s3/bucketPolicy:BucketPolicy", "edms-backup-policy").inputs.policy);
      const bucket = String(run.outputs.bucketName);
      expect(doc.Statement).toContainEqual({
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      });
      expect(doc.Statement.every((s) => s.Effect === "Deny")).toBe(true);
    });

    it("has one lifecycle configuration with a rule per tier prefix", () => {
      const lifecycles = ofType(run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration");
      expect(lifecycles).toHaveLength(1);
      const rules = lifecycles[0]!.inputs.rules as Array<Record<string, unknown>>;
      expect(rules.map((r) => [at(r, "filter", "prefix"), at(r, "expiration", "days")])).toEqual([
        ["edms/daily/", 7],
        ["edms/weekly/", 28],
        ["edms/monthly/", 366],
        ["edms/adhoc/", 30],
        // The content store: no age expiry (gc frees objects), only orphaned delete markers.
        ["edms/store/objects/", undefined],
      ]);
      expect(rules[4]!.expiration).toEqual({ expiredObjectDeleteMarker: true });
      for (const rule of rules) {
        expect(rule.status).toBe("Enabled");
        expect(at(rule, "abortIncompleteMultipartUpload", "daysAfterInitiation")).toBe(1);
        expect(at(rule, "noncurrentVersionExpiration", "noncurrentDays")).toBe(7);
      }
      expect(rules[2]!.transitions).toEqual([{ days: 30, storageClass: "GLACIER_IR" }]);
      expect(rules.filter((r) => r.transitions !== undefined)).toHaveLength(1);
    });

    it("enables Object Lock in governance mode with the shortest tier retention as the default", () => {
      const lock = one(
        run,
        "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration",
        "edms-backup-object-lock",
      ).inputs;
      expect(lock.objectLockEnabled).toBe("Enabled");
      expect(at(lock, "rule", "defaultRetention")).toEqual({ mode: "GOVERNANCE", days: 7 });
    });
  });

  describe("runner image", () => {
    it("is built for linux/amd64 from runner/Dockerfile and pushed to a scanned, immutable repository", () => {
      const repo = one(run, "aws:ecr/repository:Repository", "edms-backup-runner-repo").inputs;
      expect(repo.imageTagMutability).toBe("IMMUTABLE");
      expect(at(repo, "imageScanningConfiguration", "scanOnPush")).toBe(true);
      const image = one(run, "docker:index/image:Image", "edms-backup-runner-image").inputs;
      expect(image.imageName).toMatch(
        /^[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com\/edms-backup-runner-repo:0\.1\.0-pg15-[0-9a-f]{12}$/,
      );
      // The context is generated and named by the tag (test/components/image-context.test.ts).
      const tag = String(image.imageName).split(":").pop();
      expect(image.build).toEqual({
        context: `dist/runner-image/${tag}`,
        dockerfile: `dist/runner-image/${tag}/Dockerfile`,
        platform: "linux/amd64",
        args: { PG_MAJOR: "15", PG_APT_SOURCE: "pgdg" },
      });
      expect(readdirSync(path.join(REPO_ROOT, `dist/runner-image/${tag}`)).sort()).toEqual([
        "Dockerfile",
        "edms-backup.cjs",
      ]);
      // The registry block carries the ECR token, so Pulumi must treat it as a secret.
      expect(at(image, "registry", "4dabf18193072939515e22adb298388d")).toBe("1b47061264138c4ac30d75fd1eb44270");
      expect(at(image, "registry", "value", "username")).toBe("AWS");
      const lifecycle = JSON.parse(
        String(one(run, "aws:ecr/lifecyclePolicy:LifecyclePolicy", "edms-backup-runner-repo-lifecycle").inputs.policy),
      ) as {
        rules: Array<{ selection: { countNumber: number } }>;
      };
      expect(lifecycle.rules.map((r) => r.selection.countNumber)).toEqual([7, 20]);
      expect(run.calls).toContain("aws:ecr/getAuthorizationToken:getAuthorizationToken");
    });
  });

  describe("identity", () => {
    it("trusts exactly the namespace's service account through the cluster's OIDC provider", () => {
      const trust = policy(one(run, "aws:iam/role:Role", "edms-backup-identity-role").inputs.assumeRolePolicy);
      const issuer = "oidc.eks.ap-southeast-1.amazonaws.com/id/5C2B7E1F0D9A4A6B8E3F1C0D2A4B6C8E";
      expect(trust.Statement).toEqual([
        {
          Sid: "ServiceAccountWebIdentity",
          Effect: "Allow",
          Principal: { Federated: `arn:aws:iam::${ACCOUNT}:oidc-provider/${issuer}` },
          Action: "sts:AssumeRoleWithWebIdentity",
          Condition: {
            StringEquals: {
              [`${issuer}:sub`]: "system:serviceaccount:edms:edms-backup",
              [`${issuer}:aud`]: "sts.amazonaws.com",
            },
          },
        },
      ]);
      const sa = one(run, "kubernetes:core/v1:ServiceAccount", "edms-backup-identity-service-account").inputs;
      expect(at(sa, "metadata", "annotations", "eks.amazonaws.com/role-arn")).toBe(
        `arn:aws:iam::${ACCOUNT}:role/edms-backup-identity-role`,
      );
      expect(at(sa, "metadata", "namespace")).toBe("edms");
    });

    it("allows put, get and list on the backup prefix and the KMS key, and never a delete or a bucket configuration change", () => {
      const doc = policy(one(run, "aws:iam/rolePolicy:RolePolicy", "edms-backup-identity-policy").inputs.policy);
      const allows = doc.Statement.filter((s) => s.Effect === "Allow");
      const allowed = allows.flatMap(actions);
      for (const action of allowed) {
        expect(action).not.toMatch(
          /\*|Delete|PutBucket|PutLifecycle|ObjectLockConfiguration|Bypass|PutEncryption|PutReplication|PolicyStatus|Acl/,
        );
      }
      expect(new Set(allowed)).toEqual(
        new Set([
          "s3:ListBucket",
          "s3:ListBucketMultipartUploads",
          "s3:PutObject",
          "s3:GetObject",
          "s3:AbortMultipartUpload",
          "s3:ListMultipartUploadParts",
          "s3:PutObjectRetention",
          "s3:GetObjectRetention",
          "kms:GenerateDataKey",
          "kms:Decrypt",
          "cloudwatch:PutMetricData",
          "sns:Publish",
        ]),
      );
      const bucket = String(run.outputs.bucketName);
      const objectStatement = allows.find((s) => s.Sid === "ReadWriteBackups")!;
      expect(objectStatement.Resource).toBe(`arn:aws:s3:::${bucket}/edms/*`);
      // Reading a content object's lock before extending it, and only there.
      expect(allows.find((s) => s.Sid === "ReadContentObjectRetention")!.Resource).toBe(
        `arn:aws:s3:::${bucket}/edms/store/objects/*`,
      );
      // Whether each grant is effective is evaluated in iam-evaluation.test.ts.
      expect(allows.find((s) => s.Sid === "ListBackupPrefix")!.Condition).toEqual({
        StringLike: { "s3:prefix": ["edms/*"] },
      });
      expect(allows.find((s) => s.Sid === "UseBackupKeyThroughS3")!.Resource).toMatch(/^arn:aws:kms:/);
      const deny = doc.Statement.find((s) => s.Effect === "Deny")!;
      expect(actions(deny)).toEqual(
        expect.arrayContaining(["s3:Delete*", "s3:PutLifecycleConfiguration", "s3:BypassGovernanceRetention"]),
      );
    });
  });

  describe("kubernetes objects", () => {
    const kubernetes = () => run.resources.filter((r) => r.type.startsWith("kubernetes:"));

    it("are all valid against the Kubernetes OpenAPI schema", () => {
      expect(kubernetes()).toHaveLength(22);
      for (const object of kubernetes()) validateKubernetesObject(object.type, object.inputs);
    });

    it("are created with the stack's Kubernetes provider (kubeContext), the AWS resources with the default one", () => {
      const provider = `urn:pulumi:prod::edms-backup::pulumi:providers:kubernetes::edms-backup-k8s::edms-backup-k8s-id`;
      for (const object of kubernetes()) expect(object.provider, object.name).toBe(provider);
      for (const object of run.resources.filter((r) => r.custom && !r.type.startsWith("kubernetes:")))
        expect(object.provider ?? "", object.name).not.toContain("kubernetes");
    });

    it("live in the application's namespace and carry the recommended labels", () => {
      for (const object of kubernetes()) {
        expect(at(object.inputs, "metadata", "namespace")).toBe("edms");
        expect(at(object.inputs, "metadata", "labels", "app.kubernetes.io/managed-by")).toBe("pulumi");
        expect(at(object.inputs, "metadata", "labels", "app.kubernetes.io/instance")).toBe("edms-backup");
      }
    });

    it("contain no plain-text secret, and one Secret: the store key, mounted by the backup pods only", () => {
      // The store key's Secret (store-stack.test.ts follows it into the pods); no other.
      expect(ofType(run, "kubernetes:core/v1:Secret").map((r) => at(r.inputs, "metadata", "name"))).toEqual([
        "edms-backup-store-key",
      ]);
      const configMap = one(run, "kubernetes:core/v1:ConfigMap", "edms-backup-schedule-config").inputs;
      const data = at(configMap, "data") as Record<string, string>;
      for (const key of Object.keys(data)) expect(key).not.toMatch(/PASSWORD|SECRET|TOKEN|DATABASE_URL/);
      // Every credential-like variable comes from a Secret: the password from the database
      // Secret, the healthcheck and webhook URLs (tokens in them) from the optional notify Secret.
      for (const cronJob of ofType(run, "kubernetes:batch/v1:CronJob")) {
        const tier = at(cronJob.inputs, "metadata", "labels", "backup.edms.io/tier");
        for (const env of containerOf(cronJob).env) {
          if (/PASSWORD|SECRET|TOKEN|DATABASE_URL|WEBHOOK|HEALTHCHECK/.test(env.name)) {
            expect(env.value, env.name).toBeUndefined();
            const expected: Record<string, unknown> = {
              PGPASSWORD: { name: "edms-db", key: "password" },
              NOTIFY_WEBHOOK_URL: { name: "edms-backup-notify", key: "webhook-url", optional: true },
              HEALTHCHECK_URL: {
                name: "edms-backup-notify",
                key: `healthcheck-url-${cronJob.name.endsWith("restore-drill") ? "drill" : String(tier)}`,
                optional: true,
              },
            };
            expect(env.valueFrom?.secretKeyRef, env.name).toEqual(expected[env.name]);
          }
        }
        const names = containerOf(cronJob).env.map((e) => e.name);
        // Backups and the drill notify; the status CronJob and gc do not (the alarms watch them), and
        // need no password.
        expect(names.includes("HEALTHCHECK_URL"), cronJob.name).toBe(
          tier !== undefined || cronJob.name.endsWith("restore-drill"),
        );
        expect(names.includes("PGPASSWORD"), cronJob.name).toBe(
          !cronJob.name.endsWith("-status") && !cronJob.name.endsWith("-gc-cron"),
        );
      }
      expect(JSON.stringify(kubernetes().map((r) => r.inputs))).not.toMatch(/postgres(ql)?:\/\/[^"]*:[^"]*@/);
    });

    it("schedule every CronJob in Asia/Singapore with Forbid, deadlines and history limits", () => {
      const zones = new Set(Intl.supportedValuesOf("timeZone"));
      for (const cronJob of ofType(run, "kubernetes:batch/v1:CronJob")) {
        const spec = at(cronJob.inputs, "spec") as Record<string, unknown>;
        expect(spec.timeZone).toBe("Asia/Singapore");
        expect(zones.has(String(spec.timeZone))).toBe(true);
        expect(spec.concurrencyPolicy).toBe("Forbid");
        expect(spec.startingDeadlineSeconds).toBe(3600);
        expect(spec.successfulJobsHistoryLimit).toBe(3);
        expect(spec.failedJobsHistoryLimit).toBe(5);
        expect(at(spec, "jobTemplate", "spec", "backoffLimit")).toBe(1);
        expect(at(spec, "jobTemplate", "spec", "activeDeadlineSeconds")).toBe(14400);
        expect(() =>
          CronExpressionParser.parse(String(spec.schedule), { tz: String(spec.timeZone) }).next(),
        ).not.toThrow();
      }
      const schedules = Object.fromEntries(
        ofType(run, "kubernetes:batch/v1:CronJob").map((c) => [
          at(c.inputs, "metadata", "name"),
          [at(c.inputs, "spec", "schedule"), at(c.inputs, "spec", "suspend")],
        ]),
      );
      expect(schedules).toEqual({
        "edms-backup-daily": ["0 2 * * *", false],
        "edms-backup-weekly": ["0 3 * * 0", false],
        "edms-backup-monthly": ["0 4 1 * *", false],
        "edms-backup-adhoc": ["0 0 1 1 *", true],
        "edms-restore-drill": ["0 6 * * 0", false],
        "edms-backup-status": ["17 */6 * * *", false],
        "edms-backup-gc": ["30 5 * * *", false],
      });
    });

    it("run pods under the restricted Pod Security profile with a read-only root filesystem", () => {
      for (const cronJob of ofType(run, "kubernetes:batch/v1:CronJob")) {
        const pod = podOf(cronJob);
        expect(pod.restartPolicy).toBe("Never");
        // gc runs under its own service account (the only role that may delete: content objects).
        expect(pod.serviceAccountName).toBe(cronJob.name.endsWith("-gc-cron") ? "edms-backup-gc" : "edms-backup");
        expect(pod.securityContext).toMatchObject({
          runAsNonRoot: true,
          runAsUser: 10001,
          seccompProfile: { type: "RuntimeDefault" },
        });
        expect(pod).not.toHaveProperty("hostNetwork");
        const container = containerOf(cronJob);
        expect(container.securityContext).toEqual({
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          privileged: false,
          capabilities: { drop: ["ALL"] },
        });
        expect(container.resources).toEqual({
          requests: { cpu: "250m", memory: "512Mi" },
          limits: { cpu: "2", memory: "1Gi" },
        });
        expect(container.volumeMounts).toContainEqual({ name: "tmp", mountPath: "/tmp" });
        expect(at(pod, "volumes", 0)).toEqual({ name: "tmp", emptyDir: { sizeLimit: "1Gi" } });
      }
    });

    it("mount the media volume read-only next to the application pod (ReadWriteOnce) for backups only", () => {
      for (const cronJob of ofType(run, "kubernetes:batch/v1:CronJob")) {
        const pod = podOf(cronJob);
        const isDrill = ["restore-drill", "-status", "-gc-cron"].some((suffix) => cronJob.name.endsWith(suffix));
        const mediaMount = containerOf(cronJob).volumeMounts.find((m) => m.name === "media");
        if (isDrill) {
          expect(mediaMount).toBeUndefined();
          expect(pod.affinity).toBeUndefined();
          continue;
        }
        expect(mediaMount).toEqual({ name: "media", mountPath: "/media", readOnly: true });
        expect(pod.volumes).toContainEqual({
          name: "media",
          persistentVolumeClaim: { claimName: "edms-media", readOnly: true },
        });
        expect(at(pod, "affinity", "podAffinity", "requiredDuringSchedulingIgnoredDuringExecution")).toEqual([
          {
            labelSelector: {
              matchLabels: { "app.kubernetes.io/name": "edms", "app.kubernetes.io/component": "backend" },
            },
            topologyKey: "kubernetes.io/hostname",
          },
        ]);
      }
    });

    it("give the runner an environment its own schema accepts, tier by tier", () => {
      const data = at(one(run, "kubernetes:core/v1:ConfigMap", "edms-backup-schedule-config").inputs, "data") as Record<
        string,
        string
      >;
      const contractNames = new Set(Object.keys(runnerEnvShape));
      const allowedOthers = new Set<string>([...LIBPQ_ENV_NAMES, ...AWS_ENV_NAMES, "HOME"]);
      const retention: Record<string, number> = { daily: 7, weekly: 28, monthly: 366, adhoc: 30 };
      for (const cronJob of ofType(run, "kubernetes:batch/v1:CronJob")) {
        const container = containerOf(cronJob);
        expect(container.envFrom).toEqual([{ configMapRef: { name: "edms-backup-runner" } }]);
        const env: Record<string, string> = { ...data };
        for (const e of container.env) if (e.value !== undefined) env[e.name] = e.value;
        const names = [...Object.keys(env), ...container.env.map((e) => e.name)];
        for (const name of names) expect(contractNames.has(name) || allowedOthers.has(name), name).toBe(true);
        const contractPart = Object.fromEntries(Object.entries(env).filter(([k]) => contractNames.has(k)));
        const parsed = runnerEnvSchema.strict().parse(contractPart);
        expect(parsed.BACKUP_DESTINATION).toBe(run.outputs.backupDestination);
        expect(parsed.MEDIA_DIR).toBe("/media");
        // Every run summary goes to the stack's own topic (runSummary in Pulumi.prod.yaml).
        expect(parsed.RUN_SUMMARY_TOPIC_ARN).toBe(run.outputs.runSummaryTopicArn);
        expect(parsed.MEDIA_FORMAT).toBe("store");
        expect(parsed.MEDIA_STORE_TRANSFERS).toBe(8);
        // Pulumi.prod.yaml's media.references, as columns the runner parses back.
        expect(parsed.MEDIA_REFERENCES).toEqual([
          { table: "documents_document", column: "file" },
          { table: "documents_document", column: "thumbnail" },
        ]);
        expect(env.PGHOST).toBe("edms-db.edms.svc.cluster.local");
        expect(env.PGPORT).toBe("5432");
        expect(env.AWS_REGION).toBe("ap-southeast-1");
        const tier = at(cronJob.inputs, "metadata", "labels", "backup.edms.io/tier");
        if (cronJob.name.endsWith("restore-drill")) {
          // A different tier each week (drill-watch.test.ts): daily, weekly, monthly in turn.
          expect(container.args).toEqual(["drill", "latest", "--rotate", "--scratch-dir", "/scratch"]);
          expect(parsed.DRILL_TIERS).toBe("daily,weekly,monthly");
          expect(parsed.BACKUP_TIER).toBeUndefined();
          const drillPod = at(cronJob.inputs, "spec", "jobTemplate", "spec", "template", "spec") as {
            volumes: unknown[];
          };
          expect(drillPod.volumes).toContainEqual({ name: "scratch", emptyDir: { sizeLimit: "20Gi" } });
          expect(parsed.OBJECT_LOCK_MODE).toBeUndefined();
          continue;
        }
        if (cronJob.name.endsWith("-gc-cron")) {
          expect(container.args).toEqual(["gc", "--yes"]);
          expect(parsed.MEDIA_STORE_GC_GRACE_HOURS).toBe(48);
          expect(parsed.MEDIA_STORE_KEY_FILE).toBeUndefined();
          continue;
        }
        if (cronJob.name.endsWith("-status")) {
          expect(container.args).toEqual(["status", "--publish-metrics"]);
          expect(parsed.STATUS_TIERS).toBe("daily,weekly,monthly");
          expect(parsed.STATUS_GRACE_HOURS).toBe(6);
          expect(parsed.CLOUDWATCH_NAMESPACE).toBe("EDMS/Backup");
          continue;
        }
        expect(parsed.BACKUP_TIER).toBe(tier);
        expect(container.args).toEqual(["backup", "--tier", String(tier)]);
        expect(parsed.BACKUP_TRIGGER).toBe(tier === "adhoc" ? "manual" : "schedule");
        expect(parsed.OBJECT_LOCK_MODE).toBe("GOVERNANCE");
        expect(parsed.OBJECT_LOCK_DAYS).toBe(retention[String(tier)]);
      }
    });

    it("confine runner pods with a NetworkPolicy: no ingress, egress to the database, DNS and HTTPS only", () => {
      const spec = at(
        one(run, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "edms-backup-schedule-egress").inputs,
        "spec",
      ) as Record<string, unknown>;
      expect(spec.policyTypes).toEqual(["Ingress", "Egress"]);
      expect(spec.ingress).toEqual([]);
      expect(at(spec, "podSelector", "matchLabels")).toEqual({
        "app.kubernetes.io/name": "edms-backup",
        "app.kubernetes.io/instance": "edms-backup",
      });
      const egress = spec.egress as Array<{ to: unknown[]; ports: Array<{ protocol: string; port: number }> }>;
      expect(egress.map((rule) => rule.ports.map((p) => `${p.protocol}/${p.port}`).join(","))).toEqual([
        "TCP/5432",
        "UDP/53,TCP/53",
        "TCP/443",
      ]);
      expect(egress[0]!.to).toEqual([
        {
          podSelector: {
            matchLabels: { "app.kubernetes.io/name": "postgresql", "app.kubernetes.io/instance": "edms-db" },
          },
        },
      ]);
      // The pods' labels must be selected by the policy, or it protects nothing.
      for (const cronJob of ofType(run, "kubernetes:batch/v1:CronJob")) {
        expect(at(cronJob.inputs, "spec", "jobTemplate", "spec", "template", "metadata", "labels")).toMatchObject(
          at(spec, "podSelector", "matchLabels") as Record<string, string>,
        );
      }
    });
  });
});
