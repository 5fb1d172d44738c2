/**
 * `status`: is every expected tier backed up recently enough? The judgement is the pure
 * `assessStatus`; this file reads the destination and renders the answer.
 */
import type { CloudWatchClient } from "@aws-sdk/client-cloudwatch";
import { RunnerError, errorMessage } from "../errors.js";
import { METRIC_NEWEST_BACKUP_AGE } from "../metric-names.js";
import { ageMetricData, drillAgeMetricData, putMetrics } from "../notify/metrics.js";
import { readDrillHistory } from "../drill/drill-record.js";
import { readLastGc, type LastGc } from "../media-store/gc-record.js";
import {
  assessDrill,
  assessStatus,
  isDrillHealthy,
  isHealthy,
  type DrillStatus,
  type StatusResult,
  type StatusSettings,
  type TierStatus,
} from "../catalog/staleness.js";
import type { ObjectStore } from "../store/object-store.js";
import { formatBytes, formatDuration } from "../output/format.js";
import { alignColumns, formatTime } from "./list.js";
import { newestAndFutureSets, readManifest, setKey, type CompleteBackupSet } from "../catalog/catalog.js";
import type { Manifest } from "../catalog/manifest.js";
import { StoreTally, assessStoreUsage, type StoreUsage } from "../catalog/store-usage.js";
import { findRunCopies, type CopySites, type RunCopy } from "../restore/run-copies.js";
import {
  checkUnfinishedUploads,
  unfinishedUploadsLines,
  type UnfinishedUploadsReport,
} from "../catalog/unfinished-uploads.js";
import { readKeptState, unreadableWarning, type KeptState } from "../restore/kept-copies.js";
import { FINISH_UNDO } from "./undo-restore.js";
import { lstat } from "node:fs/promises";
import { existingDatabases } from "../restore/database-staging.js";
import type { UndoJournal } from "../restore/kept-copies.js";
import { copyDatabaseName } from "../contract.js";
import { copyPath } from "../restore/media-staging.js";

/** A restore's kept copies, from its marker object (status sees neither database nor volume). */
export interface KeptPrevious {
  runId: string;
  replacedBy: string;
  keptAt: string;
  keepUntil: string;
  ageSeconds: number;
  database: string | null;
  media: string | null;
  /** Bytes of the kept media folder (its files' sizes). */
  mediaBytes: number | null;
  /** The run id of an unfinished undo that is putting these copies back (they may have moved). */
  beingPutBackBy?: string;
}

/** An undo-restore interrupted during its swap (its journal), and the command that finishes it. */
export interface UnfinishedUndo extends UndoJournal {
  finish: string;
}

export interface StatusReport extends StatusResult, UnfinishedUploadsReport {
  destination: string;
  /**
   * Staging and previous copies of restores and drills found beside/inside MEDIA_DIR and on the
   * database server (when those are configured); absent when neither is.
   */
  runCopies?: RunCopy[];
  /** Why the copies could not all be looked for (the database unreachable, ...). */
  runCopiesProblem?: string;
  /** The restore drill, when watched (STATUS_DRILL_MAX_AGE_HOURS). */
  drill?: DrillStatus;
  /** Copies restores kept for an undo and no cleanup released yet. */
  keptPrevious: KeptPrevious[];
  /** Undos interrupted during their swap: some copies are under other names until one is rerun. */
  unfinishedUndos: UnfinishedUndo[];
  /** The live database or media folder is missing while copies of it exist (a swap stopped between its renames). */
  missingTargets?: string[];
  /** Marker objects that could not be read (skipped). */
  markerWarnings?: string[];
  /** What `--publish-metrics` sent to CloudWatch. */
  published?: PublishedAges;
  /** The media store (MEDIA_FORMAT=store): absent when the destination has no content objects and no store set. */
  store?: StoreUsage;
  /** Store-format manifests that could not be read (left out of the store figures). */
  storeProblems?: string[];
  /** The media store's last finished gc (from its record), when gc ever ran here. */
  lastGc?: LastGc;
  /** Why the gc records could not be read. */
  lastGcProblem?: string;
}

