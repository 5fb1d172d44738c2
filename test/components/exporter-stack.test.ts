// The exporter in the prod stack (Pulumi.prod.yaml turns it on): the Deployment's pod is a runner
// pod with the same hardening as the status CronJob's and nothing more (no password, no media, no
// key), judging staleness with the status CronJob's settings; its own read-only role, evaluated
// with the IAM evaluator for every call the exporter makes and for the writes it must never make;
// the Service, the ingress NetworkPolicy, and a ServiceMonitor + PrometheusRule that select it. A
// stack without `exporter` has none of it (variant-stack.test.ts).
import { beforeAll, describe, expect, it } from "vitest";
import type { PolicyDocument } from "../../components/identity/iam-policies.js";
import { alertRules } from "../../components/monitoring/prometheus-rules.js";
import { decide } from "./iam-simulator.js";
import { ACCOUNT, REGION, one, runStack, type Recorded, type StackRun } from "./stack-harness.js";

type Container = {
  args: string[];
  env: Array<{ name: string; value?: string; valueFrom?: unknown }>;
  ports?: unknown[];
  securityContext: unknown;
  volumeMounts: Array<{ name: string }>;
};
type Pod = {
  containers: Container[];
  securityContext: unknown;
  serviceAccountName: string;
  volumes: Array<{ name: string }>;
  restartPolicy: string;
};

let run: StackRun;
let deployment: Recorded;
const podOfDeployment = (d: Recorded) => (d.inputs.spec as { template: { spec: Pod } }).template.spec;
const podOfCronJob = (c: Recorded) =>
  (c.inputs.spec as { jobTemplate: { spec: { template: { spec: Pod } } } }).jobTemplate.spec.template.spec;
const envOf = (c: Container) => Object.fromEntries(c.env.map((e) => [e.name, e.value ?? e.valueFrom]));

beforeAll(async () => {
  run = await runStack("prod");
  deployment = one(run, "kubernetes:apps/v1:Deployment", "edms-backup-exporter-deployment");
});

