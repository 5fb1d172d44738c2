/**
 * Whether a media restore fits on the volume before anything is staged. The staging copy is
 * written next to (or inside) the live folder on the same filesystem, so it needs free space of
 * its own; the swap is renames, so the previous folder costs nothing extra during the restore,
 * but when it is kept it stays allocated until `cleanup`, so the verdict says so.
 */
import { statfs } from "node:fs/promises";
import { formatBytes } from "../format.js";

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
  const fits = stagingBytes <= n.available;
  const kept = n.keptBytes
    ? `; the folder it replaces (${formatBytes(n.keptBytes)}) stays on the volume as the kept previous copy until \`edms-backup cleanup\``
    : "";
  const message = fits
    ? `the staging copy needs up to ${formatBytes(stagingBytes)}, ${formatBytes(n.available)} are free${kept}`
    : `not enough space for the staging copy: it needs up to ${formatBytes(stagingBytes)} (${n.files} files, ${formatBytes(n.sourceBytes)}), only ${formatBytes(n.available)} are free${kept}; free space on the volume (or run \`edms-backup cleanup\` for kept copies of earlier restores), or restore elsewhere with --media-dir`;
  return { fits, stagingBytes, message };
}

/** statfs of the folder the staging copy goes into. */
export async function freeSpace(dir: string): Promise<{ available: number; blockSize: number }> {
  const s = await statfs(dir);
  return { available: Number(s.bavail) * Number(s.bsize), blockSize: Number(s.bsize) };
}