export async function runStatus(
  store: ObjectStore,
  settings: StatusSettings,
  now: Date = new Date(),
  sites?: CopySites,
  /** The live database and media folder the sites belong to (to say when one is missing). */
  targets: { database?: string; mediaDir?: string } = {},
): Promise<StatusReport> {
  // Only the newest complete set of each tier matters: a few manifest reads, whatever the history.
  // The same listing tallies the media store's content objects.
  const tally = new StoreTally();
  const { newest, future } = await newestAndFutureSets(store, undefined, now, (o) => tally.add(o)).catch(
    (error: unknown) => {
      throw new RunnerError(`could not list the backups at ${store.display}: ${errorMessage(error)}`);
    },
  );
  const result = assessStatus(now, [...newest, ...future], settings);
  // Unfinished uploads are reported, never judged: they cost money but say nothing about freshness.
  const markers: KeptState = await readKeptState(store).catch((error: unknown) => ({
    records: [],
    unfinished: [],
    unreadable: [`${store.display}/restores/ (${errorMessage(error)})`],
  }));
  const kept = markers.records;
  const putBackBy = new Map(markers.unfinished.map((j) => [j.undoOf, j.runId]));
  const warning = unreadableWarning(markers.unreadable);
  const report: StatusReport = {
    ...result,
    destination: store.display,
    ...(await checkUnfinishedUploads(store, now)),
    unfinishedUndos: markers.unfinished.map((j) => ({ ...j, finish: FINISH_UNDO })),
    ...(warning ? { markerWarnings: [warning] } : {}),
    keptPrevious: kept.map((r) => ({
      ...(putBackBy.has(r.runId) ? { beingPutBackBy: putBackBy.get(r.runId) } : {}),
      runId: r.runId,
      replacedBy: r.replacedBy,
      keptAt: r.keptAt,
      keepUntil: r.keepUntil,
      ageSeconds: Math.max(0, Math.floor((now.getTime() - Date.parse(r.keptAt)) / 1000)),
      database: r.database?.previous ?? null,
      media: r.media?.previous ?? null,
      mediaBytes: r.media?.sourceBytes ?? null,
    })),
  };
  Object.assign(report, await storeUsage(store, tally, newest, future));
  if (sites && (sites.connection || sites.folders?.length)) {
    report.runCopies = await findRunCopies(sites).catch((error: unknown) => {
      report.runCopiesProblem = `could not look for staging copies: ${errorMessage(error)}`;
      return [];
    });
    const missing = await missingTargets(report, sites, targets);
    if (missing.length) report.missingTargets = missing;
  }
  const lastGc = await readLastGc(store).catch((error: unknown) => {
    report.lastGcProblem = `could not read the gc records: ${errorMessage(error)}`;
    return undefined;
  });
  if (lastGc) report.lastGc = lastGc;
  if (settings.drillMaxAgeHours !== undefined) {
    const history = await readDrillHistory(store).catch((error: unknown) => {
      throw new RunnerError(`could not read the drill records at ${store.display}: ${errorMessage(error)}`);
    });
    report.drill = assessDrill(now, history, {
      maxAgeHours: settings.drillMaxAgeHours,
      graceHours: settings.graceHours,
      firstRun: settings.firstRuns?.drill,
    });
    report.healthy &&= isDrillHealthy(report.drill.state);
  }
  return report;
}

/**
 * The media store's figures: the tally's objects and the manifests of its store-format sets (one
 * small read each, those `newest` holds already excepted). Absent for a destination without any.
 */
async function storeUsage(
  store: ObjectStore,
  tally: StoreTally,
  newest: readonly CompleteBackupSet[],
  future: readonly Pick<CompleteBackupSet, "tier" | "backupId">[],
): Promise<Pick<StatusReport, "store" | "storeProblems">> {
  // A set dated in the future is never the newest (its own WARNING line says so).
  const later = new Set(future.map((s) => setKey(s.tier, s.backupId)));
  const sets = tally.storeSets().filter((s) => !later.has(setKey(s.tier, s.backupId)));
  if (tally.objects === 0 && sets.length === 0) return {};
  const read = new Map(newest.map((s) => [setKey(s.tier, s.backupId), s.manifest]));
  const manifests: Manifest[] = [];
  const problems: string[] = [];
  for (const s of sets) {
    const known = read.get(setKey(s.tier, s.backupId));
    if (known) manifests.push(known);
    else
      await readManifest(store, s.tier, s.backupId).then(
        (m) => manifests.push(m),
        (error: unknown) => problems.push(`${setKey(s.tier, s.backupId)}: ${errorMessage(error)}`),
      );
  }
  return { store: assessStoreUsage(tally, manifests), ...(problems.length ? { storeProblems: problems } : {}) };
}

