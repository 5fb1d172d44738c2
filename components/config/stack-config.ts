/**
 * The stack configuration (`edms-backup:*` keys in Pulumi.<stack>.yaml): schema, defaults and the
 * single error message a bad stack gets. Used by index.ts at program start and by
 * scripts/check-config.ts without the Pulumi CLI, so both reject exactly the same stacks.
 *
 * No secret lives here: the database password stays in an existing Kubernetes Secret that the
 * CronJobs reference by name.
 */
import { z } from "zod";
import {
  DEFAULT_APP_NAME,
  DEFAULT_MEDIA_FORMAT,
  DEFAULT_RETENTION_DAYS,
  DEFAULT_SCHEDULES,
  DEFAULT_EXPORTER_REFRESH_SECONDS,
  MEDIA_FORMATS,
  DEFAULT_STATUS_GRACE_HOURS,
  parseMediaReferences,
  perTier,
  OBJECT_LOCK_MODES,
  recipientProblems,
  SCHEDULED_TIERS,
  SSL_MODES,
  tierProse,
  TIERS,
  type MediaFormat,
  type ScheduledTier,
} from "../../runner/src/contract.js";
import { cronProblem, isKnownTimeZone, longestIntervalDays } from "./schedules.js";
import { STATUS_EVERY_HOURS } from "../alarms/alarm-rules.js";
import { APT_SOURCES, DEBIAN_PG_MAJOR } from "../image/image-rules.js";
import { DEFAULT_GC_SCHEDULE, mediaStoreProblems, storeKeySchema } from "../media-store/store-config.js";

export const PROJECT = "edms-backup";

/** Kubernetes object names: DNS-1123 labels. */
const dnsLabel = (what: string, max = 63) =>
  z
    .string({ message: `is required (${what})` })
    .max(max, { message: `must be at most ${max} characters (${what})` })
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
      message: `must be lower-case letters, digits and '-', starting and ending with a letter or digit (${what})`,
    });

const labelMap = z.record(
  z
    .string()
    .regex(/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, { message: "is not a valid label key" }),
  z
    .string()
    .max(63)
    .regex(/^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/, { message: "is not a valid label value" }),
);

/** Kubernetes resource quantities such as 250m, 2, 512Mi, 1Gi. */
const quantity = z.string().regex(/^[0-9]+(\.[0-9]+)?(m|k|M|G|T|Ki|Mi|Gi|Ti)?$/, {
  message: "must be a Kubernetes quantity such as 250m, 2, 512Mi or 1Gi",
});

/** A string field that survives decoding: `pulumi config set k 123` arrives as the number 123. */
const text = (message: string) =>
  z.preprocess((v) => (typeof v === "number" ? String(v) : v), z.string({ message }).min(1, { message }));

const cron = z.string().superRefine((value, ctx) => {
  const problem = cronProblem(value);
  if (problem) {
    ctx.addIssue({
      code: "custom",
      message: `invalid cron expression "${value}": ${problem} (example: "0 2 * * *" = 02:00 every day)`,
    });
  }
});

const days = (what: string) =>
  z
    .number({ message: `must be a whole number of days (${what})` })
    .int({ message: `must be a whole number of days (${what})` })
    .positive({
      message: `must be at least 1 day (${what})`,
    });

const seconds = z.number().int().positive();

const cidr = z.string().regex(/^([0-9]{1,3}\.){3}[0-9]{1,3}\/([0-9]|[12][0-9]|3[0-2])$/, {
  message: "must be an IPv4 CIDR such as 10.0.12.0/24 (the database's address range)",
});

/** Storage classes the runner can read directly; Glacier Flexible/Deep Archive need a restore first. */
export const TRANSITION_STORAGE_CLASSES = ["STANDARD_IA", "GLACIER_IR"] as const;

/** A key of an existing ConfigMap or Secret (Kubernetes key syntax). */
const objectKey = z
  .string({ message: "is required: the key holding the PEM bundle, e.g. ca.crt" })
  .regex(/^[-._a-zA-Z0-9]+$/, { message: "must be a ConfigMap/Secret key: letters, digits, '-', '_' and '.'" })
  .refine((k) => k !== "." && k !== ".." && !k.startsWith(".."), {
    message: "must not be '.', '..' or start with '..'",
  });

