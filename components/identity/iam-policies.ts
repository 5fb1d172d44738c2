/**
 * IAM documents for the runner, as pure functions. The permission policy allows writing, reading
 * and listing backups under the stack's key prefix and using its KMS key through S3, and nothing
 * else. It also denies, explicitly, the actions that could destroy or shorten retention, so a
 * broader policy attached to the same role by mistake cannot grant them.
 */

import { STORE_OBJECTS_PREFIX } from "../../runner/src/contract.js";

export type ConditionBlock = Record<string, Record<string, string | string[]>>;

export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: "*" | Record<string, string | string[]>;
  Action: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: ConditionBlock;
}

export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: PolicyStatement[];
}

export interface RunnerPolicySettings {
  bucketArn: string;
  keyPrefix: string;
  kmsKeyArn: string;
  region: string;
  /** With Object Lock, PutObject carrying a retain-until date also needs s3:PutObjectRetention. */
  objectLock: boolean;
  cloudwatchNamespace?: string;
  /** The run-summary topic (stack config runSummary); unset = no SNS grant at all. */
  runSummaryTopicArn?: string;
}

/** Actions the runner must never have, whatever else is attached to its role. */
export const DENIED_ACTIONS = [
  "s3:Delete*",
  "s3:PutBucket*",
  "s3:PutLifecycleConfiguration",
  "s3:PutBucketObjectLockConfiguration",
  "s3:PutObjectLegalHold",
  "s3:BypassGovernanceRetention",
  "s3:PutEncryptionConfiguration",
  "s3:PutReplicationConfiguration",
] as const;

/** The bucket's KMS key, for data keys only and only through S3 in this region (SSE-KMS). */
/** ListBucket limited to the stack's prefix: every identity of the stack lists only its own keys. */
export function listBackupPrefix(s: { bucketArn: string; keyPrefix: string }): PolicyStatement {
  return {
    Sid: "ListBackupPrefix",
    Effect: "Allow",
    Action: "s3:ListBucket",
    Resource: s.bucketArn,
    Condition: { StringLike: { "s3:prefix": [`${s.keyPrefix}/*`] } },
  };
}

export function useKeyThroughS3(kmsKeyArn: string, region: string): PolicyStatement {
  return {
    Sid: "UseBackupKeyThroughS3",
    Effect: "Allow",
    Action: ["kms:GenerateDataKey", "kms:Decrypt"],
    Resource: kmsKeyArn,
    Condition: { StringEquals: { "kms:ViaService": `s3.${region}.amazonaws.com` } },
  };
}

/** CloudWatch PutMetricData into the stack's namespace only. */
export function publishMetrics(sid: string, namespace: string): PolicyStatement {
  return {
    Sid: sid,
    Effect: "Allow",
    Action: "cloudwatch:PutMetricData",
    Resource: "*",
    Condition: { StringEquals: { "cloudwatch:namespace": namespace } },
  };
}

export function runnerPolicy(s: RunnerPolicySettings): PolicyDocument {
  const objects = `${s.bucketArn}/${s.keyPrefix}/*`;
  // Exactly what runner/src calls (see test/components/iam-evaluation.test.ts for the list):
  // PutObject (also CreateMultipartUpload, UploadPart, CompleteMultipartUpload), GetObject (also
  // HeadObject), AbortMultipartUpload of its own failed uploads and of abandoned ones older than a
  // day (not a delete of any object), and ListMultipartUploadParts (ListParts: the bytes unfinished
  // uploads hold, for `status`).
  const objectActions = ["s3:PutObject", "s3:GetObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"];
  // With Object Lock, S3 authorizes a put's retain-until headers as s3:PutObjectRetention too.
  if (s.objectLock) objectActions.push("s3:PutObjectRetention");
  const statements: PolicyStatement[] = [
    listBackupPrefix(s),
    {
      // s3:ListBucketMultipartUploads has no s3:prefix condition key: a grant conditioned on it is
      // never effective (AWS drops keys an action does not have), and the runner's sweep of its own
      // unfinished uploads was always denied. It can only be granted on the whole bucket; the
      // bucket belongs to this stack, and the listing shows in-progress upload keys, no data.
      Sid: "SweepOwnUnfinishedUploads",
      Effect: "Allow",
      Action: "s3:ListBucketMultipartUploads",
      Resource: s.bucketArn,
    },
    {
      Sid: "ReadWriteBackups",
      Effect: "Allow",
      Action: objectActions,
      Resource: objects,
    },
    useKeyThroughS3(s.kmsKeyArn, s.region),
  ];
  if (s.objectLock) {
    // A backup that reuses a content object extends its retention, never shortens it: it reads
    // the object's retain-until date first (HeadObject shows it only with this permission).
    statements.push({
      Sid: "ReadContentObjectRetention",
      Effect: "Allow",
      Action: "s3:GetObjectRetention",
      Resource: `${s.bucketArn}/${s.keyPrefix}/${STORE_OBJECTS_PREFIX}*`,
    });
  }
  if (s.cloudwatchNamespace) statements.push(publishMetrics("PublishRunnerMetrics", s.cloudwatchNamespace));
  if (s.runSummaryTopicArn) {
    // Publish to that one topic: not Subscribe (who gets the mail is the stack's to say), nor any
    // other topic (the alarms' topic is CloudWatch's to publish to).
    statements.push({
      Sid: "PublishRunSummaries",
      Effect: "Allow",
      Action: "sns:Publish",
      Resource: s.runSummaryTopicArn,
    });
  }
  statements.push({
    Sid: "NeverDestroyBackups",
    Effect: "Deny",
    Action: [...DENIED_ACTIONS],
    Resource: [s.bucketArn, `${s.bucketArn}/*`],
  });
  return { Version: "2012-10-17", Statement: statements };
}

