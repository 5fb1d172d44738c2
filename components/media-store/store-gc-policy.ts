/**
 * The IAM policy of the content store's gc (`edms-backup gc --yes`, its own CronJob and role): the
 * only identity of the stack that may delete, and only content objects. What gc does, per the
 * runner contract (runner/src/contract.ts, STORE_GC_COMMAND):
 * - lists the destination (every tier's sets, and the store's objects): ListObjectsV2 under the prefix;
 * - reads each set's manifest and segment list (media-segments.txt: the set's metadata chunks, whose
 *   object-list chunks are plain content objects gc reads like any other), the object list
 *   (media-objects.txt) of sets written before segments, and the media index of sets written
 *   before object lists, to mark the objects they reference: GetObject of
 *   `<prefix>/<tier>/<id>/manifest.json`, `.../media-segments.txt`, `.../media-objects.txt` and
 *   `.../media-index.jsonl*` only, never a database dump or a tar archive;
 * - looks at a candidate before deleting it (HeadObject: size, and under Object Lock its
 *   retain-until date, which HeadObject shows only with s3:GetObjectRetention): gc never deletes a
 *   locked object;
 * - deletes unreferenced content objects with DeleteObject (no version id): on the versioned bucket
 *   that leaves a delete marker and the bytes as a noncurrent version, which the lifecycle rule
 *   expires after noncurrentVersionDays (bucket-rules.ts storeObjectsRule): a gc mistake can be
 *   undone for that long. DeleteObjectVersion (a permanent delete) is never granted;
 * - writes a lease before each mark and a record after each run under GC_RECORDS_PREFIX, and
 *   reads the newest record back (the candidates and when they were first seen; `status` shows
 *   the last gc): PutObject and GetObject there;
 * - publishes its result metric (METRIC_GC_SUCCEEDED) for the gc alarm.
 * Every delete outside the content objects is denied outright, so a broader policy attached to the
 * role by mistake cannot let gc delete a set, a manifest or an index.
 */
import { STORE_GC_PREFIX, STORE_OBJECTS_PREFIX } from "../../runner/src/contract.js";
import {
  DENIED_ACTIONS,
  listBackupPrefix,
  publishMetrics,
  useKeyThroughS3,
  type PolicyDocument,
  type PolicyStatement,
} from "../identity/iam-policies.js";

/** Where gc writes its run records, relative to the destination (status reads them). */
export const GC_RECORDS_PREFIX = STORE_GC_PREFIX;

export interface GcPolicySettings {
  bucketArn: string;
  keyPrefix: string;
  kmsKeyArn: string;
  region: string;
  cloudwatchNamespace?: string;
}

export function gcPolicy(s: GcPolicySettings): PolicyDocument {
  const under = (key: string) => `${s.bucketArn}/${s.keyPrefix}/${key}`;
  const contentObjects = under(`${STORE_OBJECTS_PREFIX}*`);
  const statements: PolicyStatement[] = [
    listBackupPrefix(s),
    {
      // A set's folder is <tier>/<backupId>/: the manifest (plain JSON), the segment list (plain),
      // and in sets written before segments the object list (plain) and the media index
      // (media-index.jsonl.zst, .age when encrypted; read only for sets written before object
      // lists). Nothing else in a set is readable.
      Sid: "ReadManifestsAndIndexes",
      Effect: "Allow",
      Action: "s3:GetObject",
      Resource: [
        under("*/manifest.json"),
        under("*/media-segments.txt"),
        under("*/media-objects.txt"),
        under("*/media-index.jsonl*"),
      ],
    },
    {
      Sid: "InspectAndDeleteContentObjects",
      Effect: "Allow",
      Action: ["s3:GetObject", "s3:GetObjectRetention", "s3:DeleteObject"],
      Resource: contentObjects,
    },
    {
      Sid: "WriteGcRecords",
      Effect: "Allow",
      Action: ["s3:PutObject", "s3:GetObject"],
      Resource: under(`${GC_RECORDS_PREFIX}*`),
    },
    useKeyThroughS3(s.kmsKeyArn, s.region),
  ];
  if (s.cloudwatchNamespace) statements.push(publishMetrics("PublishGcMetrics", s.cloudwatchNamespace));
  statements.push(
    {
      // Deletes anywhere but the content objects: sets, manifests, indexes, records, the bucket.
      Sid: "DeleteContentObjectsOnly",
      Effect: "Deny",
      Action: "s3:Delete*",
      NotResource: contentObjects,
    },
    {
      // The runner's own guard list without s3:Delete* (above): permanent deletes of versions,
      // lifting a lock, retention and legal holds, and any change to the bucket.
      Sid: "NeverDestroyBackups",
      Effect: "Deny",
      Action: [
        "s3:DeleteObjectVersion",
        "s3:PutObjectRetention",
        ...DENIED_ACTIONS.filter((action) => action !== "s3:Delete*"),
      ],
      Resource: [s.bucketArn, `${s.bucketArn}/*`],
    },
  );
  return { Version: "2012-10-17", Statement: statements };
}