/**
 * The CA bundle that signed the database server's certificate (e.g. the RDS bundle), from an
 * existing ConfigMap or Secret in the namespace; mounted read-only and named by PGSSLROOTCERT.
 */
const caBundleSchema = z.union(
  [
    z.strictObject({
      configMapName: dnsLabel("an existing ConfigMap holding the database CA bundle", 253),
      key: objectKey,
    }),
    z.strictObject({
      secretName: dnsLabel("an existing Secret holding the database CA bundle", 253),
      key: objectKey,
    }),
  ],
  { message: "must be { configMapName, key } or { secretName, key } (exactly one of configMapName, secretName)" },
);

const databaseSchema = z.strictObject({
  /** Host name or address as the pods resolve it (a Service name works). */
  host: text("is required: the database host the pods connect to"),
  port: z.number().int().min(1).max(65535).default(5432),
  name: text("is required: the database to back up"),
  user: text("is required: a role that can pg_dump the whole database"),
  /** Name of an existing Secret in the namespace holding the password. */
  secretName: dnsLabel("an existing Kubernetes Secret holding the database password, e.g. edms-db", 253),
  passwordKey: text("must name the key of the password in the Secret").default("password"),
  /**
   * The role restores run as (the restore Job, undo and cleanup), with its own existing Secret:
   * usually the application's owner role, which owns the database and may create and rename
   * databases. The backup role (`user`) only reads. Unset: restores run as `user`.
   */
  restoreRole: z
    .strictObject({
      user: text("is required: the role restores run as (usually the application's owner role)"),
      secretName: dnsLabel("an existing Kubernetes Secret holding the restore role's password", 253),
      passwordKey: text("must name the key of the password in the Secret").default("password"),
    })
    .optional(),
  /** libpq sslmode (disable, allow, prefer, require, verify-ca, verify-full). */
  sslMode: z.enum(SSL_MODES).default("prefer"),
  /** The server's CA bundle for verify-ca / verify-full (without it libpq has nothing to verify against). */
  caBundle: caBundleSchema.optional(),
  /** Where the database lives, for the NetworkPolicy: an address range, or pods in the namespace. */
  cidr: cidr.optional(),
  podSelector: labelMap.optional(),
});

const mediaSchema = z.strictObject({
  /** An existing PersistentVolumeClaim with the media folder, mounted read-only. */
  pvcName: dnsLabel("an existing PersistentVolumeClaim holding the media folder", 253),
  accessMode: z.enum(["ReadWriteOnce", "ReadWriteOncePod", "ReadWriteMany", "ReadOnlyMany"]).default("ReadWriteOnce"),
  mountPath: z
    .string()
    .regex(/^\/[^\0]*$/, { message: "must be an absolute path such as /media" })
    .default("/media"),
  /** Sub-folder of the volume holding the media (empty = the volume's root). */
  subPath: z.string().optional(),
  /** Labels of the application pod that mounts the volume, for pod affinity when it is ReadWriteOnce. */
  appPodSelector: labelMap.optional(),
  /**
   * Columns holding paths relative to the media folder (Django FileField/ImageField), as
   * `table.column` or `schema.table.column`: each backup checks that the files they name are in it
   * (the runner's MEDIA_REFERENCES; the columns are checked against the database at run time).
   */
  references: z
    .array(
      z.string().superRefine((value, ctx) => {
        const parsed = parseMediaReferences(value);
        for (const problem of parsed.problems) ctx.addIssue({ code: "custom", message: problem });
        if (parsed.problems.length === 0 && parsed.columns.length !== 1)
          ctx.addIssue({ code: "custom", message: "one column per list item" });
      }),
    )
    .default([]),
});

const identitySchema = z.discriminatedUnion(
  "kind",
  [
    z.strictObject({
      kind: z.literal("irsa"),
      /** arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<id> */
      oidcProviderArn: z
        .string({ message: "is required for IRSA: the cluster's IAM OIDC provider ARN" })
        .regex(/^arn:aws[a-z-]*:iam::[0-9]{12}:oidc-provider\/.+$/, {
          message:
            "must be an IAM OIDC provider ARN such as arn:aws:iam::123456789012:oidc-provider/oidc.eks.ap-southeast-1.amazonaws.com/id/EXAMPLE",
        }),
    }),
    z.strictObject({
      kind: z.literal("podIdentity"),
      clusterName: z.string({ message: "is required for Pod Identity: the EKS cluster name" }).min(1),
    }),
  ],
  { message: "must be { kind: irsa, oidcProviderArn: ... } or { kind: podIdentity, clusterName: ... }" },
);

