/**
 * The IAM documents the prod stack renders (the runner's role policy, its IRSA trust policy, the
 * bucket policy and the KMS key policy), evaluated with an IAM policy evaluator for every AWS call
 * the runner makes, with realistic ARNs and context keys. Strings are not matched here: a grant
 * whose condition can never hold is caught because the evaluator knows which keys each action has.
 *
 * The calls, from runner/src:
 * - store/s3-store.ts putStream: lib-storage's Upload: PutObject (a small stream) or
 *   CreateMultipartUpload + UploadPart + CompleteMultipartUpload, AbortMultipartUpload on failure;
 *   all conditional (If-None-Match: *) and, with Object Lock, with a retain-until date.
 * - putStream's sweep: ListMultipartUploads (Prefix = the key) + AbortMultipartUpload.
 * - unfinished-uploads.ts, through the store: ListMultipartUploads (Prefix = the destination's
 *   prefix) and ListParts per upload (`status`, `list`: their bytes); each backup run's sweep of
 *   uploads older than a day: ListMultipartUploads + AbortMultipartUpload.
 * - putSmall (the manifest): PutObject, conditional, with retention.
 * - get: GetObject; head (size check after upload): HeadObject; list: ListObjectsV2 under the prefix.
 * - SSE-KMS on the bucket: S3 calls kms:GenerateDataKey (writes) and kms:Decrypt (reads, and parts
 *   of a multipart upload) with the caller's permissions, via S3, with the bucket as context.
 * - notify/metrics.ts putMetrics: CloudWatch PutMetricData in the stack's namespace.
 * - notify/run-summary.ts publishRunSummary: SNS Publish to the run-summary topic.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { PolicyDocument } from "../../components/identity/iam-policies.js";
import { decide, decideWebIdentity, type AwsCall, type Decision } from "./iam-simulator.js";
import { ACCOUNT, REGION, one, runStack, type StackRun } from "./stack-harness.js";

let run: StackRun;
let identityPolicy: PolicyDocument;
let bucketPolicy: PolicyDocument;
let keyPolicy: PolicyDocument;
let trust: PolicyDocument;
let bucketArn: string;
let keyArn: string;

const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/edms-backup-identity-role`;
const SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/edms-backup-identity-role/botocore-session-1736606868`;
const ISSUER = "oidc.eks.ap-southeast-1.amazonaws.com/id/5C2B7E1F0D9A4A6B8E3F1C0D2A4B6C8E";
const PROVIDER_ARN = `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}`;
const SET = "edms/daily/20260111T144748Z-3f9a";

const parse = (json: unknown) => JSON.parse(String(json)) as PolicyDocument;

beforeAll(async () => {
  run = await runStack("prod");
  identityPolicy = parse(one(run, "aws:iam/rolePolicy:RolePolicy", "edms-backup-identity-policy").inputs.policy);
  bucketPolicy = parse(one(run, "aws:s3/bucketPolicy:BucketPolicy", "edms-backup-policy").inputs.policy);
  const key = one(run, "aws:kms/key:Key", "edms-backup-key");
  keyPolicy = parse(key.inputs.policy);
  trust = parse(one(run, "aws:iam/role:Role", "edms-backup-identity-role").inputs.assumeRolePolicy);
  bucketArn = `arn:aws:s3:::${String(run.outputs.bucketName)}`;
  keyArn = `arn:aws:kms:${REGION}:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;
});

/** What every request from the pod carries: TLS 1.3, SigV4 in a header, the role's session. */
function https(extra: Record<string, string | string[]> = {}): Record<string, string | string[]> {
  return {
    "aws:SecureTransport": "true",
    "s3:TlsVersion": "1.3",
    "s3:authType": "REST-HEADER",
    "s3:signatureversion": "AWS4-HMAC-SHA256",
    "aws:PrincipalArn": ROLE_ARN,
    "aws:PrincipalAccount": ACCOUNT,
    "aws:RequestedRegion": REGION,
    ...extra,
  };
}

/** The headers a locked write sends (prod: GOVERNANCE, daily tier kept 7 days). */
const LOCKED = {
  "s3:object-lock-mode": "GOVERNANCE",
  "s3:object-lock-retain-until-date": "2026-01-18T14:47:48.000Z",
  "s3:object-lock-remaining-retention-days": "7",
};

const object = (key: string) => `${bucketArn}/${key}`;

