import { lstat, readdir, readlink } from "node:fs/promises";
import type { BigIntStats } from "node:fs";
import { EntryInspector } from "./inspector.js";
import { joinComponents } from "./entry-name.js";
import type { EntryType } from "./listing.js";

const SLASH = Buffer.from("/");
const LSTAT_BATCH = 64;

function typeOf(st: BigIntStats): EntryType {
  if (st.isFile()) return "-";
  if (st.isDirectory()) return "d";
  if (st.isSymbolicLink()) return "l";
  if (st.isFIFO()) return "p";
  if (st.isCharacterDevice()) return "c";
  if (st.isBlockDevice()) return "b";
  return "s";
}

/** One entry of a walk, as tar would archive it. */
export interface WalkedEntry {
  /** "-", "d", "l", "h" (a later name of a file already met), "p", "c", "b", "s". */
  type: EntryType;
  /** Below the walked folder, components joined by "/", as bytes; the root itself is not walked. */
  name: Buffer;
  /** The absolute path, as bytes. */
  path: Buffer;
  /** lstat with nanosecond times (mtime, ctime, inode: what change detection compares). */
  stats: BigIntStats;
  /** A symlink's target, or for "h" the first name of the same file (below the root). */
  linkTarget?: Buffer;
}

/**
 * Walks `dir` the way tar archives it, depth first, each folder's names in byte order (so the
 * store's index is the same for the same tree), a folder before its contents. Names are read as
 * bytes (a name that is not UTF-8 must not break a backup), and a file's second and later names
 * are hard links ("h"), as in tar's listing, so its bytes count once.
 */
export async function* walkTree(
  dir: string,
  options: {
    /** Top-level names tar is told to leave out (the runner's own copies), left out here too. */
    skipTopLevel?: (name: Buffer) => boolean;
  } = {},
): AsyncGenerator<WalkedEntry> {
  const skipTopLevel = options.skipTopLevel ?? (() => false);
  // Only files with several names can be met again; keyed by device and inode.
  const firstNames = new Map<string, Buffer>();
  async function* walk(abs: Buffer, parts: Buffer[]): AsyncGenerator<WalkedEntry> {
    const all = (await readdir(abs, { encoding: "buffer" })).sort(Buffer.compare);
    const names = parts.length ? all : all.filter((n) => !skipTopLevel(n));
    // lstat in batches: one at a time leaves the thread pool idle (50,000 files took 6 s
    // instead of 2); the entries are still handed over in order.
    for (let at = 0; at < names.length; at += LSTAT_BATCH) {
      const batch = names.slice(at, at + LSTAT_BATCH).map((child) => Buffer.concat([abs, SLASH, child]));
      const stats = await Promise.all(batch.map((p) => lstat(p, { bigint: true })));
      for (const [i, st] of stats.entries()) {
        const path = batch[i]!;
        const childParts = [...parts, names[at + i]!];
        const name = joinComponents(childParts);
        if (!st.isDirectory() && st.nlink > 1n) {
          const inode = `${st.dev}:${st.ino}`;
          const first = firstNames.get(inode);
          if (first) {
            yield { type: "h", name, path, stats: st, linkTarget: first };
            continue;
          }
          firstNames.set(inode, name);
        }
        const type = typeOf(st);
        const linkTarget = type === "l" ? await readlink(path, { encoding: "buffer" }) : undefined;
        yield { type, name, path, stats: st, linkTarget };
        if (type === "d") yield* walk(path, childParts);
      }
    }
  }
  yield* walk(Buffer.from(dir), []);
}

/**
 * Walks `dir` (walkTree) and hands every entry to one EntryInspector: the backup's preflight
 * (entries a restore would refuse; the media stream's size estimate) and the drill's check of
 * what a restore wrote.
 */
export async function inspectDirectory(
  dir: string,
  options: {
    skipTopLevel?: (name: Buffer) => boolean;
    /** Each regular file's name below `dir`, as bytes. */
    onFile?: (name: Buffer) => void;
  } = {},
): Promise<EntryInspector> {
  const inspector = new EntryInspector({ onFile: options.onFile });
  for await (const entry of walkTree(dir, options))
    inspector.add({
      type: entry.type,
      size: entry.type === "-" ? Number(entry.stats.size) : 0,
      name: entry.name,
      linkTarget: entry.linkTarget,
    });
  return inspector;
}

/** Files and bytes below `dir`, counted as tar's listing counts them (hard links once). */
export async function directoryTally(dir: string): Promise<{ files: number; sourceBytes: number }> {
  const { files, sourceBytes } = (await inspectDirectory(dir)).tally;
  return { files, sourceBytes };
}