/**
 * Client-side encryption (age). The recipients are public keys: plain text here is fine, and every
 * backup pod gets them. The identity (private key) stays in an existing Secret that only the drill
 * CronJob and the documented restore Job mount; the backup, adhoc and status pods never see it.
 */
const encryptionSchema = z.strictObject({
  recipients: z
    .array(
      z.string().superRefine((value, ctx) => {
        for (const message of recipientProblems(value)) ctx.addIssue({ code: "custom", message });
      }),
    )
    .min(1, { message: "needs at least one age recipient (age-keygen -y key.txt)" })
    .refine((r) => new Set(r).size === r.length, { message: "lists a recipient twice" }),
  /** An existing Secret holding the age identity (AGE-SECRET-KEY-1...) under `key`. */
  identitySecret: z
    .strictObject({
      name: dnsLabel("an existing Kubernetes Secret holding the age identity, e.g. edms-backup-age", 253),
      key: text("must name the key of the identity in the Secret").default("identity"),
    })
    .optional(),
});

const resourcesSchema = z
  .strictObject({
    requests: z.strictObject({ cpu: quantity.default("250m"), memory: quantity.default("512Mi") }).prefault({}),
    limits: z.strictObject({ cpu: quantity.default("2"), memory: quantity.default("1Gi") }).prefault({}),
  })
  .prefault({});

