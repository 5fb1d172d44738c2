/**
 * Media restores are extracted into a staging folder and swapped in only when the archive's
 * checksum, tar's exit status, the entry safety checks and the manifest's file count all agree.
 *
 * The staging folder sits beside the target, so the swap is two renames. When the target is a
 * mount point (a Kubernetes volume mounted at MEDIA_DIR) it cannot be renamed, so staging goes
 * inside it (hidden) and the swap moves the entries instead, on the same filesystem.
 */
import { lstat, mkdir, readdir, rename, rm, rmdir, stat, access } from "node:fs/promises";
import { constants } from "node:fs";
import path from "node:path";

export type StagingLayout = "beside" | "inside";

export interface MediaStaging {
  layout: StagingLayout;
  dir: string;
  /** Removes the staging folder (after a failure). */
  discard(): Promise<void>;
}

export interface MediaSwap {
  commit(): Promise<void>;
  rollback(): Promise<void>;
}

async function isMountPoint(dir: string): Promise<boolean> {
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

export async function prepareMediaStaging(target: string, tag: string, layout?: StagingLayout): Promise<MediaStaging> {
  const exists = await lstat(target).then(
    (s) => s.isDirectory(),
    () => false,
  );
  const parent = path.dirname(target);
  layout ??= await chooseLayout(target);
  if (layout === "inside" && !exists) await mkdir(target, { recursive: true });
  if (!exists) await mkdir(parent, { recursive: true });
  const dir =
    layout === "beside"
      ? path.join(parent, `.${path.basename(target)}.edms-restore-${tag}`)
      : path.join(target, `.edms-restore-${tag}`);
  await mkdir(dir, { recursive: false, mode: 0o700 });
  return { layout, dir, discard: () => rm(dir, { recursive: true, force: true }) };
}

async function moveEntries(from: string, to: string, skip: ReadonlySet<string>): Promise<string[]> {
  const moved: string[] = [];
  for (const name of await readdir(from)) {
    if (skip.has(name)) continue;
    await rename(path.join(from, name), path.join(to, name));
    moved.push(name);
  }
  return moved;
}

export async function swapInMedia(staging: MediaStaging, target: string, tag: string): Promise<MediaSwap> {
  if (staging.layout === "beside") {
    const old = path.join(path.dirname(target), `.${path.basename(target)}.edms-old-${tag}`);
    const existed = await lstat(target).then(
      () => true,
      () => false,
    );
    if (existed) await rename(target, old);
    try {
      await rename(staging.dir, target);
    } catch (error) {
      if (existed) await rename(old, target);
      throw error;
    }
    return {
      commit: async () => {
        if (existed) await rm(old, { recursive: true, force: true });
      },
      rollback: async () => {
        await rename(target, staging.dir);
        if (existed) await rename(old, target);
        await staging.discard();
      },
    };
  }
  const old = path.join(target, `.edms-old-${tag}`);
  await mkdir(old, { mode: 0o700 });
  const ours = new Set([path.basename(staging.dir), path.basename(old)]);
  const previous = await moveEntries(target, old, ours);
  const restored = await moveEntries(staging.dir, target, new Set());
  await rmdir(staging.dir);
  return {
    commit: () => rm(old, { recursive: true, force: true }),
    rollback: async () => {
      for (const name of restored) await rm(path.join(target, name), { recursive: true, force: true });
      for (const name of previous) await rename(path.join(old, name), path.join(target, name));
      await rmdir(old);
    },
  };
}