/** The media store's line for the status table's reader. */
export function storeLines(report: Pick<StatusReport, "store" | "storeProblems">): string[] {
  const u = report.store;
  if (!u) return [];
  const live = u.newest
    ? `the newest store set (${u.newest.tier}/${u.newest.backupId}) references ${u.newest.objects} of them, ${
        u.newest.bytes === null
          ? "bytes not recorded (a set written before the runner recorded them)"
          : `${formatBytes(u.newest.bytes)}${u.storedBytes > 0 ? ` (${Math.round((100 * u.newest.bytes) / u.storedBytes)}%)` : ""}`
      }`
    : "no complete store set references them";
  const ratio =
    u.dedupRatio === null
      ? ""
      : `; ${u.sets} complete store set(s) hold ${formatBytes(u.setsSourceBytes)} of media files: dedup ratio ${u.dedupRatio.toFixed(1)}x`;
  return [
    `STORE: ${u.objects} content objects, ${formatBytes(u.storedBytes)} stored; ${live}${ratio}`,
    ...(report.storeProblems ?? []).map((p) => `WARNING: store set left out of the store figures: ${p}`),
  ];
}

/**
 * The live database or media folder that does not exist while a previous copy of it does: a swap
 * stopped between its two renames (SIGKILL). One line each, with the command that finishes.
 */
async function missingTargets(
  report: StatusReport,
  sites: CopySites,
  targets: { database?: string; mediaDir?: string },
): Promise<string[]> {
  const lines: string[] = [];
  const copies = report.runCopies ?? [];
  const undoFor = (where: "database" | "media", target: string) =>
    report.unfinishedUndos.find((u) => u[where]?.target === target);
  const media = targets.mediaDir;
  if (
    media &&
    !(await lstat(media).then(
      () => true,
      () => false,
    ))
  ) {
    const beside = copies.filter((c) => c.where === "folder" && c.name === copyPath(c.kind, media, c.runId, "beside"));
    const previous = beside.filter((c) => c.kind === "previous").map((c) => c.name);
    if (beside.length || undoFor("media", media)) {
      const undo = undoFor("media", media);
      lines.push(
        undo
          ? `MISSING: media folder ${media} does not exist: undo ${undo.runId} stopped between its renames; ${FINISH_UNDO} (same settings) finishes it`
          : `MISSING: media folder ${media} does not exist: a restore stopped between its renames${previous.length ? `; its previous contents are in ${previous.join(", ")}: put them back with \`mv ${previous.at(-1)} ${media}\`` : ""} or run the restore again (docs/RUNBOOK.md)`,
      );
    }
  }
  const db = targets.database;
  if (db && sites.connection) {
    const exists = await existingDatabases(sites.connection, [db]).then(
      (s) => s.has(db),
      () => true,
    );
    const undo = undoFor("database", db);
    const previous = copies
      .filter(
        (c) => c.where === "database" && c.kind === "previous" && c.name === copyDatabaseName("previous", db, c.runId),
      )
      .map((c) => c.name);
    if (!exists && (undo || previous.length))
      lines.push(
        undo
          ? `MISSING: database ${db} does not exist: undo ${undo.runId} stopped between its renames; ${FINISH_UNDO} (same settings) finishes it`
          : `MISSING: database ${db} does not exist: a restore stopped between its renames; its previous contents are in ${previous.join(", ")}: put them back with \`ALTER DATABASE "${previous.at(-1)}" RENAME TO "${db}"\` or run the restore again (docs/RUNBOOK.md)`,
      );
  }
  return lines;
}

function describeDrill(d: DrillStatus): string {
  if (d.state === "failed") return `the last restore drill (${d.lastDrillAt ?? "?"}) FAILED`;
  if (d.state === "overdue") return `no restore drill passed for ${formatDuration(d.ageSeconds ?? 0)}`;
  return "no restore drill has passed yet";
}

function describe(t: TierStatus): string {
  if (t.state === "missing") return `${t.tier} has no complete backup`;
  if (t.state === "pending") return `${t.tier} has no backup yet; its first run is due ${formatTime(t.firstRunAt!)}`;
  return `${t.tier} is ${formatDuration(t.ageSeconds ?? 0)} old (limit ${formatDuration(t.maxAgeSeconds ?? 0)})`;
}