export const stackConfigSchema = z
  .strictObject({
    /** Prefix of every Kubernetes object name; also the runner's APP_NAME. */
    appName: dnsLabel(`the application name, e.g. ${DEFAULT_APP_NAME}`, 24).default(DEFAULT_APP_NAME),
    /** The application's version recorded in each manifest (optional). */
    appVersion: text("must be a version string").optional(),
    /** Existing namespace where the application, its database Secret and its media PVC live. */
    namespace: dnsLabel("the application's existing Kubernetes namespace"),
    /** Optional kubeconfig contents or context; unset = the ambient kubeconfig. */
    kubeconfig: z.string().optional(),
    kubeContext: z.string().optional(),
    database: databaseSchema,
    media: mediaSchema.optional(),
    timeZone: z
      .string()
      .refine(isKnownTimeZone, { message: "unknown time zone: use an IANA name such as Asia/Singapore or UTC" })
      .default("Asia/Singapore"),
    /** One CronJob schedule per scheduled tier; defaults from the tier table (runner/src/contract/tiers.ts). */
    schedules: z.strictObject(perTier(SCHEDULED_TIERS, (tier) => cron.default(DEFAULT_SCHEDULES[tier]))).prefault({}),
    retentionDays: z
      .strictObject(
        perTier(TIERS, (tier) => days(`${tierProse(tier)} retention`).default(DEFAULT_RETENTION_DAYS[tier])),
      )
      .prefault({}),
    disabledTiers: z
      .array(z.enum(SCHEDULED_TIERS, { message: `must list tiers among ${SCHEDULED_TIERS.join(", ")}` }))
      .default([]),
    /** Days a noncurrent object version (left by expiry or an accidental overwrite) is kept. */
    noncurrentVersionDays: days("noncurrent version retention").default(7),
    monthlyTransition: z
      .strictObject({
        storageClass: z.enum(TRANSITION_STORAGE_CLASSES, {
          message: `must be ${TRANSITION_STORAGE_CLASSES.join(" or ")} (the runner cannot read Glacier Flexible Retrieval or Deep Archive without a restore request)`,
        }),
        afterDays: days("days before the transition"),
      })
      .optional(),
    objectLock: z
      .strictObject({
        mode: z.enum(OBJECT_LOCK_MODES, { message: "must be GOVERNANCE or COMPLIANCE" }),
      })
      .optional(),
    /** Use an existing KMS key instead of creating one. */
    kmsKeyArn: z
      .string()
      .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key\/[0-9a-f-]+$/, {
        message: "must be a KMS key ARN such as arn:aws:kms:ap-southeast-1:123456789012:key/1234abcd-...",
      })
      .optional(),
    bucket: z
      .strictObject({
        /** Prefix of the bucket's generated name (S3 names are global, so Pulumi adds a suffix). */
        namePrefix: z
          .string()
          .regex(/^[a-z0-9][a-z0-9-]{1,35}$/, { message: "must be 2-36 lower-case letters, digits or '-'" })
          .optional(),
        /** Key prefix inside the bucket: objects live under <keyPrefix>/<tier>/<backupId>/. */
        keyPrefix: z
          .string()
          .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/, {
            message: "must be a path without leading or trailing '/', e.g. edms or backups/edms",
          })
          .optional(),
        /** Lets `pulumi destroy` delete a bucket that still holds backups: keep false in production. */
        forceDestroy: z.boolean().default(false),
      })
      .prefault({}),
    /** A prebuilt runner image pinned by digest; unset = build runner/Dockerfile and push to ECR. */
    image: z
      .string()
      .regex(/^[^\s@]+@sha256:[0-9a-f]{64}$/, {
        message:
          "must be pinned by digest, e.g. 123456789012.dkr.ecr.ap-southeast-1.amazonaws.com/edms-backup@sha256:<64 hex>",
      })
      .optional(),
    /** PostgreSQL client major version in the image; must be >= the server's. */
    pgMajor: z
      .union([z.string(), z.number()])
      .transform(String)
      .pipe(
        z.string().regex(/^(1[3-9]|[2-9][0-9])$/, { message: "must be a PostgreSQL major version such as 15 or 16" }),
      )
      .default("15"),
    /**
     * Where the image's PostgreSQL client comes from: `pgdg` (apt.postgresql.org, any major) or
     * `debian` (the base image's own Debian release, bookworm: 15 only) when apt.postgresql.org is
     * not reachable from where the image is built.
     */
    imageAptSource: z.enum(APT_SOURCES).default("pgdg"),
    /** Images kept in the ECR repository (older ones expire). */
    keepImages: z.number().int().min(2).max(1000).default(20),
    identity: identitySchema,
    resources: resourcesSchema,
    /**
     * Size limit of the /tmp emptyDir (the runner streams; /tmp holds small files, and a store
     * backup's keys of the content objects it stores beyond the first 65,536: 41 bytes each, ~410 MB
     * for a first backup of 10,000,000 files; runner/src/media-store/key-records.ts).
     */
    tmpSizeLimit: quantity.default("1Gi"),
    runAsUser: z.number().int().min(1).default(10001),
    runAsGroup: z.number().int().min(1).default(10001),
    /** Extra groups, e.g. the application's group when its media files are not world-readable. */
    supplementalGroups: z.array(z.number().int().min(1)).default([]),
    job: z
      .strictObject({
        /** How late a missed run may still start (controller down, node pressure). */
        startingDeadlineSeconds: seconds.default(3600),
        /** Hard stop for one run. */
        activeDeadlineSeconds: seconds.default(4 * 3600),
        backoffLimit: z.number().int().min(0).max(10).default(1),
        successfulJobsHistoryLimit: z.number().int().min(0).max(100).default(3),
        failedJobsHistoryLimit: z.number().int().min(0).max(100).default(5),
      })
      .prefault({}),
    drill: z
      .strictObject({
        enabled: z.boolean().default(true),
        /** Sunday 06:00: after the weekly backup. */
        schedule: cron.default("0 6 * * 0"),
        /** rotate: daily one week, weekly the next, monthly the third (enabled tiers only); or one tier. */
        tier: z.enum([...SCHEDULED_TIERS, "rotate"]).default("rotate"),
        /** Size limit of the drill's scratch emptyDir: it must hold one extracted copy of the media. */
        scratchSizeLimit: quantity.default("20Gi"),
      })
      .prefault({}),
    logLevel: z.enum(["trace", "debug", "info", "warn", "error", "fatal"]).default("info"),
    /** CloudWatch namespace for the runner's metrics; unset = no metrics, no alarms. */
    cloudwatchNamespace: z.string().min(1).optional(),
    /** Addresses subscribed (by email, each confirms once) to the alarms' SNS topic. */
    alertEmails: z.array(z.string().email({ message: "must be an email address" })).default([]),
    alerts: z
      .strictObject({
        /** Hours past a tier's schedule interval before its alarm fires (also the status CronJob's STATUS_GRACE_HOURS). */
        graceHours: z.number().int().min(1).max(168).default(DEFAULT_STATUS_GRACE_HOURS),
        /** Hours between runs of the status CronJob that publishes the ages the alarms watch. */
        statusEveryHours: z
          .literal(STATUS_EVERY_HOURS, {
            message: `must be one of ${STATUS_EVERY_HOURS.join(", ")} (hours that divide a day)`,
          })
          .default(6),
        /**
         * A customer-managed KMS key for the SNS topic. CloudWatch cannot publish to a topic
         * encrypted with the AWS-managed alias/aws/sns key, so only a key whose policy lets
         * cloudwatch.amazonaws.com use it works here; unset = SNS's default (unencrypted) topic.
         */
        topicKmsKeyArn: z
          .string()
          .regex(/^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key\/[0-9a-f-]+$/, {
            message: "must be a KMS key ARN (not an alias: see the comment in Pulumi.prod.yaml)",
          })
          .optional(),
      })
      .prefault({}),
    /**
     * A mail on every run: each address is subscribed (by email, each confirms once) to an SNS
     * topic that receives one summary per backup and drill, success or failure (tier, id, sizes,
     * duration, warnings; never a secret). Independent of the alarms: no cloudwatchNamespace needed.
     */
    runSummary: z
      .strictObject({
        emails: z
          .array(z.string().email({ message: "must be an email address" }))
          .min(1, { message: "needs at least one address (or leave runSummary out)" }),
      })
      .optional(),
    /**
     * `edms-backup exporter` for Prometheus (docs/RUNBOOK.md, Prometheus): a Deployment + Service
     * under a read-only identity; with `serviceMonitor`, a ServiceMonitor and a PrometheusRule for
     * the Prometheus Operator (its CRDs must be installed).
     */
    /**
     * An optional break-glass role for recovery from nothing (docs/RUNBOOK.md "Total loss"): may
     * read the backups and decrypt them through S3 with the bucket's KMS key, never write or delete;
     * assumable only by these principals (IAM user or role ARNs, or an account's root), with MFA
     * unless requireMfa is false (a role used by automation cannot present MFA).
     */
    breakGlass: z
      .strictObject({
        principals: z
          .array(
            z.string().regex(/^arn:aws[a-z-]*:(iam::[0-9]{12}:(root|user\/[\w+=,.@/-]+|role\/[\w+=,.@/-]+))$/, {
              message: "must be an IAM user or role ARN, or arn:aws:iam::<account>:root",
            }),
          )
          .min(1, { message: "needs at least one principal (or leave breakGlass out)" }),
        requireMfa: z.boolean().default(true),
      })
      .optional(),
    exporter: z
      .strictObject({
        enabled: z.boolean().default(false),
        serviceMonitor: z.boolean().default(true),
        /** Labels the cluster's Prometheus selects ServiceMonitors and PrometheusRules by (e.g. release: kube-prometheus-stack). */
        prometheusLabels: z.record(z.string().min(1), z.string()).default({}),
        /** Seconds between readings of the bucket (a listing per tier and the new sets' manifests). */
        refreshSeconds: z.number().int().min(10).max(3600).default(DEFAULT_EXPORTER_REFRESH_SECONDS),
        scrapeInterval: z
          .string()
          .regex(/^[1-9][0-9]*(s|m)$/, { message: "must be a Prometheus duration in seconds or minutes, e.g. 60s" })
          .default("60s"),
      })
      .prefault({}),
    /**
     * A CloudWatch dashboard over the runner's metrics (docs/RUNBOOK.md, CloudWatch dashboard);
     * default on when cloudwatchNamespace is set.
     */
    cloudwatchDashboard: z.boolean().optional(),
    /**
     * An existing Secret holding notification URLs (they carry tokens, so not in the ConfigMap):
     * key `webhook-url` (NOTIFY_WEBHOOK_URL, every tier) and `healthcheck-url-<tier>`
     * (HEALTHCHECK_URL of that tier). Every key is optional; so is the Secret itself.
     */
    notifications: z
      .strictObject({ secretName: dnsLabel("an existing Kubernetes Secret holding notification URLs", 253) })
      .optional(),
    encryption: encryptionSchema.optional(),
    /**
     * The deploy check (components/schedule/deploy-check.ts): a Job on `pulumi up` that proves the identity
     * Secret decrypts what the recipients encrypt and the restore role can restore; a failed check
     * fails the deploy. false leaves it out.
     */
    deployCheck: z.boolean().default(true),
    /**
     * How backups write the media folder (the runner's MEDIA_FORMAT): the content store or tar
     * archives. Unset = the runner's default (store), resolved by parseStackConfig after the
     * checks that need to know whether it was set.
     */
    mediaFormat: z.enum(MEDIA_FORMATS, { message: `must be one of ${MEDIA_FORMATS.join(", ")}` }).optional(),
    /** The content store (mediaFormat: store): its gc CronJob and transfer concurrency; see store-config.ts. */
    mediaStore: z
      .strictObject({
        gc: z
          .strictObject({
            /** Unset = on exactly when the store is used (usesStore); true keeps gc after switching back to tar. */
            enabled: z.boolean().optional(),
            schedule: cron.default(DEFAULT_GC_SCHEDULE),
            /** Hours an object stays unreferenced before gc deletes it (MEDIA_STORE_GC_GRACE_HOURS). */
            graceHours: z
              .number()
              .int()
              .min(1)
              .max(24 * 90)
              .optional(),
          })
          .prefault({}),
        /** Content objects in flight per backup or restore (MEDIA_STORE_TRANSFERS). */
        transfers: z.number().int().min(1).max(64).optional(),
      })
      .prefault({}),
    /** The per-stack secret naming content objects; a Pulumi secret. Unset = generated at the first deployment. */
    mediaStoreKey: storeKeySchema.optional(),
  })
  .superRefine((config, ctx) => {
    for (const issue of mediaStoreProblems(config)) ctx.addIssue({ code: "custom", ...issue });
    if (!config.database.cidr && !config.database.podSelector) {
      ctx.addIssue({
        code: "custom",
        path: ["database"],
        message:
          "needs cidr (e.g. 10.0.12.0/24 for RDS) or podSelector (labels of the PostgreSQL pods) so the NetworkPolicy can allow egress to it",
      });
    }
    if (config.media && config.media.accessMode.startsWith("ReadWriteOnce") && !config.media.appPodSelector) {
      ctx.addIssue({
        code: "custom",
        path: ["media", "appPodSelector"],
        message: `is required when the media volume is ${config.media.accessMode}: give the labels of the application pod that mounts it, so backup pods are scheduled on its node (otherwise the Job hangs)`,
      });
    }
    if (config.media?.accessMode === "ReadWriteOncePod") {
      ctx.addIssue({
        code: "custom",
        path: ["media", "accessMode"],
        message:
          "ReadWriteOncePod volumes cannot be mounted by a second pod; back up from a snapshot or use ReadWriteOnce",
      });
    }
    if (config.disabledTiers.length === SCHEDULED_TIERS.length) {
      ctx.addIssue({
        code: "custom",
        path: ["disabledTiers"],
        message: "disables every scheduled tier: keep at least one",
      });
    }
    if (isKnownTimeZone(config.timeZone)) {
      for (const tier of SCHEDULED_TIERS) {
        const schedule = config.schedules[tier];
        if (config.disabledTiers.includes(tier) || cronProblem(schedule)) continue;
        const interval = Math.ceil(longestIntervalDays(schedule, config.timeZone));
        if (config.retentionDays[tier] < interval) {
          ctx.addIssue({
            code: "custom",
            path: ["retentionDays", tier],
            message: `(${config.retentionDays[tier]} days) is shorter than the ${tier} schedule's interval (up to ${interval} days): there would be times without any ${tier} backup; use at least ${interval}`,
          });
        }
      }
    }
    if (config.monthlyTransition) {
      const { storageClass, afterDays } = config.monthlyTransition;
      if (storageClass === "STANDARD_IA" && afterDays < 30) {
        ctx.addIssue({
          code: "custom",
          path: ["monthlyTransition", "afterDays"],
          message: "must be at least 30 for STANDARD_IA (an S3 rule)",
        });
      }
      if (afterDays >= config.retentionDays.monthly) {
        ctx.addIssue({
          code: "custom",
          path: ["monthlyTransition", "afterDays"],
          message: `(${afterDays}) must be less than retentionDays.monthly (${config.retentionDays.monthly}), or the transition never happens`,
        });
      }
    }
    if (config.alertEmails.length > 0 && !config.cloudwatchNamespace) {
      ctx.addIssue({
        code: "custom",
        path: ["alertEmails"],
        message: "needs cloudwatchNamespace: the alarms watch the runner's metrics in that namespace",
      });
    }
    if (config.cloudwatchDashboard && !config.cloudwatchNamespace) {
      ctx.addIssue({
        code: "custom",
        path: ["cloudwatchDashboard"],
        message: "needs cloudwatchNamespace: the dashboard shows the runner's metrics in that namespace",
      });
    }
    if (config.encryption && config.drill.enabled && !config.encryption.identitySecret) {
      ctx.addIssue({
        code: "custom",
        path: ["encryption", "identitySecret"],
        message:
          "is required while the drill is enabled: the drill decrypts the newest backup (or set drill.enabled: false)",
      });
    } else if (config.encryption && config.deployCheck && !config.encryption.identitySecret) {
      ctx.addIssue({
        code: "custom",
        path: ["encryption", "identitySecret"],
        message:
          'is required by the deploy check, which proves on every deploy that it decrypts what the recipients encrypt (or set deployCheck: false and prove it by hand: docs/DEPLOY.md, "The deploy check")',
      });
    }
    if (!config.image && config.imageAptSource === "debian" && config.pgMajor !== DEBIAN_PG_MAJOR) {
      ctx.addIssue({
        code: "custom",
        path: ["imageAptSource"],
        message: `debian (bookworm) ships only the PostgreSQL ${DEBIAN_PG_MAJOR} client, but pgMajor is ${config.pgMajor}: use pgdg or pgMajor ${DEBIAN_PG_MAJOR}`,
      });
    }
    if (config.kubeconfig && config.kubeContext) {
      ctx.addIssue({ code: "custom", path: ["kubeContext"], message: "give kubeconfig or kubeContext, not both" });
    }
  });

