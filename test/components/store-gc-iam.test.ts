/**
 * The content store's IAM, evaluated like iam-evaluation.test.ts (the evaluator, realistic ARNs and
 * context keys, the prod stack's rendered documents): gc's role (store-gc-policy.ts) may do what
 * `gc --yes` does and delete content objects, and nothing else; the backup role still cannot
 * delete anything, and reads and extends a content object's lock. Each IAM call as S3 authorizes
 * it: HeadObject as s3:GetObject, DeleteObject without a version id as s3:DeleteObject, with one
 * as s3:DeleteObjectVersion.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { PolicyDocument } from "../../components/identity/iam-policies.js";
import { decide, decideWebIdentity, type Decision } from "./iam-simulator.js";
import { ACCOUNT, REGION, one, runStack, type StackRun } from "./stack-harness.js";

let run: StackRun;
let gcPolicy: PolicyDocument;
let runnerPolicy: PolicyDocument;
let bucketPolicy: PolicyDocument;
let keyPolicy: PolicyDocument;
let gcTrust: PolicyDocument;
let runnerTrust: PolicyDocument;
let bucketArn: string;

const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;
const GC_ROLE = `arn:aws:iam::${ACCOUNT}:role/edms-backup-gc-identity-role`;
const RUNNER_ROLE = `arn:aws:iam::${ACCOUNT}:role/edms-backup-identity-role`;
const session = (role: string) => `${role.replace(":iam::", ":sts::").replace(":role/", ":assumed-role/")}/1736606868`;
const ISSUER = "oidc.eks.ap-southeast-1.amazonaws.com/id/5C2B7E1F0D9A4A6B8E3F1C0D2A4B6C8E";
const PROVIDER_ARN = `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}`;
const SET = "edms/daily/20260111T144748Z-3f9a";
const OBJECT = `edms/store/objects/3f/3f${"a1".repeat(31)}`;
const ENCRYPTED_OBJECT = `edms/store/objects/0c/0c${"9e".repeat(31)}.age`;
const LOCKED = {
  "s3:object-lock-mode": "GOVERNANCE",
  "s3:object-lock-retain-until-date": "2027-01-12T14:47:48.000Z",
  "s3:object-lock-remaining-retention-days": "366",
};

const parse = (json: unknown) => JSON.parse(String(json)) as PolicyDocument;

beforeAll(async () => {
  run = await runStack("prod");
  gcPolicy = parse(one(run, "aws:iam/rolePolicy:RolePolicy", "edms-backup-gc-identity-policy").inputs.policy);
  runnerPolicy = parse(one(run, "aws:iam/rolePolicy:RolePolicy", "edms-backup-identity-policy").inputs.policy);
  bucketPolicy = parse(one(run, "aws:s3/bucketPolicy:BucketPolicy", "edms-backup-policy").inputs.policy);
  keyPolicy = parse(one(run, "aws:kms/key:Key", "edms-backup-key").inputs.policy);
  gcTrust = parse(one(run, "aws:iam/role:Role", "edms-backup-gc-identity-role").inputs.assumeRolePolicy);
  runnerTrust = parse(one(run, "aws:iam/role:Role", "edms-backup-identity-role").inputs.assumeRolePolicy);
  bucketArn = `arn:aws:s3:::${String(run.outputs.bucketName)}`;
});

/** A request from a pod of `role`: TLS 1.3, SigV4 in a header. */
function request(role: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    "aws:SecureTransport": "true",
    "s3:TlsVersion": "1.3",
    "s3:authType": "REST-HEADER",
    "s3:signatureversion": "AWS4-HMAC-SHA256",
    "aws:PrincipalArn": role,
    "aws:PrincipalAccount": ACCOUNT,
    "aws:RequestedRegion": REGION,
    ...extra,
  };
}

function gc(action: string, key: string | null, extra: Record<string, string> = {}): Promise<Decision> {
  const resource = key === null ? bucketArn : key.startsWith("arn:") ? key : `${bucketArn}/${key}`;
  return decide(
    session(GC_ROLE),
    ACCOUNT,
    { action, resource, context: request(GC_ROLE, extra) },
    { identityPolicy: gcPolicy, resourcePolicy: bucketPolicy },
  );
}
function backup(action: string, key: string, extra: Record<string, string> = {}): Promise<Decision> {
  return decide(
    session(RUNNER_ROLE),
    ACCOUNT,
    { action, resource: `${bucketArn}/${key}`, context: request(RUNNER_ROLE, extra) },
    { identityPolicy: runnerPolicy, resourcePolicy: bucketPolicy },
  );
}