export function renderStatusTable(report: StatusReport): string {
  const rows = report.tiers.map((t) => [
    t.tier,
    t.state.toUpperCase(),
    t.newestBackupId ?? (t.state === "pending" ? `(first run ${formatTime(t.firstRunAt!)})` : "-"),
    t.ageSeconds === undefined ? "-" : formatDuration(t.ageSeconds),
    t.maxAgeSeconds === null ? "n/a" : formatDuration(t.maxAgeSeconds),
  ]);
  const d = report.drill;
  if (d) {
    rows.push([
      "drill",
      d.state.toUpperCase(),
      d.lastPassedAt
        ? `passed ${formatTime(d.lastPassedAt)}`
        : d.state === "pending"
          ? `(first run ${formatTime(d.firstRunAt!)})`
          : "-",
      d.ageSeconds === undefined ? "-" : formatDuration(d.ageSeconds),
      formatDuration(d.maxAgeSeconds),
    ]);
  }
  const table = alignColumns([["TIER", "STATE", "NEWEST COMPLETE", "AGE", "MAX AGE"], ...rows]);
  const verdict = report.healthy ? "healthy" : "UNHEALTHY";
  // A missing document is not a stale backup (the exit code stays), but nobody must miss it.
  const warnings = report.tiers.flatMap((t) => [
    ...(t.missingMediaFiles
      ? [
          `WARNING: ${t.tier} ${t.newestBackupId}: ${t.missingMediaFiles} referenced media file(s) missing (edms-backup verify ${t.newestBackupId} lists them)`,
        ]
      : []),
    ...(t.dumpWarnings
      ? [
          `WARNING: ${t.tier} ${t.newestBackupId}: pg_dump printed ${t.dumpWarnings} warning(s) (edms-backup verify ${t.newestBackupId} shows them)`,
        ]
      : []),
  ]);
  const kept = report.keptPrevious.map(
    (k) =>
      `KEPT: ${[k.database && `database ${k.database}`, k.media && `folder ${k.media} (${formatBytes(k.mediaBytes ?? 0)})`].filter(Boolean).join(", ")}, ${formatDuration(k.ageSeconds)} old, until ${formatTime(k.keepUntil)} ${k.beingPutBackBy ? `(being put back by the unfinished undo ${k.beingPutBackBy}: it may be under the live name now)` : "(edms-backup cleanup drops it)"}`,
  );
  const unfinished = report.unfinishedUndos.map(
    (u) =>
      `UNFINISHED UNDO: the undo of ${u.replacedBy} (run ${u.runId}, started ${formatTime(u.startedAt)}) stopped during its swap; ${u.finish} (same settings) finishes it. Each copy is under one of these names: ${[u.database && `database ${u.database.target} / ${u.database.kept} (pre-restore) / ${u.database.displaced} (restored)`, u.media && `folder ${u.media.target} / ${u.media.kept} (pre-restore) / ${u.media.displaced} (restored)`].filter(Boolean).join("; ")}`,
  );
  const lines = [
    table,
    ...warnings,
    ...futureLines(report.futureSets),
    ...copyLines(report),
    ...unfinishedUploadsLines(report, report.destination),
    ...storeLines(report),
    ...(report.missingTargets ?? []),
    ...unfinished,
    ...kept,
    ...(report.markerWarnings ?? []).map((w) => `WARNING: ${w}`),
    ...(report.lastGc ? [lastGcLine(report.lastGc)] : []),
    ...(report.lastGcProblem ? [`WARNING: ${report.lastGcProblem}`] : []),
  ];
  return `${lines.join("\n")}\n${verdict}: ${report.destination} checked at ${formatTime(report.checkedAt)}`;
}

