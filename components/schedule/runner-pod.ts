/**
 * The one factory of runner pods: every CronJob, the first status Job, the exported restore Job
 * and the one-off `kubectl run` pods get their spec here, from the fields they all share
 * (`RunnerPodBase`) and what the workload is. What each workload may see (the media volume, the
 * password, the private key, the notification URLs) is decided in this file only, so two pods
 * cannot drift apart in their security context, environment source or volumes.
 */
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { DEPLOY_CHECK_COMMAND, type RunnerEnv, type ScheduledTier, type Tier } from "../../runner/src/contract.js";
import { podSpec, type DatabaseCa, type MediaMount, type Resources } from "./pod-spec.js";
import {
  backupArgs,
  DRILL_SCRATCH_DIR,
  drillArgs,
  drillEnv,
  gcArgs,
  gcEnv,
  notificationSecretEnv,
  statusArgs,
  statusEnv,
  tierEnv,
  type DrillTier,
  type ObjectLockEnv,
} from "./runner-env.js";

/** What every runner pod of a stack shares. */
export interface RunnerPodBase {
  image: string;
  serviceAccountName: string;
  /** The runner's ConfigMap (envFrom): the settings every run shares. */
  configMapName: string;
  /** The database password's Secret (a secretKeyRef); pods that never connect leave it out. */
  passwordSecret: { name: string; key: string };
  /**
   * The role restores run as (usually the application's owner role) and its own Secret: a restore
   * creates, renames and owns databases, which the backup role must not be able to do. Unset =
   * restores run as the backup role (docs/DEPLOY.md, "Database roles").
   */
  restoreRole?: { user: string; passwordSecret: { name: string; key: string } };
  /** The database's CA bundle, mounted in every pod (see podSpec). */
  databaseCa?: DatabaseCa;
  /** The application's media volume as backups see it (read-only, next to the application pod). */
  media?: MediaMount;
  /** The age identity's Secret: mounted by the pods that decrypt (drill, restore) only. */
  ageIdentity?: { secretName: string; key: string };
  /** The content store key's Secret (mediaFormat store): mounted by backup pods only. */
  storeKey?: { secretName: string; key: string };
  /** An existing Secret with notification URLs (see notificationSecretEnv); unset = none. */
  notificationsSecret?: string;
  resources: Resources;
  tmpSizeLimit: string;
  runAsUser: number;
  runAsGroup: number;
  supplementalGroups: number[];
}

/** How `status` judges staleness: the status CronJob and the operator's `status` command alike. */
export interface StatusSettings {
  tiers: ScheduledTier[];
  graceHours: number;
  intervalHours: Partial<Record<ScheduledTier, number>>;
  /** Also watch the drill (STATUS_DRILL_MAX_AGE_HOURS); unset = drills not watched. */
  drillMaxAgeHours?: number;
}

export type RunnerWorkload =
  /** A backup CronJob (each tier and the suspended ad-hoc one). */
  | { kind: "backup"; tier: Tier; objectLock?: ObjectLockEnv }
  /** The restore drill: a scratch database and, with media, a scratch folder. */
  | { kind: "drill"; tier: DrillTier; enabledTiers: readonly ScheduledTier[]; scratchSizeLimit: string }
  /** `status --publish-metrics` for the alarms (the CronJob and its first run). */
  | { kind: "status"; status: StatusSettings }
  /** A one-off command (`list`, `status`) through `kubectl run`. */
  | { kind: "command"; args: string[]; status: StatusSettings }
  /** The operator's restore Job. */
  | { kind: "restore"; args: string[] }
  /** `check-deploy` on `pulumi up`: the restore Job's role and identity, proven without restoring. */
  | { kind: "deploy-check" }
  /** `edms-backup exporter` (a Deployment, see exporter-spec.ts): reads the destination, judges as `status`. */
  | { kind: "exporter"; status: StatusSettings; refreshSeconds: number; port: number }
  /**
   * The content store's gc, under its own service account (the only identity that may delete,
   * and only content objects). It reads every set's media index, so it decrypts like the drill.
   */
  | { kind: "gc"; serviceAccountName: string; graceHours?: number };

