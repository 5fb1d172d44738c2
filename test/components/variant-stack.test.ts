/**
 * index.ts with the opposite of every prod choice: a given image instead of a build, Pod Identity
 * instead of IRSA, no Object Lock, no media, the weekly tier disabled, an RDS-style database (CIDR,
 * sslmode verify-full with the RDS CA bundle from a ConfigMap), the ambient kubeconfig, no
 * client-side encryption, no metrics (so no alarms, no status CronJob, no notifications Secret) and no
 * run summary. Its own file, so index.ts is evaluated afresh under these mocks.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { DATABASE_CA_DIR, DATABASE_CA_PATH, runnerEnvSchema } from "../../runner/src/contract.js";
import type { PolicyDocument } from "../../components/identity/iam-policies.js";
import { decide } from "./iam-simulator.js";
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
    // Without media there is nothing to store, whatever the format: no gc and no store key.
    mediaFormat: undefined,
    disabledTiers: ["weekly"],
    database: {
      host: "edms.abc123.ap-southeast-1.rds.amazonaws.com",
      name: "edms",
      user: "edms_backup",
      secretName: "edms-db",
      sslMode: "verify-full",
      caBundle: { configMapName: "rds-ca", key: "global-bundle.pem" },
      cidr: "10.0.12.0/24",
    },
    kubeContext: undefined,
    cloudwatchNamespace: undefined,
    alertEmails: undefined,
    notifications: undefined,
    runSummary: undefined,
    exporter: undefined,
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
      "edms-backup:schedule:DeployCheck edms-backup-deploy-check",
      "edms-backup:schedule:FirstDeployStamp edms-backup-first-deploy",
      "edms-backup:storage:BackupBucket edms-backup",
      "kubernetes:batch/v1:CronJob edms-backup-schedule-adhoc",
      "kubernetes:batch/v1:CronJob edms-backup-schedule-daily",
      "kubernetes:batch/v1:CronJob edms-backup-schedule-monthly",
      "kubernetes:batch/v1:CronJob edms-backup-schedule-restore-drill",
      "kubernetes:batch/v1:Job edms-backup-deploy-check-job",
      "kubernetes:core/v1:ConfigMap edms-backup-commands",
      "kubernetes:core/v1:ConfigMap edms-backup-first-deploy-stamp",
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
    // No exporter unless asked for (stack config exporter.enabled), no dashboard without metrics.
    expect(run.resources.filter((r) => /exporter|dashboard/i.test(`${r.type} ${r.name}`))).toEqual([]);
    expect(run.outputs.alertTopicArn).toBeUndefined();
    // No run summary either: no topic (above), no grant (no "sns:" at all), no setting.
    expect(JSON.stringify(doc)).not.toContain("sns:");
    expect(run.outputs.runSummaryTopicArn).toBeUndefined();
    const data = one(run, "kubernetes:core/v1:ConfigMap", "edms-backup-schedule-config").inputs.data as object;
    expect(Object.keys(data)).not.toContain("RUN_SUMMARY_TOPIC_ARN");
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

  it("lets EKS Pod Identity assume the role only for this cluster's edms/edms-backup, evaluated like AWS", async () => {
    const trust = JSON.parse(
      String(one(run, "aws:iam/role:Role", "edms-backup-identity-role").inputs.assumeRolePolicy),
    ) as PolicyDocument;
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/edms-backup-identity-role`;
    const clusterArn = `arn:aws:eks:ap-southeast-1:${ACCOUNT}:cluster/edms-prod`;
    // The session tags EKS Pod Identity sets on its AssumeRole (and TagSession) request.
    const tags = (namespace: string, serviceAccount: string, cluster = clusterArn) => ({
      "aws:RequestTag/eks-cluster-arn": cluster,
      "aws:RequestTag/eks-cluster-name": cluster.split("/").at(-1)!,
      "aws:RequestTag/kubernetes-namespace": namespace,
      "aws:RequestTag/kubernetes-service-account": serviceAccount,
      "aws:RequestTag/kubernetes-pod-name": "edms-backup-daily-29471520-x7k2p",
      "aws:RequestTag/kubernetes-pod-uid": "0b6a1f2e-5d4c-4b3a-9e8f-7a6b5c4d3e2f",
      "aws:TagKeys": [
        "eks-cluster-arn",
        "eks-cluster-name",
        "kubernetes-namespace",
        "kubernetes-service-account",
        "kubernetes-pod-name",
        "kubernetes-pod-uid",
      ],
      // Whatever else the service may set, the role must not rely on it for scoping.
      "aws:SourceAccount": ACCOUNT,
      "aws:SourceArn": clusterArn,
    });
    const assume = (context: Record<string, string | string[]>, action = "sts:AssumeRole") =>
      decide("pods.eks.amazonaws.com", ACCOUNT, { action, resource: roleArn, context }, { resourcePolicy: trust });
    expect(await assume(tags("edms", "edms-backup"))).toBe("Allowed");
    expect(await assume(tags("edms", "edms-backup"), "sts:TagSession")).toBe("Allowed");
    const otherCluster = `arn:aws:eks:ap-southeast-1:${ACCOUNT}:cluster/staging`;
    for (const [what, context] of [
      ["another namespace", tags("other", "edms-backup")],
      ["another service account", tags("edms", "default")],
      ["another cluster", tags("edms", "edms-backup", otherCluster)],
      ["no session tags", { "aws:SourceAccount": ACCOUNT, "aws:SourceArn": clusterArn }],
    ] as const) {
      expect(await assume(context), what).toBe("ImplicitlyDenied");
    }
    // Nobody else may assume it with these tags: not a user of the account, not another service.
    expect(
      await decide(
        `arn:aws:iam::${ACCOUNT}:user/deployer`,
        ACCOUNT,
        { action: "sts:AssumeRole", resource: roleArn, context: tags("edms", "edms-backup") },
        { resourcePolicy: trust },
      ),
    ).toBe("ImplicitlyDenied");
    expect(
      one(run, "aws:eks/podIdentityAssociation:PodIdentityAssociation", "edms-backup-identity-pod-identity").inputs,
    ).toMatchObject({
      clusterName: "edms-prod",
      namespace: "edms",
      serviceAccount: "edms-backup",
      roleArn: `arn:aws:iam::${ACCOUNT}:role/edms-backup-identity-role`,
      disableSessionTags: false,
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
    expect(data.PGSSLMODE).toBe("verify-full");
    expect(
      runnerEnvSchema.parse(
        Object.fromEntries(Object.entries(data).filter(([k]) => !k.startsWith("PG") && !k.startsWith("AWS_"))),
      ).BACKUP_MEDIA,
    ).toBe(false);
    expect(data.ENCRYPTION_RECIPIENTS).toBeUndefined();
    for (const cronJob of ofType(run, "kubernetes:batch/v1:CronJob")) {
      const pod = at(cronJob.inputs, "spec", "jobTemplate", "spec", "template", "spec") as Record<string, unknown>;
      expect(pod.volumes).toEqual([
        { name: "tmp", emptyDir: { sizeLimit: "1Gi" } },
        {
          name: "database-ca",
          configMap: { name: "rds-ca", items: [{ key: "global-bundle.pem", path: "root.crt" }], defaultMode: 0o444 },
        },
      ]);
      expect(pod.affinity).toBeUndefined();
    }
  });

  it("mounts the database CA bundle read-only in every pod, where PGSSLROOTCERT points", () => {
    const data = at(one(run, "kubernetes:core/v1:ConfigMap", "edms-backup-schedule-config").inputs, "data") as Record<
      string,
      string
    >;
    expect(data.PGSSLROOTCERT).toBe(DATABASE_CA_PATH);
    const restoreJob = JSON.parse(
      (run.outputs.commands as Record<string, string>)
        .startRestore!.split("\n")[1]!
        .replaceAll("$JOB", "r")
        .replaceAll("$BACKUP_ID", "latest"),
    ) as Record<string, unknown>;
    const pods = [
      ...ofType(run, "kubernetes:batch/v1:CronJob").map((c) =>
        at(c.inputs, "spec", "jobTemplate", "spec", "template", "spec"),
      ),
      at(restoreJob, "spec", "template", "spec"),
    ];
    for (const pod of pods) {
      const mounts = at(pod, "containers", 0, "volumeMounts") as Array<{
        name: string;
        mountPath: string;
        readOnly?: boolean;
      }>;
      expect(mounts).toContainEqual({ name: "database-ca", mountPath: DATABASE_CA_DIR, readOnly: true });
      expect(DATABASE_CA_PATH.startsWith(`${DATABASE_CA_DIR}/`)).toBe(true);
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

  it("still produces only schema-valid Kubernetes objects, with the default provider (the ambient kubeconfig)", () => {
    const kubernetes = run.resources.filter((r) => r.type.startsWith("kubernetes:"));
    expect(kubernetes.length).toBeGreaterThan(0);
    for (const object of kubernetes) {
      validateKubernetesObject(object.type, object.inputs);
      expect(object.provider ?? "", object.name).toBe("");
    }
  });
});
