/**
 * `drill`: the automated restore test. Restores a backup set into a scratch database and a
 * temporary folder with the same code as `restore`, checks every table's row count and the
 * media's files and bytes (as written to disk) against the manifest, and (when the backup checked
 * MEDIA_REFERENCES) that every path the restored rows reference is a restored file, then drops
 * the scratch copies. Proves on a schedule that the backups can be restored, and how long it takes.
 */
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { newRunId } from "../catalog/backup-id.js";
import type { CompleteBackupSet } from "../catalog/catalog.js";
import { setKey } from "../catalog/catalog.js";
import type { RestoreSettings } from "../settings/config.js";
import { copyDatabaseName, copyFolderName } from "../contract.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../output/logger.js";
import { dropDatabase, withAdminClient } from "../restore/database-staging.js";
import { ownershipPlan } from "../pg/owners.js";
import { prepareGlobals } from "../restore/restore-globals.js";
import { safeName } from "../output/format.js";
import { removeTree } from "../restore/media-staging.js";
import { checkRestoredReferences } from "../references/drill-references.js";
import { holdAndSweep } from "../restore/run-copies.js";
import { restoreDatabasePart, restoreMediaPart } from "../restore/restore-parts.js";
import { inspectDirectory } from "../archive/directory-walk.js";
import type { ObjectStore } from "../store/object-store.js";
import type { OpenIdentity } from "../encryption/identity.js";
import { decryptionFor } from "../encryption/names.js";
import { faultPoint } from "../fault-points.js";
import { drillMediaSample, samplePlan } from "../drill/media-sample.js";
import type { PathSet } from "../references/media-paths.js";

import type { DrillCheck, DrillMedia, DrillReport } from "../drill/drill-record.js";
export type { DrillCheck, DrillReport } from "../drill/drill-record.js";

export interface DrillOptions {
  scratchDatabase?: string;
  scratchParent?: string;
}

export async function runDrill(
  set: CompleteBackupSet,
  settings: RestoreSettings,
  options: DrillOptions,
  deps: { store: ObjectStore; log: Logger; signal?: AbortSignal; identity?: OpenIdentity },
): Promise<DrillReport> {
  const { manifest } = set;
  const log = deps.log.child({ backupId: set.backupId, tier: set.tier, stage: "drill" });
  const runId = newRunId();
  const started = Date.now();
  const run: DrillRun = {
    set,
    settings,
    log,
    checks: [],
    ctx: {
      store: deps.store,
      setPrefix: setKey(set.tier, set.backupId),
      signal: deps.signal,
      decrypt: decryptionFor(manifest, deps.identity),
      transfers: settings.env.MEDIA_STORE_TRANSFERS,
    },
    sample: manifest.media ? samplePlan(manifest.media, settings.env) : undefined,
    connection: manifest.database ? settings.database : null,
    created: false,
  };
  const { connection, checks } = run;
  run.scratchDb = connection
    ? (options.scratchDatabase ?? copyDatabaseName("staging", connection.database, runId))
    : undefined;
  // Named like a restore's staging copy, so a drill killed half-way is swept like one.
  const scratchParent = options.scratchParent ?? tmpdir();
  run.scratchDir = manifest.media ? path.join(scratchParent, copyFolderName("staging", runId)) : undefined;
  const { scratchDb, scratchDir } = run;
  const hold = await holdAndSweep(
    runId,
    { connection: connection ?? undefined, stagingFolders: scratchDir ? [scratchDir] : [] },
    { connection: connection ?? undefined, folders: scratchDir ? [{ dir: scratchParent, base: null }] : [] },
    log,
  );
  if (scratchDir)
    await mkdir(scratchDir, { mode: 0o700 }).catch(async (error: unknown) => {
      await hold.release();
      throw error;
    });
  log.info({ scratchDatabase: scratchDb, scratchDir }, "drill started");

  try {
    const results = await Promise.allSettled([drillDatabase(run), drillMedia(run)]);
    results.forEach((r, i) => {
      if (r.status === "rejected")
        checks.push({ name: i === 0 ? "database" : "media", ok: false, detail: errorMessage(r.reason) });
    });
    await checkReferences(run);
  } finally {
    await dropScratch(run);
    await hold.release();
  }
  const report: DrillReport = {
    backupId: set.backupId,
    tier: set.tier,
    ok: checks.length > 0 && checks.every((c) => c.ok),
    restoreSeconds: (Date.now() - started) / 1000,
    checks,
    ...(run.mediaMode ? { media: run.mediaMode } : {}),
  };
  log[report.ok ? "info" : "error"](
    { ok: report.ok, restoreSeconds: report.restoreSeconds, checks, media: report.media },
    `drill ${report.ok ? "PASSED" : "FAILED"}`,
  );
  return report;
}

