/**
 * Media restores are extracted into a staging folder and swapped in only when the archive's
 * checksum, tar's exit status, the entry safety checks and the manifest's file count all agree.
 *
 * The staging folder sits beside the target, so the swap is two renames. When the target is a
 * mount point (a Kubernetes volume mounted at MEDIA_DIR) it cannot be renamed, so staging goes
 * inside it (hidden) and the swap moves the entries instead, on the same filesystem. Either way
 * the previous contents are kept under a previous-copy name until the whole restore commits, and
 * a swap that fails half-way moves back what it moved before it reports.
 *
 * The names of both copies come from the contract, so backups leave them out and `status` and
 * the sweep of stale copies recognise them.
 */
import { access, chmod, lstat, mkdir, readdir, rename, rm, rmdir, stat } from "node:fs/promises";
import { constants } from "node:fs";
import path from "node:path";
import { copyFolderName, excludedFromArchive } from "../contract.js";
import { quoteName } from "../archive/entry-name.js";
import { PartialSwapError, errorMessage } from "../errors.js";

export type StagingLayout = "beside" | "inside";

export interface MediaStaging {
  layout: StagingLayout;
  dir: string;
  /** Removes the staging folder (after a failure). */
  discard(): Promise<void>;
}

export interface MediaSwap {
  /** Where the previous contents wait for the commit (absent when the target did not exist). */
  previous?: string;
  /** Removes the previous contents (after every other part of the restore succeeded). */
  commit(): Promise<void>;
  /**
   * Puts the previous contents back, and the swapped-in contents back where they came from
   * (`staging.dir`). It removes nothing: the caller discards a staging copy of its own run.
   */
  rollback(): Promise<void>;
}

export async function isMountPoint(dir: string): Promise<boolean> {
  const [self, parent] = await Promise.all([stat(dir), stat(path.dirname(dir))]);
  return self.dev !== parent.dev || self.ino === parent.ino;
}

async function canWrite(dir: string): Promise<boolean> {
  return access(dir, constants.W_OK | constants.X_OK).then(
    () => true,
    () => false,
  );
}

/** Where staging goes for `target`: beside it, unless it cannot be renamed (a mount point) or its parent is read-only. */
export async function chooseLayout(target: string): Promise<StagingLayout> {
  const exists = await lstat(target).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (exists && ((await isMountPoint(target)) || !(await canWrite(path.dirname(target))))) return "inside";
  return "beside";
}

/** The staging (or previous) copy's path for `target` in `layout`. */
export function copyPath(kind: "staging" | "previous", target: string, runId: string, layout: StagingLayout): string {
  return layout === "beside"
    ? path.join(path.dirname(target), copyFolderName(kind, runId, path.basename(target)))
    : path.join(target, copyFolderName(kind, runId));
}

export async function prepareMediaStaging(
  target: string,
  runId: string,
  layout?: StagingLayout,
): Promise<MediaStaging> {
  const exists = await lstat(target).then(
    (s) => s.isDirectory(),
    () => false,
  );
  layout ??= await chooseLayout(target);
  if (layout === "inside" && !exists) await mkdir(target, { recursive: true });
  if (!exists) await mkdir(path.dirname(target), { recursive: true });
  const dir = copyPath("staging", target, runId, layout);
  await mkdir(dir, { recursive: false, mode: 0o700 });
  return { layout, dir, discard: () => removeTree(dir) };
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * rename(2), also for a folder without write permission for its owner (a read-only folder in the
 * media, or one tar restored read-only): moving a folder to another parent rewrites its `..`
 * entry, which needs write permission on the folder itself. The folder's mode is put back after.
 */
async function move(from: Buffer, to: Buffer): Promise<void> {
  try {
    await rename(from, to);
    return;
  } catch (error) {
    if (errno(error) !== "EACCES") throw error;
    const info = await lstat(from);
    if (!info.isDirectory() || info.uid !== process.getuid?.() || info.mode & 0o200) throw error;
    await chmod(from, (info.mode | 0o200) & 0o7777);
    try {
      await rename(from, to);
    } catch (again) {
      await chmod(from, info.mode & 0o7777).catch(() => undefined);
      throw again;
    }
    await chmod(to, info.mode & 0o7777);
  }
}

/**
 * Moves every entry of `from` (except `skip`) into `to`. When one cannot be moved, those already
 * moved go back before the error is thrown, so a failed move leaves both folders as they were;
 * when even that fails, the error says which entries are where.
 */
async function moveEntries(from: string, to: string, skip: ReadonlySet<string> = new Set()): Promise<Buffer[]> {
  const moved: Buffer[] = [];
  try {
    // Names as bytes: one that is not UTF-8 would not survive a round trip through a string.
    for (const name of await readdir(from, { encoding: "buffer" })) {
      // The skipped names are the runner's own (ASCII), so latin1 compares them byte for byte.
      if (skip.has(name.toString("latin1"))) continue;
      await move(childPath(from, name), childPath(to, name));
      moved.push(name);
    }
    return moved;
  } catch (error) {
    const stuck = await moveBack(to, from, moved);
    if (stuck.length)
      throw new PartialSwapError(
        `${errorMessage(error)}; moving the entries back failed too: ${stuck.slice(0, 5).map(quoteName).join(", ")} are still in ${to}`,
      );
    throw error;
  }
}

/**
 * Finishes an inside-layout swap that stopped between its two phases (the old entries all moved
 * out, none of the new ones in): moves every entry of `from` into `target`, then removes the empty
 * `from`. `target` must hold none of the application's entries (only the runner's own names).
 * Returns false, touching nothing, when it does: then the stop was inside a phase, and which entry
 * belongs where cannot be told by name.
 */
export async function finishInsideSwap(from: string, target: string): Promise<boolean> {
  const own = (await readdir(target, { encoding: "buffer" })).filter((n) => !excludedFromArchive(n));
  if (own.length) return false;
  await moveEntries(from, target);
  await rmdir(from);
  return true;
}

function childPath(dir: string | Buffer, name: Buffer): Buffer {
  return Buffer.concat([Buffer.from(dir), Buffer.from("/"), name]);
}

/** Moves `names` from `from` back to `to`; returns those that could not be moved. */
async function moveBack(from: string, to: string, names: readonly Buffer[]): Promise<Buffer[]> {
  const stuck: Buffer[] = [];
  for (const name of [...names].reverse())
    await move(childPath(from, name), childPath(to, name)).catch(() => stuck.push(name));
  return stuck;
}

/**
 * rm -rf that also removes read-only folders the runner owns (the previous media of a non-root
 * runner often has some): their contents can only be removed once the folder is writable.
 */
export async function removeTree(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true });
  } catch (error) {
    if (errno(error) !== "EACCES") throw error;
    await makeOwnFoldersWritable(dir);
    await rm(dir, { recursive: true, force: true });
  }
}