/** One line per staging or previous copy left by a restore or drill. */
export function copyLines(
  report: Pick<StatusReport, "runCopies" | "runCopiesProblem"> &
    Partial<Pick<StatusReport, "keptPrevious" | "unfinishedUndos">>,
): string[] {
  // A copy a restore kept for an undo has its own KEPT line, with the window and how to drop it;
  // one an unfinished undo swaps has its UNFINISHED UNDO line, with the command that finishes.
  const kept = new Set([
    ...(report.keptPrevious ?? []).flatMap((k) => [k.database, k.media]),
    ...(report.unfinishedUndos ?? []).flatMap((u) => [u.database?.displaced, u.media?.displaced]),
  ]);
  const lines = (report.runCopies ?? [])
    .filter((c) => c.held || !kept.has(c.name))
    .map((c) => {
      const what = `${c.kind} ${c.where} ${c.name} (run ${c.runId})`;
      if (c.held) return `IN USE: ${what}, by a restore or drill still running`;
      if (c.kind === "staging")
        return `LEFT BEHIND: ${what}, by a run that did not finish; the next restore or drill removes it`;
      return `LEFT BEHIND: ${what}, the contents a restore replaced; check it, then remove it by hand (docs/RUNBOOK.md)`;
    });
  return report.runCopiesProblem ? [...lines, `WARNING: ${report.runCopiesProblem}`] : lines;
}

/** One warning line per set dated in the future (shared by status and list). */
export function futureLines(sets: readonly { tier: string; backupId: string; startedAt: string }[]): string[] {
  return sets.map(
    (s) =>
      `WARNING: ${s.tier}/${s.backupId} is dated ${formatTime(s.startedAt)}, in the future (a wrong clock or a copied set); it is never used as latest`,
  );
}

/** The one message for a non-zero exit: what is wrong and where to look. */
export function unhealthyMessage(report: StatusReport): string | undefined {
  const bad = report.tiers.filter((t) => !isHealthy(t.state)).map(describe);
  if (report.drill && !isDrillHealthy(report.drill.state)) bad.push(describeDrill(report.drill));
  if (bad.length === 0) return undefined;
  // A folder destination is written by whatever runs the runner there (cron, a timer, a person),
  // not by the stack's CronJobs: no kubectl advice for it.
  const where = report.destination.startsWith("file://")
    ? "check whatever runs the backups into this folder (cron, a systemd timer) and its last run's output"
    : "check the backup CronJobs and their last Jobs (kubectl --namespace <namespace> get cronjobs,jobs; kubectl --namespace <namespace> logs job/<name>)";
  return `backups are overdue at ${report.destination}: ${bad.join("; ")}; ${where} and the runner's \`list\` for incomplete runs`;
}

export interface PublishedAges {
  namespace: string;
  metric: string;
  /** Seconds per tier that had a complete backup or is pending; missing tiers are left out (see ageMetricData). */
  ages: Partial<Record<TierStatus["tier"], number>>;
  /** LastPassingDrillAgeSeconds, when the drill is watched and had a value. */
  lastPassingDrillAgeSeconds?: number;
}

/**
 * Publishes each tier's newest-backup age to CloudWatch, where the per-tier alarms watch it. It
 * throws when CloudWatch refuses: for `status --publish-metrics` publishing is the whole job, and a
 * failed Job is easier to notice than a warning (the alarms fire on the missing data as well).
 */
export async function publishStatusMetrics(
  report: StatusReport,
  app: string,
  namespace: string,
  client?: CloudWatchClient,
): Promise<PublishedAges> {
  const at = new Date(report.checkedAt);
  const data = [
    ...ageMetricData(app, report.tiers, at),
    ...(report.drill ? drillAgeMetricData(app, report.drill, at) : []),
  ];
  try {
    await putMetrics(namespace, data, client);
  } catch (error) {
    throw new RunnerError(
      `could not publish ${METRIC_NEWEST_BACKUP_AGE} to CloudWatch namespace ${namespace}: ${errorMessage(error)}; check the runner's cloudwatch:PutMetricData permission and AWS_REGION`,
    );
  }
  const ages: PublishedAges["ages"] = {};
  for (const t of report.tiers) if (t.alarmAgeSeconds !== undefined) ages[t.tier] = t.alarmAgeSeconds;
  return {
    namespace,
    metric: METRIC_NEWEST_BACKUP_AGE,
    ages,
    ...(report.drill?.alarmAgeSeconds !== undefined
      ? { lastPassingDrillAgeSeconds: report.drill.alarmAgeSeconds }
      : {}),
  };
}

/** The media store's last gc, one line. */
export function lastGcLine(g: LastGc): string {
  return (
    `STORE: last gc ${formatTime(g.finishedAt)}: deleted ${g.deletedObjects} objects (${formatBytes(g.deletedBytes)}), ` +
    `${g.candidates} unreferenced pending` +
    (g.lockedSkipped ? `, ${g.lockedSkipped} left under Object Lock` : "")
  );
}