/**
 * The exporter's read-only identity: what `edms-backup exporter` calls (ListObjectsV2 under the
 * prefix, GetObject of manifests and records, ListMultipartUploads and ListParts for the unfinished
 * uploads, kms:Decrypt through S3) and nothing that writes; writes are denied outright as well.
 */
export function readerPolicy(s: Omit<RunnerPolicySettings, "objectLock" | "cloudwatchNamespace">): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      listBackupPrefix(s),
      // No s3:prefix key on this action (see runnerPolicy): the bucket's in-progress upload keys only.
      { Sid: "ListUnfinishedUploads", Effect: "Allow", Action: "s3:ListBucketMultipartUploads", Resource: s.bucketArn },
      {
        Sid: "ReadBackups",
        Effect: "Allow",
        Action: ["s3:GetObject", "s3:ListMultipartUploadParts"],
        Resource: `${s.bucketArn}/${s.keyPrefix}/*`,
      },
      {
        Sid: "DecryptThroughS3",
        Effect: "Allow",
        Action: "kms:Decrypt",
        Resource: s.kmsKeyArn,
        Condition: { StringEquals: { "kms:ViaService": `s3.${s.region}.amazonaws.com` } },
      },
      {
        Sid: "NeverWrite",
        Effect: "Deny",
        Action: [...DENIED_ACTIONS, "s3:PutObject", "s3:PutObjectRetention", "s3:AbortMultipartUpload"],
        Resource: [s.bucketArn, `${s.bucketArn}/*`],
      },
    ],
  };
}

/**
 * Who may assume the break-glass role (stack config breakGlass): exactly `principals`, with MFA
 * when `requireMfa`. Its permissions are the reader's (readerPolicy): read and decrypt, never write.
 */
export function breakGlassTrustPolicy(principals: readonly string[], requireMfa: boolean): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "BreakGlass",
        Effect: "Allow",
        Principal: { AWS: [...principals] },
        Action: "sts:AssumeRole",
        ...(requireMfa ? { Condition: { Bool: { "aws:MultiFactorAuthPresent": "true" } } } : {}),
      },
    ],
  };
}

/** The OIDC issuer (host/path) an IRSA trust policy's condition keys are named after. */
export function oidcIssuerFromProviderArn(oidcProviderArn: string): string {
  const marker = ":oidc-provider/";
  const index = oidcProviderArn.indexOf(marker);
  if (index < 0) throw new Error(`not an IAM OIDC provider ARN: ${oidcProviderArn}`);
  return oidcProviderArn.slice(index + marker.length);
}

/** IRSA: only this namespace's service account, and only tokens minted for STS. */
export function irsaTrustPolicy(oidcProviderArn: string, namespace: string, serviceAccount: string): PolicyDocument {
  const issuer = oidcIssuerFromProviderArn(oidcProviderArn);
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "ServiceAccountWebIdentity",
        Effect: "Allow",
        Principal: { Federated: oidcProviderArn },
        Action: "sts:AssumeRoleWithWebIdentity",
        Condition: {
          StringEquals: {
            [`${issuer}:sub`]: `system:serviceaccount:${namespace}:${serviceAccount}`,
            [`${issuer}:aud`]: "sts.amazonaws.com",
          },
        },
      },
    ],
  };
}

/**
 * EKS Pod Identity: the EKS Auth service assumes the role for a pod and tags the session with the
 * pod's cluster, namespace and service account (aws:RequestTag/eks-cluster-arn,
 * kubernetes-namespace, kubernetes-service-account; AWS EKS User Guide, "Create IAM role with trust
 * policy required by EKS Pod Identity" and "List of session tags added by EKS Pod Identity"). The
 * conditions on those tags are what scope the role: without them any Pod Identity association in
 * the account could use it. AWS does not document aws:SourceArn for this service principal, so a
 * condition on it would either never hold or not scope by namespace. The association must keep
 * session tags on (the default; the component sets disableSessionTags: false).
 */
export function podIdentityTrustPolicy(clusterArn: string, namespace: string, serviceAccount: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "EksPodIdentity",
        Effect: "Allow",
        Principal: { Service: "pods.eks.amazonaws.com" },
        // TagSession: the service passes the session tags the conditions read.
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Condition: {
          StringEquals: {
            "aws:RequestTag/eks-cluster-arn": clusterArn,
            "aws:RequestTag/kubernetes-namespace": namespace,
            "aws:RequestTag/kubernetes-service-account": serviceAccount,
          },
        },
      },
    ],
  };
}

/**
 * The backup key's policy: AWS's default key policy (the account may grant use of the key with
 * IAM policies), written out so that it is a reviewed, evaluated document rather than an implicit
 * one. The runner's use of the key then comes only from its role policy (through S3, this region).
 */
export function backupKeyPolicy(partition: string, accountId: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "EnableIamPolicies",
        Effect: "Allow",
        Principal: { AWS: `arn:${partition}:iam::${accountId}:root` },
        Action: "kms:*",
        Resource: "*",
      },
    ],
  };
}

/** The partition of a known ARN ("aws", "aws-cn", "aws-us-gov"). */
export function partitionOf(arn: string): string {
  return arn.split(":")[1] ?? "aws";
}

/** arn:<partition>:eks:<region>:<account>:cluster/<name>, the partition taken from a known ARN. */
export function eksClusterArn(callerArn: string, region: string, accountId: string, clusterName: string): string {
  return `arn:${partitionOf(callerArn)}:eks:${region}:${accountId}:cluster/${clusterName}`;
}