describe("the exporter in the prod stack", () => {
  it("runs `edms-backup exporter` in a runner pod hardened like the status CronJob's, restarted on exit", () => {
    const pod = podOfDeployment(deployment);
    const status = podOfCronJob(one(run, "kubernetes:batch/v1:CronJob", "edms-backup-schedule-status"));
    const [c] = pod.containers;
    const [s] = status.containers;
    expect(c!.args).toEqual(["exporter", "--listen", "0.0.0.0:9863"]);
    expect(pod.restartPolicy).toBe("Always");
    expect(pod.securityContext).toEqual(status.securityContext);
    expect(c!.securityContext).toEqual(s!.securityContext);
    expect(pod.volumes).toEqual(status.volumes); // /tmp only: no media, no identity
    expect(pod.serviceAccountName).toBe("edms-backup-exporter");
    // Judges as `status` does; never sees the password or the age identity.
    const env = envOf(c!);
    const statusEnv = envOf(s!);
    for (const name of ["STATUS_TIERS", "STATUS_GRACE_HOURS", "STATUS_INTERVAL_HOURS", "STATUS_DRILL_MAX_AGE_HOURS"])
      expect(env[name], name).toBe(statusEnv[name]);
    expect(env.EXPORTER_REFRESH_SECONDS).toBe("60");
    expect(Object.keys(env).filter((n) => /PASSWORD|AGE_IDENTITY|DATABASE_URL/.test(n))).toEqual([]);
    expect(c!.ports).toEqual([{ name: "metrics", containerPort: 9863, protocol: "TCP" }]);
  });

  it("is reachable for scrapes on its port only, through a Service the ServiceMonitor selects", () => {
    const service = one(run, "kubernetes:core/v1:Service", "edms-backup-exporter-service").inputs as {
      metadata: { name: string; labels: Record<string, string> };
      spec: { selector: Record<string, string> };
    };
    const template = (deployment.inputs.spec as { template: { metadata: { labels: Record<string, string> } } }).template
      .metadata.labels;
    expect(service.spec.selector).toEqual(template);
    const ingress = one(run, "kubernetes:networking.k8s.io/v1:NetworkPolicy", "edms-backup-exporter-ingress").inputs;
    expect(ingress.spec).toEqual({
      podSelector: { matchLabels: template },
      policyTypes: ["Ingress"],
      ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ protocol: "TCP", port: 9863 }] }],
    });
    const monitor = one(
      run,
      "kubernetes:monitoring.coreos.com/v1:ServiceMonitor",
      "edms-backup-exporter-service-monitor",
    ).inputs as {
      metadata: { labels: Record<string, string> };
      spec: { selector: { matchLabels: Record<string, string> } };
    };
    for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels)) expect(service.metadata.labels[k]).toBe(v);
    expect(monitor.metadata.labels.release).toBe("kube-prometheus-stack");
    const rule = one(run, "kubernetes:monitoring.coreos.com/v1:PrometheusRule", "edms-backup-exporter-rules").inputs;
    // Scoped to the Service's job in its namespace (the labels the ServiceMonitor's targets carry).
    expect(rule.spec).toEqual(alertRules({ selector: { job: service.metadata.name, namespace: "edms" } }));
  });

  describe("its read-only role, evaluated", () => {
    let policy: PolicyDocument;
    let bucketPolicy: PolicyDocument;
    let bucketArn: string;
    const SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/edms-backup-exporter-identity-role/s1`;
    const https = (extra: Record<string, string> = {}) => ({
      "aws:SecureTransport": "true",
      "s3:TlsVersion": "1.3",
      "s3:authType": "REST-HEADER",
      "s3:signatureversion": "AWS4-HMAC-SHA256",
      "aws:RequestedRegion": REGION,
      ...extra,
    });
    const s3 = (action: string, resource: string, context = https()) =>
      decide(SESSION, ACCOUNT, { action, resource, context }, { identityPolicy: policy, resourcePolicy: bucketPolicy });

    beforeAll(() => {
      policy = JSON.parse(
        String(one(run, "aws:iam/rolePolicy:RolePolicy", "edms-backup-exporter-identity-policy").inputs.policy),
      ) as PolicyDocument;
      bucketPolicy = JSON.parse(
        String(one(run, "aws:s3/bucketPolicy:BucketPolicy", "edms-backup-policy").inputs.policy),
      ) as PolicyDocument;
      bucketArn = `arn:aws:s3:::${String(run.outputs.bucketName)}`;
    });

    it("allows what the exporter calls: listings of each tier, drills and markers, manifests, unfinished uploads", async () => {
      for (const prefix of ["edms/daily/", "edms/adhoc/", "edms/drills/", "edms/restores/"])
        expect(await s3("s3:ListBucket", bucketArn, https({ "s3:prefix": prefix })), prefix).toBe("Allowed");
      expect(await s3("s3:GetObject", `${bucketArn}/edms/daily/20260111T144748Z-3f9a/manifest.json`)).toBe("Allowed");
      expect(await s3("s3:ListBucketMultipartUploads", bucketArn)).toBe("Allowed");
      expect(
        await s3("s3:ListMultipartUploadParts", `${bucketArn}/edms/daily/20260111T144748Z-3f9a/database.dump`),
      ).toBe("Allowed");
    });

    it("denies every write and every read outside the prefix", async () => {
      const key = `${bucketArn}/edms/daily/20260111T144748Z-3f9a/manifest.json`;
      for (const action of ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload", "s3:PutObjectRetention"])
        expect(await s3(action, key), action).toBe("ExplicitlyDenied");
      expect(await s3("s3:GetObject", `${bucketArn}/other-app/x`)).toBe("ImplicitlyDenied");
      expect(await s3("s3:ListBucket", bucketArn, https({ "s3:prefix": "other-app/" }))).toBe("ImplicitlyDenied");
    });

    it("may be assumed only by the exporter's own service account", () => {
      const trust = JSON.parse(
        String(one(run, "aws:iam/role:Role", "edms-backup-exporter-identity-role").inputs.assumeRolePolicy),
      ) as PolicyDocument;
      const condition = trust.Statement[0]!.Condition!.StringEquals!;
      expect(Object.values(condition)).toContain("system:serviceaccount:edms:edms-backup-exporter");
    });
  });
});
