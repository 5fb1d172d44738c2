import { readdir, readlink } from "node:fs/promises";
import { lstat as lstatCallback, type BigIntStats } from "node:fs";
import { EntryInspector } from "./inspector.js";
import { walkTreeInWorker } from "./worker-walk.js";
import type { EntryType } from "./listing.js";

const SLASH = Buffer.from("/");
const LSTAT_BATCH = 64;

/**
 * lstat with nanosecond times, through the callback API: the same thread-pool call as
 * fs/promises' lstat for ~30% less CPU on the walking thread (measured over 50,000 files; the
 * walk makes one a file, BENCHMARKS.md issue 22).
 */
function lstat(path: Buffer): Promise<BigIntStats> {
  return new Promise((resolve, reject) =>
    lstatCallback(path, { bigint: true }, (error, st) => (error ? reject(error) : resolve(st))),
  );
}

function typeOf(st: BigIntStats): EntryType {
  if (st.isFile()) return "-";
  if (st.isDirectory()) return "d";
  if (st.isSymbolicLink()) return "l";
  if (st.isFIFO()) return "p";
  if (st.isCharacterDevice()) return "c";
  if (st.isBlockDevice()) return "b";
  return "s";
}

/** The lstat fields (nanosecond times, as BigIntStats has them) the walk's consumers use. */
export interface WalkStats {
  readonly mode: bigint;
  readonly uid: bigint;
  readonly gid: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
  readonly ctimeNs: bigint;
  readonly ino: bigint;
  readonly nlink: bigint;
  readonly dev: bigint;
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
  stats: WalkStats;
  /** A symlink's target, or for "h" the first name of the same file (below the root). */
  linkTarget?: Buffer;
}

interface WalkOptions {
  /** Top-level names tar is told to leave out (the runner's own copies), left out here too. */
  skipTopLevel?: (name: Buffer) => boolean;
}

/**
 * Walks `dir` the way tar archives it, depth first, each folder's names in byte order (so the
 * store's index is the same for the same tree), a folder before its contents. Names are read as
 * bytes (a name that is not UTF-8 must not break a backup), and a file's second and later names
 * are hard links ("h"), as in tar's listing, so its bytes count once.
 */
export async function* walkTree(dir: string, options: WalkOptions = {}): AsyncGenerator<WalkedEntry> {
  for await (const batch of walkTreeBatches(dir, options)) yield* batch;
}

/**
 * walkTree's entries in the same order, in arrays (up to LSTAT_BATCH, cut after each folder, whose
 * contents follow in the next ones): for the store format's walk, which handles every entry of
 * every backup. Handing them over one at a time through the nested async generators cost more
 * CPU than the lstat calls themselves (50,000 files: ~1.1 s against ~0.3 s, BENCHMARKS.md issue 22).
 */
export async function* walkTreeBatches(dir: string, options: WalkOptions = {}): AsyncGenerator<WalkedEntry[]> {
  const skipTopLevel = options.skipTopLevel ?? (() => false);
  // Only files with several names can be met again; keyed by device and inode.
  const firstNames = new Map<string, Buffer>();
  /** Names in byte order. */
  async function listFolder(abs: Buffer, top: boolean): Promise<Buffer[]> {
    const keep = (n: Buffer) => !top || !skipTopLevel(n);
    return (await readdir(abs, { encoding: "buffer" })).filter(keep).sort(Buffer.compare);
  }
  /** `prefix`: the folder's name below the root ("" for the root), its children's names start with it. */
  async function* folder(abs: Buffer, prefix: Buffer): AsyncGenerator<WalkedEntry[]> {
    const names = await listFolder(abs, prefix.length === 0);
    // The name below the root, as joinComponents would make it (a copy, never readdir's buffer).
    const nameOf = (child: Buffer) => (prefix.length ? Buffer.concat([prefix, SLASH, child]) : Buffer.from(child));
    // lstat in batches: one at a time leaves the thread pool idle (50,000 files took 6 s
    // instead of 2); the entries are still handed over in order. The next batch is asked for
    // before this one is handed over, so the pool works while the caller handles these.
    const lstatBatch = (at: number) => {
      const batch = names.slice(at, at + LSTAT_BATCH);
      const paths = batch.map((child) => Buffer.concat([abs, SLASH, child]));
      const stats = Promise.all(paths.map(lstat));
      // Handled when its turn comes; a rejection meanwhile is not an unhandled one.
      stats.catch(() => undefined);
      return { batch, paths, stats };
    };
    let next = names.length ? lstatBatch(0) : undefined;
    for (let at = 0; next; at += LSTAT_BATCH) {
      const { batch, paths } = next;
      const stats = await next.stats;
      next = at + LSTAT_BATCH < names.length ? lstatBatch(at + LSTAT_BATCH) : undefined;
      let out: WalkedEntry[] = [];
      for (let i = 0; i < stats.length; i += 1) {
        const st = stats[i]!;
        const path = paths[i]!;
        const name = nameOf(batch[i]!);
        if (!st.isDirectory() && st.nlink > 1n) {
          const inode = `${st.dev}:${st.ino}`;
          const first = firstNames.get(inode);
          if (first) {
            out.push({ type: "h", name, path, stats: st, linkTarget: first });
            continue;
          }
          firstNames.set(inode, name);
        }
        const type = typeOf(st);
        const linkTarget = type === "l" ? await readlink(path, { encoding: "buffer" }) : undefined;
        out.push({ type, name, path, stats: st, linkTarget });
        if (type === "d") {
          yield out;
          out = [];
          yield* folder(path, name);
        }
      }
      if (out.length) yield out;
    }
  }
  yield* folder(Buffer.from(dir), Buffer.alloc(0));
}

/**
 * Walks `dir` (walkTree) and hands every entry to one EntryInspector: the backup's preflight
 * (entries a restore would refuse; the media stream's size estimate) and the drill's check of
 * what a restore wrote.
 */
export async function inspectDirectory(
  dir: string,
  options: WalkOptions & {
    /** Each regular file's name below `dir`, as bytes. */
    onFile?: (name: Buffer) => void;
    /** Walked by a worker thread (worker-walk.ts): the judging stays here, the calls go there. */
    inWorker?: boolean;
  } = {},
): Promise<EntryInspector> {
  const inspector = new EntryInspector({ onFile: options.onFile });
  const batches = options.inWorker ? walkTreeInWorker(dir, options) : walkTreeBatches(dir, options);
  for await (const batch of batches)
    for (const entry of batch)
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
