/**
 * IAM documents for the runner, as pure functions. The permission policy allows writing, reading
 * and listing backups under the stack's key prefix and using its KMS key through S3, and nothing
 * else. It also denies, explicitly, the actions that could destroy or shorten retention, so a
 * broader policy attached to the same role by mistake cannot grant them.
 */

export type ConditionBlock = Record<string, Record<string, string | string[]>>;

export interface PolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: "*" | Record<string, string | string[]>;
  Action: string | string[];
  Resource?: string | string[];
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

export function runnerPolicy(s: RunnerPolicySettings): PolicyDocument {
  const objects = `${s.bucketArn}/${s.keyPrefix}/*`;
  const objectActions = [
    "s3:PutObject",
    "s3:GetObject",
    // The runner aborts its own failed multipart uploads (not a delete of any stored object).
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
    ...(s.objectLock ? ["s3:PutObjectRetention", "s3:GetObjectRetention"] : []),
  ];
  const statements: PolicyStatement[] = [
    {
      Sid: "ListBackupPrefix",
      Effect: "Allow",
      Action: ["s3:ListBucket", "s3:ListBucketMultipartUploads"],
      Resource: s.bucketArn,
      Condition: { StringLike: { "s3:prefix": [`${s.keyPrefix}/*`] } },
    },
    {
      Sid: "ReadWriteBackups",
      Effect: "Allow",
      Action: objectActions,
      Resource: objects,
    },
    {
      Sid: "UseBackupKeyThroughS3",
      Effect: "Allow",
      Action: ["kms:GenerateDataKey", "kms:Decrypt"],
      Resource: s.kmsKeyArn,
      Condition: { StringEquals: { "kms:ViaService": `s3.${s.region}.amazonaws.com` } },
    },
  ];
  if (s.cloudwatchNamespace) {
    statements.push({
      Sid: "PublishRunnerMetrics",
      Effect: "Allow",
      Action: "cloudwatch:PutMetricData",
      Resource: "*",
      Condition: { StringEquals: { "cloudwatch:namespace": s.cloudwatchNamespace } },
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
 * EKS Pod Identity: the EKS service assumes the role for pods; the PodIdentityAssociation binds it
 * to one namespace and service account, and the conditions bind it to one account and cluster.
 */
export function podIdentityTrustPolicy(accountId: string, clusterArn: string): PolicyDocument {
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "EksPodIdentity",
        Effect: "Allow",
        Principal: { Service: "pods.eks.amazonaws.com" },
        Action: ["sts:AssumeRole", "sts:TagSession"],
        Condition: {
          StringEquals: { "aws:SourceAccount": accountId },
          ArnEquals: { "aws:SourceArn": clusterArn },
        },
      },
    ],
  };
}

/** arn:<partition>:eks:<region>:<account>:cluster/<name>, the partition taken from a known ARN. */
export function eksClusterArn(callerArn: string, region: string, accountId: string, clusterName: string): string {
  const partition = callerArn.split(":")[1] ?? "aws";
  return `arn:${partition}:eks:${region}:${accountId}:cluster/${clusterName}`;
}