describe("gc's role may do what `gc --yes` does", () => {
  it("list the sets and the content objects (ListObjectsV2 under the prefix)", async () => {
    for (const prefix of ["edms/", "edms/daily/", "edms/store/objects/", "edms/store/objects/3f/"]) {
      expect(await gc("s3:ListBucket", null, { "s3:prefix": prefix }), prefix).toBe("Allowed");
    }
  });

  it("read every set's manifest, segment list, object list and media index (plain and encrypted), in every tier", async () => {
    for (const key of [
      `${SET}/manifest.json`,
      `${SET}/media-segments.txt`,
      "edms/weekly/20251201T040000Z-77aa/media-segments.txt",
      `${SET}/media-objects.txt`,
      "edms/weekly/20251201T040000Z-77aa/media-objects.txt",
      `${SET}/media-index.jsonl.zst`,
      "edms/monthly/20251201T040000Z-77aa/media-index.jsonl.zst.age",
    ]) {
      expect(await gc("s3:GetObject", key), key).toBe("Allowed");
    }
  });

  it("look at a content object before deleting it: HeadObject and, under Object Lock, its retention", async () => {
    for (const key of [OBJECT, ENCRYPTED_OBJECT]) {
      expect(await gc("s3:GetObject", key), key).toBe("Allowed");
      expect(await gc("s3:GetObjectRetention", key), key).toBe("Allowed");
    }
  });

  it("delete a content object (DeleteObject without a version id: a delete marker)", async () => {
    for (const key of [OBJECT, ENCRYPTED_OBJECT]) expect(await gc("s3:DeleteObject", key), key).toBe("Allowed");
  });

  it("record its run for status under store/gc/, use the bucket key through S3 and publish its metric", async () => {
    // Its records (written, and the newest read back by the next run) and its leases.
    for (const key of [
      "edms/store/gc/runs/20260111T213000.120Z-1c2d.json",
      "edms/store/gc/leases/20260111T213000.120Z-1c2d.json",
    ]) {
      expect(await gc("s3:PutObject", key), key).toBe("Allowed");
      expect(await gc("s3:GetObject", key), key).toBe("Allowed");
    }
    const viaS3 = {
      "aws:SecureTransport": "true",
      "aws:PrincipalArn": GC_ROLE,
      "kms:ViaService": `s3.${REGION}.amazonaws.com`,
      "kms:CallerAccount": ACCOUNT,
      "kms:EncryptionContext:aws:s3:arn": bucketArn,
    };
    for (const action of ["kms:Decrypt", "kms:GenerateDataKey"]) {
      const call = { action, resource: KEY_ARN, context: viaS3 };
      expect(
        await decide(session(GC_ROLE), ACCOUNT, call, { identityPolicy: gcPolicy, resourcePolicy: keyPolicy }),
      ).toBe("Allowed");
    }
    const metrics = (namespace: string) =>
      decide(
        session(GC_ROLE),
        ACCOUNT,
        {
          action: "cloudwatch:PutMetricData",
          resource: "*",
          context: { "aws:SecureTransport": "true", "cloudwatch:namespace": namespace },
        },
        { identityPolicy: gcPolicy },
      );
    expect(await metrics("EDMS/Backup")).toBe("Allowed");
    expect(await metrics("AWS/EC2")).toBe("ImplicitlyDenied");
  });

  it("is assumed by the gc service account only, and the runner's service account only gets the runner's role", () => {
    const token = (serviceAccount: string) => ({
      [`${ISSUER}:sub`]: `system:serviceaccount:edms:${serviceAccount}`,
      [`${ISSUER}:aud`]: "sts.amazonaws.com",
    });
    expect(decideWebIdentity(PROVIDER_ARN, GC_ROLE, ACCOUNT, token("edms-backup-gc"), gcTrust)).toBe("Allowed");
    expect(decideWebIdentity(PROVIDER_ARN, GC_ROLE, ACCOUNT, token("edms-backup"), gcTrust)).toBe("ImplicitlyDenied");
    expect(decideWebIdentity(PROVIDER_ARN, RUNNER_ROLE, ACCOUNT, token("edms-backup-gc"), runnerTrust)).toBe(
      "ImplicitlyDenied",
    );
    expect(decideWebIdentity(PROVIDER_ARN, RUNNER_ROLE, ACCOUNT, token("edms-backup"), runnerTrust)).toBe("Allowed");
  });
});