function s3(call: AwsCall): Promise<Decision> {
  return decide(SESSION, ACCOUNT, call, { identityPolicy, resourcePolicy: bucketPolicy });
}
function kms(action: string, context: Record<string, string | string[]>, resource = keyArn): Promise<Decision> {
  return decide(SESSION, ACCOUNT, { action, resource, context }, { identityPolicy, resourcePolicy: keyPolicy });
}
function putMetricData(namespace: string): Promise<Decision> {
  const context = { "aws:SecureTransport": "true", "cloudwatch:namespace": namespace };
  return decide(SESSION, ACCOUNT, { action: "cloudwatch:PutMetricData", resource: "*", context }, { identityPolicy });
}
/** SNS Publish, as the run summary sends it (same account: the topic's default policy defers to IAM). */
function publish(topicArn: string): Promise<Decision> {
  const context = { "aws:SecureTransport": "true", "aws:PrincipalArn": ROLE_ARN, "aws:RequestedRegion": REGION };
  return decide(SESSION, ACCOUNT, { action: "sns:Publish", resource: topicArn, context }, { identityPolicy });
}
function viaS3(extra: Record<string, string | string[]> = {}): Record<string, string | string[]> {
  return {
    "aws:SecureTransport": "true",
    "aws:PrincipalArn": ROLE_ARN,
    "kms:ViaService": `s3.${REGION}.amazonaws.com`,
    "kms:CallerAccount": ACCOUNT,
    // Bucket keys are on: S3 asks KMS for a bucket-level key with the bucket as context.
    "kms:EncryptionContext:aws:s3:arn": bucketArn,
    "kms:EncryptionContextKeys": ["aws:s3:arn"],
    ...extra,
  };
}

describe("every AWS call the runner makes is allowed", () => {
  const writes: Array<[string, string]> = [
    ["PutObject of a small stream (lib-storage single put)", `${SET}/storage.tar.gz`],
    ["CreateMultipartUpload of the dump", `${SET}/database.dump`],
    ["UploadPart", `${SET}/database.dump`],
    ["CompleteMultipartUpload", `${SET}/database.dump`],
    ["PutObject of the manifest (putSmall), written last", `${SET}/manifest.json`],
  ];
  for (const [what, key] of writes) {
    it(`${what}: conditional, with Object Lock retention, as s3:PutObject + s3:PutObjectRetention`, async () => {
      const context = https({ ...LOCKED, "s3:x-amz-content-sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER" });
      expect(await s3({ action: "s3:PutObject", resource: object(key), context })).toBe("Allowed");
      // S3 also authorizes the retention headers of a put as s3:PutObjectRetention.
      expect(await s3({ action: "s3:PutObjectRetention", resource: object(key), context })).toBe("Allowed");
    });
  }

  it("AbortMultipartUpload of its own failed upload (lib-storage and the sweep)", async () => {
    expect(
      await s3({ action: "s3:AbortMultipartUpload", resource: object(`${SET}/database.dump`), context: https() }),
    ).toBe("Allowed");
  });

  it("AbortMultipartUpload of an abandoned upload older than a day, in any tier (each backup run's sweep)", async () => {
    for (const key of [`${SET}/database.dump`, "edms/weekly/20260101T020000Z-77aa/storage.tar.zst"]) {
      expect(await s3({ action: "s3:AbortMultipartUpload", resource: object(key), context: https() }), key).toBe(
        "Allowed",
      );
    }
  });

  it("ListParts of an unfinished upload (status and list: the bytes it holds) as s3:ListMultipartUploadParts", async () => {
    expect(
      await s3({ action: "s3:ListMultipartUploadParts", resource: object(`${SET}/database.dump`), context: https() }),
    ).toBe("Allowed");
  });

  it("ListMultipartUploads, the sweep of unfinished uploads after a failure (the action has no s3:prefix key)", async () => {
    // The request carries Prefix=<key>, but IAM sees no s3:prefix for this action: only the bucket.
    expect(await s3({ action: "s3:ListBucketMultipartUploads", resource: bucketArn, context: https() })).toBe(
      "Allowed",
    );
  });

  it("HeadObject (size check after each upload) and GetObject (verify, restore, drill, status)", async () => {
    for (const key of [`${SET}/database.dump`, `${SET}/manifest.json`]) {
      expect(await s3({ action: "s3:GetObject", resource: object(key), context: https() })).toBe("Allowed");
    }
  });

  it("ListObjectsV2 of the whole prefix (catalog) and of one tier (latest of a tier)", async () => {
    for (const prefix of ["edms/", "edms/daily/", "edms/monthly/20260101"]) {
      expect(
        await s3({ action: "s3:ListBucket", resource: bucketArn, context: https({ "s3:prefix": prefix }) }),
        prefix,
      ).toBe("Allowed");
    }
  });

  it("KMS through S3: GenerateDataKey for writes, Decrypt for reads and multipart parts", async () => {
    expect(await kms("kms:GenerateDataKey", viaS3())).toBe("Allowed");
    expect(await kms("kms:Decrypt", viaS3())).toBe("Allowed");
  });

  it("CloudWatch PutMetricData in the stack's namespace (backup results, status ages)", async () => {
    expect(await putMetricData("EDMS/Backup")).toBe("Allowed");
  });

  it("SNS Publish to the run-summary topic (one summary per backup and drill)", async () => {
    expect(String(run.outputs.runSummaryTopicArn)).toMatch(/^arn:aws:sns:/);
    expect(await publish(String(run.outputs.runSummaryTopicArn))).toBe("Allowed");
  });

  it("the pod's service account may assume the role through the cluster's OIDC provider (IRSA)", () => {
    const context = {
      [`${ISSUER}:sub`]: "system:serviceaccount:edms:edms-backup",
      [`${ISSUER}:aud`]: "sts.amazonaws.com",
    };
    expect(decideWebIdentity(PROVIDER_ARN, ROLE_ARN, ACCOUNT, context, trust)).toBe("Allowed");
  });
});