/** What the drill's phases share, and what they found. */
interface DrillRun {
  set: CompleteBackupSet;
  settings: RestoreSettings;
  log: Logger;
  checks: DrillCheck[];
  ctx: Parameters<typeof restoreMediaPart>[0];
  sample: ReturnType<typeof samplePlan> | undefined;
  connection: RestoreSettings["database"] | null;
  scratchDb?: string;
  scratchDir?: string;
  /** Whether this drill created the scratch database (only then is it dropped). */
  created: boolean;
  mediaMode?: DrillMedia;
  /** A sample drill's reference check reads the set's file names from its index. */
  indexNames?: PathSet;
}

/** Restores the database into the scratch database, row counts checked against the manifest. */
async function drillDatabase(run: DrillRun): Promise<void> {
  const { manifest } = run.set;
  const { connection, checks, log } = run;
  if (!manifest.database) return;
  if (!connection) {
    checks.push({
      name: "database",
      ok: false,
      detail: "no database connection configured (DATABASE_URL or PG* variables)",
    });
    return;
  }
  const counted = !manifest.importedFrom;
  // Owners kept as a restore would keep them (the drill proves what a restore does).
  const ownership = await withAdminClient(connection, (c) => ownershipPlan(c, manifest.database!));
  const globals = await prepareGlobals(connection, manifest.database, [], log);
  const restored = await restoreDatabasePart(
    run.ctx,
    manifest.database,
    connection,
    run.scratchDb!,
    run.settings.pgBinDir,
    {
      checkRowCounts: counted,
      owners: { keep: ownership.keepOwners, subscriptions: ownership.superuser, noTablespaces: globals.noTablespaces },
      databaseOwner: manifest.database.properties?.owner,
      onWarning: (warning) => log.warn({ stage: "pg_restore", warning }, `pg_restore: ${warning}`),
    },
  );
  // Only a database this drill created is dropped afterwards (restoreDatabasePart drops its own
  // on failure): a --scratch-db naming an existing database fails to create and is left alone.
  run.created = true;
  const { counts } = restored;
  const rows = counts.reduce((s, t) => s + t.rows, 0);
  checks.push({
    name: "database",
    ok: true,
    detail: `${counts.length} tables, ${rows} rows restored; ${counted ? "every table's row count matches the manifest" : "row counts not recorded (imported archive)"}`,
  });
}

/** Restores the media (or a sample of it) into the scratch folder and counts what is on disk. */
async function drillMedia(run: DrillRun): Promise<void> {
  const { set, sample, checks, log } = run;
  const { manifest } = set;
  const scratchDir = run.scratchDir!;
  if (!manifest.media) return;
  if (sample) {
    log.info({ sample }, "media above DRILL_MEDIA_SAMPLE_ABOVE: checking every object, restoring a random sample");
    const sampled = await drillMediaSample(
      { ...run.ctx, backupId: set.backupId },
      manifest.media,
      scratchDir,
      sample,
      Boolean(manifest.media.references && run.connection),
    );
    checks.push(sampled.check);
    run.mediaMode = sampled.media;
    run.indexNames = sampled.names;
    return;
  }
  const mediaMode: DrillMedia = { mode: "full", files: manifest.media.files, restoredFiles: 0 };
  run.mediaMode = mediaMode;
  await restoreMediaPart(run.ctx, manifest.media, scratchDir);
  // Counted by the same inspector that counted tar's listing at backup time, so a hard link
  // (and any other entry) counts the same on disk as in the archive.
  const onDisk = (await inspectDirectory(scratchDir)).tally;
  const ok = onDisk.files === manifest.media.files && onDisk.sourceBytes === manifest.media.sourceBytes;
  mediaMode.restoredFiles = onDisk.files;
  checks.push({
    name: "media",
    ok,
    detail: `${onDisk.files} files / ${onDisk.sourceBytes} bytes on disk; manifest ${manifest.media.files} / ${manifest.media.sourceBytes}`,
  });
}

/** When every other check passed: every path the restored rows reference is a restored file. */
async function checkReferences(run: DrillRun): Promise<void> {
  const { connection, scratchDb, scratchDir, checks } = run;
  const recorded = run.set.manifest.media?.references;
  if (recorded && run.created && connection && scratchDb && scratchDir && checks.every((c) => c.ok)) {
    checks.push(
      await checkRestoredReferences(recorded, connection, scratchDb, run.indexNames ?? scratchDir).catch(
        (error: unknown) => ({
          name: "references",
          ok: false,
          detail: `could not check the media references: ${errorMessage(error)}`,
        }),
      ),
    );
  }
}

/** A scratch database left behind is a full copy of the data: the drill fails if it stays. */
async function dropScratch(run: DrillRun): Promise<void> {
  const { connection, scratchDb, scratchDir, log } = run;
  if (run.created && scratchDb && connection)
    await faultPoint("drill.before-drop")
      .then(() => dropDatabase(connection, scratchDb))
      .catch((e: unknown) => {
        log.error({ error: errorMessage(e) }, "could not drop the scratch database");
        run.checks.push({
          name: "cleanup",
          ok: false,
          detail: `could not drop the scratch database ${safeName(scratchDb)} (${errorMessage(e)}); drop it by hand or run edms-backup cleanup`,
        });
      });
  if (scratchDir) await removeTree(scratchDir);
}
