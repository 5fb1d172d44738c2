/**
 * index.ts with the opposite of every prod choice: a given image instead of a build, Pod Identity
 * instead of IRSA, no Object Lock, no media, the weekly tier disabled, an RDS-style database CIDR
 * the ambient kubeconfig, no client-side encryption, and no metrics (so no alarms, no status CronJob, no notifications Secret). Its own file, so index.ts is evaluated afresh under these mocks.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { runnerEnvSchema } from "../../runner/src/contract.js";
import type { PolicyDocument } from "../../components/iam-policies.js";
import { validateKubernetesObject } from "./k8s-validation.js";
import { ACCOUNT, ofType, one, runStack, type StackRun } from "./stack-harness.js";

const IMAGE = `${ACCOUNT}.dkr.ecr.ap-southeast-1.amazonaws.com/edms-backup@sha256:${"0f".repeat(32)}`;
let run: StackRun;
beforeAll(async () => {
  run = await runStack("prod", {
    image: IMAGE,
    identity: { kind: "podIdentity", clusterName: "edms-prod" },
    objectLock: undefined,
    // Unencrypted sets: no recipients for the backups, no identity for the drill.
    encryption: undefined,
    media: undefined,
    disabledTiers: ["weekly"],
    database: {
      host: "edms.abc123.ap-southeast-1.rds.amazonaws.com",
      name: "edms",
      user: "edms_backup",
      secretName: "edms-db",
      sslMode: "require",
      cidr: "10.0.12.0/24",
    },
    kubeContext: undefined,
    cloudwatchNamespace: undefined,
    alertEmails: undefined,
    notifications: undefined,
  });
});

function at(value: unknown, ...path: Array<string | number>): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

describe("a stack with a given image, Pod Identity, no Object Lock, no media and no weekly tier", () => {
  it("declares exactly the expected resources", () => {
    expect(run.resources.map((r) => `${r.type} ${r.name}`).sort()).toEqual([
      "aws:eks/podIdentityAssociation:PodIdentityAssociation edms-backup-identity-pod-identity",
      "aws:iam/role:Role edms-backup-identity-role",
      "aws:iam/rolePolicy:RolePolicy edms-backup-identity-policy",
      "aws:kms/alias:Alias edms-backup-key-alias",
      "aws:kms/key:Key edms-backup-key",
      "aws:s3/bucket:Bucket edms-backup-bucket",
      "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration edms-backup-lifecycle",
      "aws:s3/bucketOwnershipControls:BucketOwnershipControls edms-backup-ownership",
      "aws:s3/bucketPolicy:BucketPolicy edms-backup-policy",
      "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock edms-backup-public-access",
      "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration edms-backup-encryption",
      "aws:s3/bucketVersioning:BucketVersioning edms-backup-versioning",
      "edms-backup:identity:BackupIdentity edms-backup-identity",
      "edms-backup:image:RunnerImage edms-backup-runner",
      "edms-backup:schedule:BackupSchedule edms-backup-schedule",
      "edms-backup:storage:BackupBucket edms-backup",
      "kubernetes:batch/v1:CronJob edms-backup-schedule-adhoc",
      "kubernetes:batch/v1:CronJob edms-backup-schedule-daily",
      "kubernetes:batch/v1:CronJob edms-backup-schedule-monthly",
      "kubernetes:batch/v1:CronJob edms-backup-schedule-restore-drill",
      "kubernetes:core/v1:ConfigMap edms-backup-schedule-config",
      "kubernetes:core/v1:ServiceAccount edms-backup-identity-service-account",
      "kubernetes:networking.k8s.io/v1:NetworkPolicy edms-backup-schedule-egress",
    ]);
    expect(run.calls).not.toContain("aws:ecr/getAuthorizationToken:getAuthorizationToken");
  });

  it("has no metrics permission, alarm, topic, status CronJob or notification variables without a CloudWatch namespace", () => {
    const doc = JSON.parse(
      String(one(run, "aws:iam/rolePolicy:RolePolicy", "edms-backup-identity-policy").inputs.policy),
    ) as PolicyDocument;
    expect(JSON.stringify(doc)).not.toContain("cloudwatch");
    expect(run.resources.filter((r) => /cloudwatch|sns|alarms/i.test(r.type))).toEqual([]);
    expect(run.outputs.alertTopicArn).toBeUndefined();
    for (const cronJob of ofType(run, "kubernetes:batch/v1:CronJob")) {
      const env = at(
        cronJob.inputs,
        "spec",
        "jobTemplate",
        "spec",
        "template",
        "spec",
        "containers",
        0,
        "env",
      ) as Array<{ name: string }>;
      expect(env.map((e) => e.name)).not.toContain("HEALTHCHECK_URL");
      expect(env.map((e) => e.name)).not.toContain("NOTIFY_WEBHOOK_URL");
    }
  });

  it("uses the given image by digest in every CronJob", () => {
    expect(run.outputs.imageRef).toBe(IMAGE);
    for (const cronJob of ofType(run, "kubernetes:batch/v1:CronJob")) {
      expect(at(cronJob.inputs, "spec", "jobTemplate", "spec", "template", "spec", "containers", 0, "image")).toBe(
        IMAGE,
      );
    }
  });

  it("trusts the EKS Pod Identity service for this account and cluster, bound to the service account", () => {
    const trust = JSON.parse(
      String(one(run, "aws:iam/role:Role", "edms-backup-identity-role").inputs.assumeRolePolicy),
    ) as PolicyDocument;
    expect(trust.Statement).toEqual([
      {
        Sid: "EksPodIdentity",
        Effect: "Allow",
        Principal: { Service: "pods.eks.amazonaws.com" },
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Condition: {
          StringEquals: { "aws:SourceAccount": ACCOUNT },
          ArnEquals: { "aws:SourceArn": `arn:aws:eks:ap-southeast-1:${ACCOUNT}:cluster/edms-prod` },
        },
      },
    ]);
    expect(
      one(run, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "edms-backup-identity-pod-identity").inputs,
    ).toMatchObject({
      clusterName: "edms-prod",
      namespace: "edms",
      serviceAccount: "edms-backup",
      roleArn: `arn:aws:iam::${ACCOUNT}:role/edms-backup-identity-role`,
    });
    expect(
      at(
        one(run, "kubernetes:core/v1:ServiceAccount", "edms-backup-identity-service-account").inputs,
        "metadata",
        "annotations",
      ),
    ).toBeUndefined();
    const egress = at(
      one(run, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "edms-backup-schedule-egress").inputs,
      "spec",
      "egress",
    );
    expect(egress).toContainEqual({
      to: [{ ipBlock: { cidr: "169.254.170.23/32" } }],
      ports: [{ protocol: "TCP", port: 80 }],
    });
    expect(at(egress, 0)).toEqual({
      to: [{ ipBlock: { cidr: "10.0.12.0/24" } }],
      ports: [{ protocol: "TCP", port: 5432 }],
    });
  });

  it("has no Object Lock anywhere: bucket, policy or runner environment", () => {
    expect(one(run, "aws:s3/bucket:Bucket", "edms-backup-bucket").inputs.objectLockEnabled).toBe(false);
    const doc = JSON.parse(
      String(one(run, "aws:iam/rolePolicy:RolePolicy", "edms-backup-identity-policy").inputs.policy),
    ) as PolicyDocument;
    expect(JSON.stringify(doc.Statement.filter((s) => s.Effect === "Allow"))).not.toContain("Retention");
    for (const cronJob of ofType(run, "kubernetes:batch/v1:CronJob")) {
      const env = at(
        cronJob.inputs,
        "spec",
        "jobTemplate",
        "spec",
        "template",
        "spec",
        "containers",
        0,
        "env",
      ) as Array<{ name: string }>;
      expect(env.map((e) => e.name)).not.toContain("OBJECT_LOCK_MODE");
    }
  });

  it("backs up the database only, without a media volume or pod affinity", () => {
    const data = at(one(run, "kubernetes:core/v1:ConfigMap", "edms-backup-schedule-config").inputs, "data") as Record<
      string,
      string
    >;
    expect(data.BACKUP_MEDIA).toBe("false");
    expect(data.MEDIA_DIR).toBeUndefined();
    expect(data.PGSSLMODE).toBe("require");
    expect(
      runnerEnvSchema.parse(
        Object.fromEntries(Object.entries(data).filter(([k]) => !k.startsWith("PG") && !k.startsWith("AWS_"))),
      ).BACKUP_MEDIA,
    ).toBe(false);
    expect(data.ENCRYPTION_RECIPIENTS).toBeUndefined();
    for (const cronJob of ofType(run, "kubernetes:batch/v1:CronJob")) {
      const pod = at(cronJob.inputs, "spec", "jobTemplate", "spec", "template", "spec") as Record<string, unknown>;
      expect(pod.volumes).toEqual([{ name: "tmp", emptyDir: { sizeLimit: "1Gi" } }]);
      expect(pod.affinity).toBeUndefined();
    }
  });

  it("keeps expiring weekly backups although the weekly tier no longer runs", () => {
    expect(run.outputs.cronJobNames).toEqual({
      daily: "edms-backup-daily",
      monthly: "edms-backup-monthly",
      adhoc: "edms-backup-adhoc",
      "restore-drill": "edms-restore-drill",
    });
    const rules = one(run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "edms-backup-lifecycle")
      .inputs.rules as unknown[];
    expect(rules.map((r) => at(r, "filter", "prefix"))).toContain("edms/weekly/");
  });

  it("still produces only schema-valid Kubernetes objects", () => {
    for (const object of run.resources.filter((r) => r.type.startsWith("kubernetes:")))
      validateKubernetesObject(object.type, object.inputs);
  });
});