async function makeOwnFoldersWritable(dir: string | Buffer): Promise<void> {
  const info = await lstat(dir).catch(() => undefined);
  if (!info?.isDirectory()) return;
  if (info.uid === process.getuid?.() && (info.mode & 0o700) !== 0o700)
    await chmod(dir, (info.mode | 0o700) & 0o7777).catch(() => undefined);
  // Names as bytes, or a folder whose name is not UTF-8 could never be removed.
  const names = await readdir(dir, { encoding: "buffer" }).catch(() => []);
  for (const name of names) await makeOwnFoldersWritable(childPath(dir, name));
}

/**
 * Swaps `staging` in at `target`; `between` runs between moving the old contents out and the new
 * ones in (a fault point of the undo's tests), and a throw there puts the old contents back.
 */
export async function swapInMedia(
  staging: MediaStaging,
  target: string,
  runId: string,
  between?: () => Promise<void>,
): Promise<MediaSwap> {
  const previous = copyPath("previous", target, runId, staging.layout);
  if (staging.layout === "beside") {
    const existed = await lstat(target).then(
      () => true,
      () => false,
    );
    if (existed) await rename(target, previous);
    try {
      await between?.();
      await rename(staging.dir, target);
    } catch (error) {
      if (existed)
        await rename(previous, target).catch((back: unknown) => {
          throw new PartialSwapError(
            `could not move the restored media to ${target} (${errorMessage(error)}) nor the previous media back (${errorMessage(back)}): the previous media is in ${previous}; move it back with mv`,
          );
        });
      throw error;
    }
    return {
      previous: existed ? previous : undefined,
      commit: async () => {
        if (existed) await removeTree(previous);
      },
      rollback: async () => {
        await rename(target, staging.dir);
        if (existed) await rename(previous, target);
      },
    };
  }
  await mkdir(previous, { mode: 0o700 });
  // Every name of the runner's inside the folder stays where it is (kept copies of earlier
  // restores, this run's staging holder file): only the application's own entries are swapped.
  // "The runner's" is what a backup leaves out of the archive, so nothing is swapped out that a
  // restore would not bring back.
  const ours = new Set([
    path.basename(staging.dir),
    path.basename(previous),
    ...(await readdir(target)).filter((n) => excludedFromArchive(Buffer.from(n))),
  ]);
  let restored: Buffer[] = [];
  const earlier = await moveEntries(target, previous, ours).catch(async (error: unknown) => {
    await rmdir(previous).catch(() => undefined);
    throw error;
  });
  try {
    await between?.();
    restored = await moveEntries(staging.dir, target);
  } catch (error) {
    const stuck = await moveBack(previous, target, earlier);
    if (stuck.length)
      throw new PartialSwapError(
        `${errorMessage(error)}; putting the previous media back failed too: ${stuck.slice(0, 5).map(quoteName).join(", ")} are still in ${previous}`,
      );
    await rmdir(previous).catch(() => undefined);
    throw error;
  }
  await rmdir(staging.dir);
  return {
    previous,
    commit: () => removeTree(previous),
    rollback: async () => {
      await mkdir(staging.dir, { mode: 0o700 });
      const stuck = await moveBack(target, staging.dir, restored);
      const notBack = await moveBack(previous, target, earlier);
      if (stuck.length || notBack.length)
        throw new PartialSwapError(
          `could not put the previous media back: ${[...stuck, ...notBack].slice(0, 5).map(quoteName).join(", ")} did not move (previous copy: ${previous}, restored copy: ${staging.dir})`,
        );
      await rmdir(previous);
    },
  };
}