/** The parsed config, mediaFormat resolved (unset = the runner's default, DEFAULT_MEDIA_FORMAT). */
export type StackConfig = Omit<z.output<typeof stackConfigSchema>, "mediaFormat"> & { mediaFormat: MediaFormat };

export class StackConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(
      `Invalid stack configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n` +
        problems.map((p) => `  - ${p}`).join("\n") +
        `\nFix them with \`pulumi config set ${PROJECT}:<key> <value>\` (or --path for nested keys) or in Pulumi.<stack>.yaml.`,
    );
    this.name = "StackConfigError";
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.map(String).join(".");
  const key = path === "" ? PROJECT : `${PROJECT}:${path}`;
  if (issue.code === "unrecognized_keys") {
    return `${key}: unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")} (a typo?)`;
  }
  return `${key} ${issue.message}`;
}

/** Parses raw values (keys without the `edms-backup:` namespace); throws one error naming every problem. */
export function parseStackConfig(raw: Record<string, unknown>): StackConfig {
  const result = stackConfigSchema.safeParse(raw);
  if (!result.success) throw new StackConfigError(result.error.issues.map(describeIssue));
  // Resolved after the checks, which tell an unset mediaFormat from an explicit store.
  return { ...result.data, mediaFormat: result.data.mediaFormat ?? DEFAULT_MEDIA_FORMAT };
}

