/**
 * Whether a media restore fits on the volume before anything is staged. The staging copy is
 * written next to (or inside) the live folder on the same filesystem, so it needs free space of
 * its own; the swap is renames, so the previous folder costs nothing extra during the restore,
 * but when it is kept it stays allocated until `cleanup`, so the verdict says so. RESTORE_SCRATCH_DIR
 * is checked here too: every "does it fit" of a restore, before anything is written.
 */
import { lstat, statfs } from "node:fs/promises";
import path from "node:path";
import { directoryTally } from "../archive/directory-walk.js";
import type { MediaEntry } from "../catalog/manifest.js";
import { RunnerError } from "../errors.js";
import type { Logger } from "../output/logger.js";
import { formatBytes } from "../output/format.js";
import { settingLabel } from "../settings/settings-table.js";
import type { StagingLayout } from "./media-staging.js";

export interface SpaceNeed {
  /** Bytes free for an unprivileged writer on the target's filesystem (statfs bavail x bsize). */
  available: number;
  /** Block size of that filesystem: every file occupies whole blocks. */
  blockSize: number;
  /** What the archive extracts: regular files and their bytes (manifest media.files/sourceBytes). */
  files: number;
  sourceBytes: number;
  /** Bytes of the folder being replaced, when it is kept after the restore (else 0). */
  keptBytes: number;
  /** Free inodes (statfs ffree) and the filesystem's total (0: no inode limit, e.g. btrfs). */
  availableInodes?: number;
  totalInodes?: number;
}

export interface SpaceVerdict {
  fits: boolean;
  /** What the staging copy needs at most: each file rounded up to whole blocks. */
  stagingBytes: number;
  message: string;
}

/** Pure: the staging copy must fit in the free space; a kept previous folder is reported, not added. */
export function spaceVerdict(n: SpaceNeed): SpaceVerdict {
  // Upper bound without per-file sizes: every file may waste up to one block; folders are small.
  const stagingBytes = n.sourceBytes + n.files * n.blockSize;
  // Each file takes an inode (folders too, which the manifest does not count: +1 for the copy's own).
  const inodesNeeded = n.files + 1;
  const inodesShort = (n.totalInodes ?? 0) > 0 && inodesNeeded > (n.availableInodes ?? 0);
  const fits = stagingBytes <= n.available && !inodesShort;
  const kept = n.keptBytes
    ? `; the folder it replaces (${formatBytes(n.keptBytes)}) stays on the volume as the kept previous copy until \`edms-backup cleanup\``
    : "";
  if (inodesShort)
    return {
      fits,
      stagingBytes,
      message: `no space for the staging copy: it needs at least ${inodesNeeded} free inodes (${n.files} files), only ${n.availableInodes ?? 0} are free (the volume has room for bytes but not for more files)${kept}; free files on the volume (or run \`edms-backup cleanup\` for kept copies of earlier restores), or restore elsewhere with --media-dir`,
    };
  const message = fits
    ? `the staging copy needs up to ${formatBytes(stagingBytes)}, ${formatBytes(n.available)} are free${kept}`
    : `not enough space for the staging copy: it needs up to ${formatBytes(stagingBytes)} (${n.files} files, ${formatBytes(n.sourceBytes)}), only ${formatBytes(n.available)} are free${kept}; free space on the volume (or run \`edms-backup cleanup\` for kept copies of earlier restores), or restore elsewhere with --media-dir`;
  return { fits, stagingBytes, message };
}

/** statfs of the folder the staging copy goes into. */
export async function freeSpace(
  dir: string,
): Promise<{ available: number; blockSize: number; availableInodes: number; totalInodes: number }> {
  const s = await statfs(dir);
  return {
    available: Number(s.bavail) * Number(s.bsize),
    blockSize: Number(s.bsize),
    availableInodes: Number(s.ffree),
    totalInodes: Number(s.files),
  };
}

/**
 * RESTORE_SCRATCH_DIR must hold the decoded dump: at least its stored size (a zstd dump decodes
 * to more; gzip and none are stored as pg_restore reads them), a file and a folder. Checked
 * before anything is downloaded; "no space" in plain words instead of zstd's "error 69".
 */
export async function scratchSpaceProblem(dir: string, storedBytes: number): Promise<string | undefined> {
  const free = await freeSpace(dir);
  if (free.available >= storedBytes && (free.totalInodes === 0 || free.availableInodes >= 2)) return undefined;
  return (
    `no space in ${settingLabel("RESTORE_SCRATCH_DIR")} ${dir}: the decoded dump needs at least ${formatBytes(storedBytes)} ` +
    `(its stored size; a zstd dump decodes to more) and 2 inodes, only ${formatBytes(free.available)} and ${free.availableInodes} inodes are free; ` +
    "free space there, choose a larger --scratch-dir, or restore without one (the dump then streams into pg_restore, nothing is written locally); nothing was changed"
  );
}

/** Whether the filesystem holding `dir` is (nearly) full: what a failed scratch write means. */
export async function looksFull(dir: string, slackBytes = 1024 * 1024): Promise<boolean> {
  const free = await freeSpace(dir).catch(() => undefined);
  return free !== undefined && (free.available < slackBytes || (free.totalInodes > 0 && free.availableInodes < 2));
}

async function exists(p: string): Promise<boolean> {
  return lstat(p).then(
    () => true,
    () => false,
  );
}

/** Refuses (exit 1, nothing touched) when the staging copy cannot fit where `layout` writes it. */
export async function checkSpace(
  entry: MediaEntry,
  target: string,
  layout: StagingLayout,
  keeping: boolean,
  log: Logger,
): Promise<void> {
  let where = layout === "inside" ? target : path.dirname(target);
  while (!(await exists(where)) && where !== path.dirname(where)) where = path.dirname(where);
  const { available, blockSize, availableInodes, totalInodes } = await freeSpace(where);
  const keptBytes = keeping && (await exists(target)) ? (await directoryTally(target)).sourceBytes : 0;
  const verdict = spaceVerdict({
    available,
    blockSize,
    files: entry.files,
    sourceBytes: entry.sourceBytes,
    keptBytes,
    availableInodes,
    totalInodes,
  });
  if (!verdict.fits) throw new RunnerError(`${where}: ${verdict.message}; nothing was changed`);
  log.info({ stage: "space", where, available, needs: verdict.stagingBytes }, verdict.message);
}
