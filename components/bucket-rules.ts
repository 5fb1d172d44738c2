/**
 * Pure builders for the backup bucket: one lifecycle rule per tier prefix (retention lives in S3,
 * so it holds even when no runner ever runs again) and a bucket policy that refuses plain HTTP.
 */
import { TIERS, UNFINISHED_UPLOAD_ABORT_DAYS, type Tier } from "../runner/src/contract.js";
import type { PolicyDocument } from "./iam-policies.js";

export interface LifecycleRule {
  id: string;
  status: "Enabled";
  filter: { prefix: string };
  expiration: { days: number };
  noncurrentVersionExpiration: { noncurrentDays: number };
  abortIncompleteMultipartUpload: { daysAfterInitiation: number };
  transitions?: Array<{ days: number; storageClass: string }>;
}

export interface LifecycleSettings {
  keyPrefix: string;
  retentionDays: Record<Tier, number>;
  noncurrentVersionDays: number;
  monthlyTransition?: { storageClass: string; afterDays: number };
}

/** `<keyPrefix>/<tier>/`: the storage layout's tier folder, which lifecycle rules filter on. */
export function tierPrefix(keyPrefix: string, tier: Tier): string {
  return `${keyPrefix}/${tier}/`;
}

/**
 * A rule for every tier, enabled or not: backups written before a tier was disabled still expire.
 * The runner never overwrites, so noncurrent versions only come from expiry or a mistake; they are
 * kept a few days as an undo window.
 */
export function lifecycleRules(s: LifecycleSettings): LifecycleRule[] {
  return TIERS.map((tier) => {
    const rule: LifecycleRule = {
      id: `${tier}-retention`,
      status: "Enabled",
      filter: { prefix: tierPrefix(s.keyPrefix, tier) },
      expiration: { days: s.retentionDays[tier] },
      noncurrentVersionExpiration: { noncurrentDays: s.noncurrentVersionDays },
      // A killed run leaves parts that cost money and are invisible to listings; the runner's own
      // sweep uses the same age, for S3-compatible stores without lifecycle rules.
      abortIncompleteMultipartUpload: { daysAfterInitiation: UNFINISHED_UPLOAD_ABORT_DAYS },
    };
    if (tier === "monthly" && s.monthlyTransition) {
      if (s.monthlyTransition.afterDays >= s.retentionDays.monthly) {
        throw new Error("the monthly transition must happen before the monthly backups expire");
      }
      rule.transitions = [{ days: s.monthlyTransition.afterDays, storageClass: s.monthlyTransition.storageClass }];
    }
    return rule;
  });
}

/** Denies every request over plain HTTP or TLS older than 1.2, whoever makes it. */
export function tlsOnlyBucketPolicy(bucketArn: string): PolicyDocument {
  const resources = [bucketArn, `${bucketArn}/*`];
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "DenyInsecureTransport",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: resources,
        Condition: { Bool: { "aws:SecureTransport": "false" } },
      },
      {
        Sid: "DenyOutdatedTls",
        Effect: "Deny",
        Principal: "*",
        Action: "s3:*",
        Resource: resources,
        Condition: { NumericLessThan: { "s3:TlsVersion": "1.2" } },
      },
    ],
  };
}

/**
 * Object Lock's default retention: a floor for any object written without its own retention
 * (the runner sets each object's retain-until date from its tier, which overrides this).
 */
export function objectLockDefaultDays(retentionDays: Record<Tier, number>): number {
  return Math.min(...TIERS.map((tier) => retentionDays[tier]));
}