describe("gc's role may delete content objects and nothing else", () => {
  it("never deletes a set's objects, a record, a drill, or anything outside the content objects", async () => {
    for (const key of [
      `${SET}/manifest.json`,
      `${SET}/media-index.jsonl.zst`,
      `${SET}/database.dump.zst`,
      `${SET}/storage.tar.zst`,
      "edms/store/gc/20260111T213000Z-1c2d.json",
      "edms/drills/20260111T220000Z-9a8b.json",
      // Not content objects: beside the objects folder, or a look-alike in a tier.
      "edms/store/objects",
      "edms/store/cache/stat.sealed",
      `edms/daily/store/objects/3f/3f${"a1".repeat(31)}`,
    ]) {
      for (const action of ["s3:DeleteObject", "s3:DeleteObjectVersion"]) {
        expect(await gc(action, key), `${action} ${key}`).toBe("ExplicitlyDenied");
      }
    }
    // Another application's objects, and another bucket's: the deny covers every resource but ours.
    expect(await gc("s3:DeleteObject", `other-app/store/objects/3f/3f${"a1".repeat(31)}`)).toBe("ExplicitlyDenied");
    expect(await gc("s3:DeleteObject", `arn:aws:s3:::someone-elses-bucket/${OBJECT}`)).toBe("ExplicitlyDenied");
  });

  it("never deletes a version for good, lifts or changes a lock, or shortens retention", async () => {
    expect(await gc("s3:DeleteObjectVersion", OBJECT)).toBe("ExplicitlyDenied");
    expect(await gc("s3:BypassGovernanceRetention", OBJECT, LOCKED)).toBe("ExplicitlyDenied");
    expect(await gc("s3:PutObjectRetention", OBJECT, LOCKED)).toBe("ExplicitlyDenied");
    expect(await gc("s3:PutObjectLegalHold", OBJECT, { "s3:object-lock-legal-hold": "OFF" })).toBe("ExplicitlyDenied");
  });

  it("reads no database dump, media archive or names member, and writes nothing but its records", async () => {
    for (const key of [`${SET}/database.dump.zst`, `${SET}/storage.tar.zst`, `${SET}/names.json.age`]) {
      expect(await gc("s3:GetObject", key), key).toBe("ImplicitlyDenied");
    }
    for (const key of [`${SET}/manifest.json`, OBJECT, "edms/drills/x.json", "edms/store/gcx/a.json"]) {
      expect(await gc("s3:PutObject", key), key).toBe("ImplicitlyDenied");
    }
    expect(await gc("s3:ListBucket", null, { "s3:prefix": "other-app/" })).toBe("ImplicitlyDenied");
  });

  it("changes nothing about the bucket, and nothing at all without TLS", async () => {
    for (const action of ["s3:PutLifecycleConfiguration", "s3:PutBucketObjectLockConfiguration", "s3:DeleteBucket"]) {
      expect(await gc(action, null), action).toBe("ExplicitlyDenied");
    }
    expect(await gc("s3:PutBucketPolicy", null)).not.toBe("Allowed");
    expect(await gc("s3:DeleteObject", OBJECT, { "aws:SecureTransport": "false" })).toBe("ExplicitlyDenied");
  });
});

describe("the backup role with the content store", () => {
  it("stores a new content object with its lock, reads an object's lock and extends it", async () => {
    expect(await backup("s3:PutObject", OBJECT, LOCKED)).toBe("Allowed");
    expect(await backup("s3:PutObjectRetention", OBJECT, LOCKED)).toBe("Allowed");
    expect(await backup("s3:GetObjectRetention", OBJECT)).toBe("Allowed");
    expect(await backup("s3:GetObject", OBJECT)).toBe("Allowed");
    // Only content objects' locks are read this way.
    expect(await backup("s3:GetObjectRetention", `${SET}/manifest.json`)).toBe("ImplicitlyDenied");
  });

  it("still cannot delete anything, a content object included, or lift a lock", async () => {
    for (const key of [OBJECT, ENCRYPTED_OBJECT, `${SET}/media-index.jsonl.zst`]) {
      for (const action of ["s3:DeleteObject", "s3:DeleteObjectVersion"]) {
        expect(await backup(action, key), `${action} ${key}`).toBe("ExplicitlyDenied");
      }
    }
    expect(await backup("s3:BypassGovernanceRetention", OBJECT, LOCKED)).toBe("ExplicitlyDenied");
  });
});
