/**
 * The backup bucket: versioned, KMS-encrypted, private, owner-enforced, TLS-only, with one
 * lifecycle configuration enforcing each tier's retention, and optionally Object Lock.
 */
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import type { Tier } from "../../runner/src/contract.js";
import { backupKeyPolicy, partitionOf } from "../identity/iam-policies.js";
import { lifecycleRules, objectLockDefaultDays, tlsOnlyBucketPolicy } from "./bucket-rules.js";

export interface BackupBucketArgs {
  /** Prefix of the generated bucket name. */
  namePrefix: string;
  keyPrefix: string;
  retentionDays: Record<Tier, number>;
  noncurrentVersionDays: number;
  monthlyTransition?: { storageClass: string; afterDays: number };
  objectLock?: { mode: "GOVERNANCE" | "COMPLIANCE" };
  /** An existing key; unset = create one with yearly rotation. */
  kmsKeyArn?: string;
  forceDestroy: boolean;
}

export class BackupBucket extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  readonly bucketName: pulumi.Output<string>;
  readonly bucketArn: pulumi.Output<string>;
  readonly kmsKeyArn: pulumi.Output<string>;

  constructor(name: string, args: BackupBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("edms-backup:storage:BackupBucket", name, {}, opts);
    const parent = { parent: this };

    this.kmsKeyArn = args.kmsKeyArn ? pulumi.output(args.kmsKeyArn) : backupKey(name, parent);

    this.bucket = new aws.s3.Bucket(
      `${name}-bucket`,
      {
        bucketPrefix: `${args.namePrefix}-`,
        forceDestroy: args.forceDestroy,
        // Object Lock can only be switched on when the bucket is created.
        objectLockEnabled: args.objectLock !== undefined,
      },
      { ...parent, protect: !args.forceDestroy },
    );
    this.bucketName = this.bucket.bucket;
    this.bucketArn = this.bucket.arn;
    const bucket = this.bucket.id;

    const versioning = new aws.s3.BucketVersioning(
      `${name}-versioning`,
      { bucket, versioningConfiguration: { status: "Enabled" } },
      parent,
    );
    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      {
        bucket,
        rules: [
          {
            applyServerSideEncryptionByDefault: { sseAlgorithm: "aws:kms", kmsMasterKeyId: this.kmsKeyArn },
            // One data key per bucket instead of per object: far fewer KMS calls for multipart uploads.
            bucketKeyEnabled: true,
          },
        ],
      },
      parent,
    );
    const publicAccess = new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access`,
      { bucket, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
      parent,
    );
    new aws.s3.BucketOwnershipControls(
      `${name}-ownership`,
      { bucket, rule: { objectOwnership: "BucketOwnerEnforced" } },
      parent,
    );
    new aws.s3.BucketPolicy(
      `${name}-policy`,
      { bucket, policy: this.bucketArn.apply((arn) => JSON.stringify(tlsOnlyBucketPolicy(arn))) },
      // The public access block must exist first, or a policy could briefly be evaluated without it.
      { ...parent, dependsOn: [publicAccess] },
    );
    new aws.s3.BucketLifecycleConfiguration(
      `${name}-lifecycle`,
      {
        bucket,
        rules: lifecycleRules({
          keyPrefix: args.keyPrefix,
          retentionDays: args.retentionDays,
          noncurrentVersionDays: args.noncurrentVersionDays,
          monthlyTransition: args.monthlyTransition,
        }),
      },
      // Noncurrent-version rules need versioning to be on.
      { ...parent, dependsOn: [versioning] },
    );
    if (args.objectLock) {
      new aws.s3.BucketObjectLockConfiguration(
        `${name}-object-lock`,
        {
          bucket,
          objectLockEnabled: "Enabled",
          rule: {
            defaultRetention: { mode: args.objectLock.mode, days: objectLockDefaultDays(args.retentionDays) },
          },
        },
        { ...parent, dependsOn: [versioning] },
      );
    }

    this.registerOutputs({ bucketName: this.bucketName, bucketArn: this.bucketArn, kmsKeyArn: this.kmsKeyArn });
  }
}

/** The bucket's own KMS key (rotated, with its alias), when the stack names none. */
function backupKey(name: string, parent: { parent: pulumi.Resource }): pulumi.Output<string> {
  const caller = aws.getCallerIdentityOutput({}, parent);
  const key = new aws.kms.Key(
    `${name}-key`,
    {
      description: `Encrypts the backups in ${name}`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
      policy: pulumi
        .all([caller.arn, caller.accountId])
        .apply(([arn, accountId]) => JSON.stringify(backupKeyPolicy(partitionOf(arn), accountId))),
    },
    parent,
  );
  new aws.kms.Alias(`${name}-key-alias`, { name: `alias/${name}`, targetKeyId: key.keyId }, parent);
  return key.arn;
}