describe("everything that could destroy, shorten, reconfigure or leak is denied", () => {
  it("deletes of objects and versions, even of the runner's own backups", async () => {
    for (const action of ["s3:DeleteObject", "s3:DeleteObjectVersion"]) {
      expect(await s3({ action, resource: object(`${SET}/database.dump`), context: https() }), action).toBe(
        "ExplicitlyDenied",
      );
    }
  });

  it("bypassing or shortening Object Lock retention, and legal holds", async () => {
    const key = object(`${SET}/database.dump`);
    expect(await s3({ action: "s3:BypassGovernanceRetention", resource: key, context: https(LOCKED) })).toBe(
      "ExplicitlyDenied",
    );
    expect(
      await s3({
        action: "s3:PutObjectLegalHold",
        resource: key,
        context: https({ "s3:object-lock-legal-hold": "OFF" }),
      }),
    ).toBe("ExplicitlyDenied");
  });

  it("any change to the bucket's configuration, policy or existence", async () => {
    for (const action of [
      "s3:PutLifecycleConfiguration",
      "s3:PutBucketPolicy",
      "s3:DeleteBucketPolicy",
      "s3:PutBucketVersioning",
      "s3:PutBucketObjectLockConfiguration",
      "s3:PutEncryptionConfiguration",
      "s3:PutBucketPublicAccessBlock",
      "s3:PutReplicationConfiguration",
      "s3:DeleteBucket",
    ]) {
      const decision = await s3({ action, resource: bucketArn, context: https() });
      expect(decision, action).not.toBe("Allowed");
    }
    // The ones that would undo retention are denied outright, whatever else the role gets.
    for (const action of ["s3:PutLifecycleConfiguration", "s3:PutBucketObjectLockConfiguration", "s3:DeleteBucket"]) {
      expect(await s3({ action, resource: bucketArn, context: https() }), action).toBe("ExplicitlyDenied");
    }
  });

  it("writes and reads outside the key prefix, or in another bucket", async () => {
    for (const resource of [
      object("other-app/daily/x/database.dump"),
      object("edms-evil/daily/x/database.dump"),
      object("database.dump"),
      "arn:aws:s3:::someone-elses-bucket/edms/daily/x/database.dump",
    ]) {
      expect(await s3({ action: "s3:PutObject", resource, context: https(LOCKED) }), resource).toBe("ImplicitlyDenied");
      expect(await s3({ action: "s3:GetObject", resource, context: https() }), resource).toBe("ImplicitlyDenied");
    }
  });

  it("aborting or reading the parts of another application's unfinished uploads (outside the prefix)", async () => {
    for (const resource of [object("other-app/daily/x/database.dump"), object("edms-evil/daily/x/database.dump")]) {
      for (const action of ["s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]) {
        expect(await s3({ action, resource, context: https() }), `${action} ${resource}`).toBe("ImplicitlyDenied");
      }
    }
  });

  it("listing outside the prefix, or the whole bucket", async () => {
    for (const context of [https({ "s3:prefix": "other-app/" }), https({ "s3:prefix": "" }), https()]) {
      expect(await s3({ action: "s3:ListBucket", resource: bucketArn, context })).toBe("ImplicitlyDenied");
    }
  });

  it("plain HTTP and TLS older than 1.2, for every call the runner makes", async () => {
    const key = object(`${SET}/database.dump`);
    const variants: Array<Record<string, string>> = [{ "aws:SecureTransport": "false" }, { "s3:TlsVersion": "1.1" }];
    for (const insecure of variants) {
      for (const call of [
        { action: "s3:PutObject", resource: key, context: https({ ...LOCKED, ...insecure }) },
        { action: "s3:GetObject", resource: key, context: https(insecure) },
        { action: "s3:ListBucket", resource: bucketArn, context: https({ "s3:prefix": "edms/", ...insecure }) },
        { action: "s3:ListBucketMultipartUploads", resource: bucketArn, context: https(insecure) },
      ]) {
        expect(await s3(call), `${call.action} ${JSON.stringify(insecure)}`).toBe("ExplicitlyDenied");
      }
    }
  });

  it("KMS outside S3 in this region, or anything but data keys", async () => {
    const { ["kms:ViaService"]: _, ...direct } = viaS3();
    expect(await kms("kms:Decrypt", direct)).toBe("ImplicitlyDenied");
    expect(await kms("kms:Decrypt", viaS3({ "kms:ViaService": "sqs.ap-southeast-1.amazonaws.com" }))).toBe(
      "ImplicitlyDenied",
    );
    expect(await kms("kms:Decrypt", viaS3({ "kms:ViaService": "s3.us-east-1.amazonaws.com" }))).toBe(
      "ImplicitlyDenied",
    );
    for (const action of ["kms:ScheduleKeyDeletion", "kms:DisableKey", "kms:PutKeyPolicy", "kms:Encrypt"]) {
      expect(await kms(action, viaS3()), action).toBe("ImplicitlyDenied");
    }
  });

  it("SNS beyond publishing run summaries: the alarms' topic, other topics, subscribing, changing the topic", async () => {
    const topic = String(run.outputs.runSummaryTopicArn);
    expect(await publish(String(run.outputs.alertTopicArn))).toBe("ImplicitlyDenied");
    expect(await publish(`arn:aws:sns:${REGION}:${ACCOUNT}:another-app-topic`)).toBe("ImplicitlyDenied");
    expect(await publish(topic.replace(`:${ACCOUNT}:`, ":210987654321:"))).toBe("ImplicitlyDenied");
    const context = { "aws:SecureTransport": "true", "aws:PrincipalArn": ROLE_ARN };
    for (const action of [
      "sns:Subscribe",
      "sns:SetTopicAttributes",
      "sns:DeleteTopic",
      "sns:ListSubscriptionsByTopic",
    ]) {
      expect(await decide(SESSION, ACCOUNT, { action, resource: topic, context }, { identityPolicy }), action).toBe(
        "ImplicitlyDenied",
      );
    }
  });

  it("metrics in another CloudWatch namespace", async () => {
    expect(await putMetricData("AWS/EC2")).toBe("ImplicitlyDenied");
  });

  it("other namespaces, other service accounts, other audiences and other issuers cannot assume the role", () => {
    const ok = { [`${ISSUER}:sub`]: "system:serviceaccount:edms:edms-backup", [`${ISSUER}:aud`]: "sts.amazonaws.com" };
    const cases: Array<[string, Record<string, string>, string]> = [
      ["another namespace", { ...ok, [`${ISSUER}:sub`]: "system:serviceaccount:other:edms-backup" }, PROVIDER_ARN],
      ["another service account", { ...ok, [`${ISSUER}:sub`]: "system:serviceaccount:edms:default" }, PROVIDER_ARN],
      ["a token minted for another audience", { ...ok, [`${ISSUER}:aud`]: "vault" }, PROVIDER_ARN],
      ["a token without an audience", { [`${ISSUER}:sub`]: ok[`${ISSUER}:sub`]! }, PROVIDER_ARN],
      [
        "another cluster's issuer",
        ok,
        `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.eks.ap-southeast-1.amazonaws.com/id/0000000000000000000000000000000A`,
      ],
    ];
    for (const [what, context, provider] of cases) {
      expect(decideWebIdentity(provider, ROLE_ARN, ACCOUNT, context, trust), what).toBe("ImplicitlyDenied");
    }
  });
});
