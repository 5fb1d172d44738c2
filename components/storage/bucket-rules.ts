/**
 * Pure builders for the backup bucket: one lifecycle rule per tier prefix (retention lives in S3,
 * so it holds even when no runner ever runs again) and a bucket policy that refuses plain HTTP.
 */
import { STORE_OBJECTS_PREFIX, TIERS, UNFINISHED_UPLOAD_ABORT_DAYS, type Tier } from "../../runner/src/contract.js";
import type { PolicyDocument } from "../identity/iam-policies.js";

export interface LifecycleRule {
  id: string;
  status: "Enabled";
  filter: { prefix: string };
  /** Tier folders: an age; the content store: none (gc frees objects), only orphaned delete markers. */
  expiration: { days: number } | { expiredObjectDeleteMarker: true };
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
  const tiers = TIERS.map((tier) => {
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
  return [...tiers, storeObjectsRule(s)];
}

/** `<keyPrefix>/store/objects/`: the content store's objects, shared by sets of every tier. */
export function storeObjectsPrefix(keyPrefix: string): string {
  return `${keyPrefix}/${STORE_OBJECTS_PREFIX}`;
}

/**
 * Content objects (MEDIA_FORMAT=store) never expire by age: a set of any tier may reference an
 * object written years ago, and only `gc` knows which are unreferenced. gc deletes without a
 * version id, so on this versioned bucket a delete leaves a delete marker and the object's bytes
 * as a noncurrent version, which expires after noncurrentVersionDays like every other (an undo
 * window for a gc mistake); a marker left with no version behind it is then removed too. Unfinished
 * uploads of an interrupted backup are aborted as in the tier folders. The rule exists whatever
 * the media format, so objects of earlier store sets keep this treatment after a switch to tar.
 */
export function storeObjectsRule(s: Pick<LifecycleSettings, "keyPrefix" | "noncurrentVersionDays">): LifecycleRule {
  return {
    id: "store-objects",
    status: "Enabled",
    filter: { prefix: storeObjectsPrefix(s.keyPrefix) },
    expiration: { expiredObjectDeleteMarker: true },
    noncurrentVersionExpiration: { noncurrentDays: s.noncurrentVersionDays },
    abortIncompleteMultipartUpload: { daysAfterInitiation: UNFINISHED_UPLOAD_ABORT_DAYS },
  };
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