export function runnerPod(base: RunnerPodBase, w: RunnerWorkload): IPodSpec {
  const shared = {
    image: base.image,
    serviceAccountName: base.serviceAccountName,
    configMapName: base.configMapName,
    databaseCa: base.databaseCa,
    resources: base.resources,
    tmpSizeLimit: base.tmpSizeLimit,
    runAsUser: base.runAsUser,
    runAsGroup: base.runAsGroup,
    supplementalGroups: base.supplementalGroups,
  };
  const notifications = (workload: Tier | "drill") =>
    base.notificationsSecret ? notificationSecretEnv(base.notificationsSecret, workload) : undefined;
  switch (w.kind) {
    case "backup":
      return podSpec({
        ...shared,
        args: backupArgs(w.tier),
        env: tierEnv(w.tier, w.objectLock),
        passwordSecret: base.passwordSecret,
        media: base.media,
        secretEnv: notifications(w.tier),
        // Backups name new content objects with it; no other pod gets it.
        storeKey: base.storeKey,
      });
    case "drill":
      // The drill restores into a scratch database; it needs neither the media volume nor its node.
      return podSpec({
        ...shared,
        args: drillArgs(w.tier),
        env: drillEnv(w.tier, w.enabledTiers),
        passwordSecret: base.passwordSecret,
        // Room for one extracted copy of the media; an app without media needs none.
        scratch: base.media ? { mountPath: DRILL_SCRATCH_DIR, sizeLimit: w.scratchSizeLimit } : undefined,
        // A failed drill means the newest backup could not be restored: it notifies like a backup.
        secretEnv: notifications("drill"),
        // Drills restore, so they decrypt (gc mounts the key too, for old encrypted store sets).
        ageIdentity: base.ageIdentity,
      });
    case "status":
      // Reads the bucket listing and publishes to CloudWatch: no database password, no media.
      return podSpec({ ...shared, args: statusArgs(), env: statusSettingsEnv(w.status) });
    case "command":
      return podSpec({
        ...shared,
        args: w.args,
        // `status` judges staleness exactly as the status CronJob and the alarms do.
        env: w.args[0] === "status" ? statusSettingsEnv(w.status) : {},
        passwordSecret: base.passwordSecret,
      });
    case "gc":
      // No database, no media volume, no store key: it reads indexes and lists and deletes objects.
      return podSpec({
        ...shared,
        serviceAccountName: w.serviceAccountName,
        args: gcArgs(),
        env: gcEnv(w.graceHours),
        ageIdentity: base.ageIdentity,
      });
    case "restore":
      return podSpec({
        ...shared,
        args: w.args,
        env: {},
        // The restore's own role and password; without one, the backup role's.
        passwordSecret: base.restoreRole?.passwordSecret ?? base.passwordSecret,
        databaseUser: base.restoreRole?.user,
        // The media volume read-write, and no affinity to the application pod: the application is
        // scaled to 0 for a restore, so that pod does not exist (see docs/RUNBOOK.md).
        media: base.media ? { ...base.media, colocateWith: undefined, readOnly: false } : undefined,
        // A restore decrypts encrypted sets: the Job mounts the identity, like the drill.
        ageIdentity: base.ageIdentity,
      });
    case "deploy-check":
      // Exactly what the restore Job connects as and decrypts with, and nothing else: no media
      // volume, no bucket access needed (the check encrypts and decrypts a challenge locally).
      return podSpec({
        ...shared,
        args: [DEPLOY_CHECK_COMMAND],
        env: {},
        passwordSecret: base.restoreRole?.passwordSecret ?? base.passwordSecret,
        databaseUser: base.restoreRole?.user,
        ageIdentity: base.ageIdentity,
      });
    case "exporter":
      // Reads the bucket listing and a few small objects: no database password, no media, no key.
      return podSpec({
        ...shared,
        args: ["exporter", "--listen", `0.0.0.0:${w.port}`],
        env: { ...statusSettingsEnv(w.status), EXPORTER_REFRESH_SECONDS: String(w.refreshSeconds) },
      });
  }
}

function statusSettingsEnv(s: StatusSettings): RunnerEnv {
  return statusEnv(s.tiers, s.graceHours, s.intervalHours, s.drillMaxAgeHours);
}
