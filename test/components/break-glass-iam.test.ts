/**
 * The break-glass role (stack config breakGlass, issue 26 item 4), as the prod stack renders it
 * with one, evaluated like iam-evaluation.test.ts (the evaluator, realistic ARNs and context keys,
 * the stack's own bucket policy): the configured principal may assume it with MFA (not without,
 * and nobody else may); the role reads and lists the backups and decrypts through S3 with the
 * bucket's key, and may not write, delete, lift retention or use the key outside S3.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { PolicyDocument } from "../../components/identity/iam-policies.js";
import type { StackConfigError } from "../../components/config/stack-config.js";
import { parseStackConfig } from "../../components/config/stack-config.js";
import { decide, type Decision } from "./iam-simulator.js";
import { ACCOUNT, REGION, one, runStack, type StackRun } from "./stack-harness.js";

let run: StackRun;
let policy: PolicyDocument;
let trust: PolicyDocument;
let bucketPolicy: PolicyDocument;
let keyPolicy: PolicyDocument;
let bucketArn: string;

const OPERATOR = `arn:aws:iam::${ACCOUNT}:user/ops-recovery`;
const ROLE = `arn:aws:iam::${ACCOUNT}:role/edms-backup-break-glass-role`;
const SESSION = `arn:aws:sts::${ACCOUNT}:assumed-role/edms-backup-break-glass-role/ops`;
const KEY_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;
const SET = "edms/daily/20260111T144748Z-3f9a";
const parse = (json: unknown) => JSON.parse(String(json)) as PolicyDocument;

beforeAll(async () => {
  run = await runStack("prod", { breakGlass: { principals: [OPERATOR] } });
  policy = parse(one(run, "aws:iam/rolePolicy:RolePolicy", "edms-backup-break-glass-policy").inputs.policy);
  trust = parse(one(run, "aws:iam/role:Role", "edms-backup-break-glass-role").inputs.assumeRolePolicy);
  bucketPolicy = parse(one(run, "aws:s3/bucketPolicy:BucketPolicy", "edms-backup-policy").inputs.policy);
  keyPolicy = parse(one(run, "aws:kms/key:Key", "edms-backup-key").inputs.policy);
  bucketArn = `arn:aws:s3:::${String(run.outputs.bucketName)}`;
});

/** A call from a laptop with the role's session: TLS, SigV4 in a header. */
function asRole(action: string, resource: string, extra: Record<string, string> = {}): Promise<Decision> {
  return decide(
    SESSION,
    ACCOUNT,
    {
      action,
      resource,
      context: {
        "aws:SecureTransport": "true",
        "s3:TlsVersion": "1.3",
        "s3:authType": "REST-HEADER",
        "s3:signatureversion": "AWS4-HMAC-SHA256",
        "aws:PrincipalArn": ROLE,
        "aws:PrincipalAccount": ACCOUNT,
        "aws:RequestedRegion": REGION,
        ...extra,
      },
    },
    { identityPolicy: policy, resourcePolicy: action.startsWith("s3:") ? bucketPolicy : undefined },
  );
}

/** A KMS call with the bucket's key, through S3 (as GetObject of an SSE-KMS object makes it) or directly. */
function kms(action: string, viaS3: boolean): Promise<Decision> {
  const context: Record<string, string> = {
    "aws:SecureTransport": "true",
    "aws:PrincipalArn": ROLE,
    "kms:CallerAccount": ACCOUNT,
    ...(viaS3 ? { "kms:ViaService": `s3.${REGION}.amazonaws.com`, "kms:EncryptionContext:aws:s3:arn": bucketArn } : {}),
  };
  return decide(
    SESSION,
    ACCOUNT,
    { action, resource: KEY_ARN, context },
    { identityPolicy: policy, resourcePolicy: keyPolicy },
  );
}

function assume(principal: string, mfa: boolean): Promise<Decision> {
  return decide(
    principal,
    ACCOUNT,
    {
      action: "sts:AssumeRole",
      resource: ROLE,
      context: {
        "aws:PrincipalArn": principal,
        "aws:PrincipalAccount": ACCOUNT,
        "aws:MultiFactorAuthPresent": mfa ? "true" : "false",
        "aws:SecureTransport": "true",
      },
    },
    { resourcePolicy: trust },
  );
}

describe("the break-glass role", () => {
  it("is exported, and only the configured principal may assume it, with MFA", async () => {
    expect(run.outputs.breakGlassRoleArn).toBe(ROLE);
    expect(await assume(OPERATOR, true)).toBe("Allowed");
    expect(await assume(OPERATOR, false)).not.toBe("Allowed");
    expect(await assume(`arn:aws:iam::${ACCOUNT}:user/someone-else`, true)).not.toBe("Allowed");
    expect(await assume(`arn:aws:iam::210987654321:user/ops-recovery`, true)).not.toBe("Allowed");
  });

  it("reads, lists and decrypts the backups through S3", async () => {
    expect(await asRole("s3:GetObject", `${bucketArn}/${SET}/manifest.json`)).toBe("Allowed");
    expect(await asRole("s3:ListBucket", bucketArn, { "s3:prefix": "edms/daily/" })).toBe("Allowed");
    expect(await kms("kms:Decrypt", true)).toBe("Allowed");
  });

  it("never writes, deletes, lifts retention or uses the key outside S3", async () => {
    for (const action of ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"])
      expect(await asRole(action, `${bucketArn}/${SET}/database.dump.zst`), action).toBe("ExplicitlyDenied");
    expect(await asRole("s3:PutBucketPolicy", bucketArn)).toBe("ExplicitlyDenied");
    expect(await asRole("s3:ListBucket", bucketArn, { "s3:prefix": "other-app/" })).not.toBe("Allowed");
    expect(await kms("kms:Decrypt", false)).not.toBe("Allowed");
    expect(await kms("kms:GenerateDataKey", true)).not.toBe("Allowed");
  });

  it("is not created without breakGlass, and bad principals are refused naming the field", () => {
    expect(run.resources.filter((r) => r.name.includes("break-glass")).length).toBe(3);
    const bad = (() => {
      try {
        parseStackConfig({
          identity: { kind: "podIdentity", clusterName: "c" },
          database: { host: "h", name: "n", user: "u", secretName: "s", cidr: "10.0.0.0/24" },
          breakGlass: { principals: ["ops@example.com", "arn:aws:iam::123:user/x"] },
        });
      } catch (error) {
        return error as StackConfigError;
      }
      return undefined;
    })();
    expect(bad?.problems.join("\n")).toMatch(/breakGlass\.principals\.0 must be an IAM user or role ARN/);
    expect(bad?.problems.join("\n")).toMatch(/breakGlass\.principals\.1 must be an IAM user or role ARN/);
  });
});