/**
 * Pulumi hands config over as strings (structured values as JSON); the stack file gives YAML types.
 * This brings both to the same shape: JSON objects, arrays, numbers and booleans are decoded.
 */
export function decodeConfigValue(value: unknown): unknown {
  if (typeof value !== "string") return value;
  const trimmed = value.trim();
  if (/^[[{]/.test(trimmed) || /^-?[0-9]+(\.[0-9]+)?$/.test(trimmed) || trimmed === "true" || trimmed === "false") {
    try {
      return JSON.parse(trimmed) as unknown;
    } catch {
      return value;
    }
  }
  return value;
}

/** Selects this project's keys from a flat `{ "<namespace>:<key>": value }` map and decodes them. */
export function projectConfig(all: Record<string, unknown>, project = PROJECT): Record<string, unknown> {
  const raw: Record<string, unknown> = {};
  for (const [fullKey, value] of Object.entries(all)) {
    const prefix = `${project}:`;
    if (fullKey.startsWith(prefix)) raw[fullKey.slice(prefix.length)] = decodeConfigValue(value);
  }
  return raw;
}

/** Tiers that get a scheduled CronJob. */
export function enabledTiers(config: StackConfig): ScheduledTier[] {
  return SCHEDULED_TIERS.filter((tier) => !config.disabledTiers.includes(tier));
}
