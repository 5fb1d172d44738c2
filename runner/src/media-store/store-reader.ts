/**
 * Reading a store-format set's media: the index streamed (hashed against the manifest while it
 * is read, then decrypted and decompressed), and the content objects it names. Restore writes
 * every entry into an empty staging folder, objects `transfers` at a time, each checked against
 * its sha256 and size before the restore can succeed; the caller swaps the folder in only then.
 * Verify checks every referenced object against one listing of the store (and with `full`,
 * rehashes each).
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { chmod, lchown, link, lutimes, mkdir, rename, symlink } from "node:fs/promises";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { pipeline, type Readable } from "node:stream";
import { pipeline as pipelineAsync } from "node:stream/promises";
import { finished } from "node:stream/promises";
import { EntryInspector, type ArchiveTally } from "../archive/inspector.js";
import { components, joinComponents, quoteName } from "../archive/entry-name.js";
import { STORE_OBJECT_KEY_RE } from "../contract.js";
import { RunnerError, errorMessage } from "../errors.js";
import type { MediaEntry } from "../catalog/manifest.js";
import { ChecksumError, checksumProblem } from "../readback/verified-feed.js";
import { composeSources } from "../stages/child-filter.js";
import type { ChildSource } from "../stages/child-source.js";
import { DigestMeter } from "../stages/digest-meter.js";
import { zstdDecompressStream } from "../stages/zstd.js";
import { NotFoundError, type ObjectStore } from "../store/object-store.js";
import { parseEntryLine, parseHeader, typeLetter, type IndexEntry } from "./media-index.js";
import { ObjectCatalog } from "./object-catalog.js";
import { LinePrefilter } from "./line-prefilter.js";
import { makePlacer, PlacerWorkers, type PlaceFailure, type PlaceJob } from "./placer-workers.js";
import type { PathSelection } from "./path-selection.js";
import { checkChunks, readSegmentedIndex } from "./segment-reader.js";

export interface StoreReadContext {
  store: ObjectStore;
  /** `<tier>/<backupId>` */
  setPrefix: string;
  backupId: string;
  decrypt?: (input: Readable) => ChildSource;
  onMeter?: (meter: DigestMeter) => void;
  signal?: AbortSignal;
  /** Objects downloaded at once (default 8). */
  transfers?: number;
}

const DEFAULT_TRANSFERS = 8;
/**
 * Plain objects up to this size on a folder store are placed by the placer workers: read whole,
 * checked, then written through one descriptor. At 100 KiB a file the streamed path cost ~11
 * thread-pool hops and four stream objects a file, 5x tar's restore (BENCHMARKS.md).
 */
const SMALL_OBJECT = 1024 * 1024;
/**
 * Placer workers at most (fewer when `transfers` is smaller): each reads, hashes, creates and
 * writes one file at a time, so this many objects are read at once (BENCHMARKS.md, full restore).
 */
const PLACERS = 4;
/**
 * Below this many files in the set (and for any --path restore) the placer runs on the main
 * thread: starting the workers and waking them for each batch cost more than they save at 5,000
 * files under load (BENCHMARKS.md, full restore by placer workers).
 */
const PLACERS_FROM = 10_000;

/** PLACERS_FROM; EDMS_PLACERS_FROM lowers it for the tests only (outside the env contract, like EDMS_GC_LEASE_MS). */
function placersFrom(): number {
  const override = Number(process.env.EDMS_PLACERS_FROM);
  return Number.isInteger(override) && override > 0 ? override : PLACERS_FROM;
}
/** How many problems verify names before it counts the rest. */
const NAMED = 5;

/** Splits a byte stream into lines (the index is ASCII JSON, one entry a line). */
async function* linesOf(stream: Readable): AsyncGenerator<string> {
  let rest = "";
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const text = rest + chunk.toString("latin1");
    const parts = text.split("\n");
    rest = parts.pop()!;
    yield* parts;
  }
  if (rest !== "") yield rest;
}

/**
 * The index's entries, in order. The stored bytes are hashed as they are read; after the last
 * entry the generator throws unless they match the manifest (size and sha256), so nothing read
 * from a tampered or truncated index is trusted by a caller that runs it to the end. With
 * `mayNeed`, entry lines it returns false for are hashed but not parsed (LinePrefilter).
 */
export async function* readIndex(
  ctx: StoreReadContext,
  entry: MediaEntry,
  mayNeed?: (line: string) => boolean,
): AsyncGenerator<IndexEntry> {
  if (entry.layout === "segments") return yield* readSegmentedIndex(ctx, entry, mayNeed);
  const where = `${ctx.setPrefix}/${entry.key}`;
  const meter = new DigestMeter();
  ctx.onMeter?.(meter);
  pipeline(await ctx.store.get(where), meter, () => undefined);
  const decrypted = ctx.decrypt?.(meter);
  const plain = zstdDecompressStream(decrypted ? decrypted.stream : meter);
  const decoded = decrypted ? composeSources(decrypted, plain) : plain;
  let lineNo = 0;
  try {
    for await (const line of linesOf(decoded.stream)) {
      lineNo += 1;
      if (lineNo === 1) {
        const header = parseHeader(line, where);
        if (header.backupId !== ctx.backupId)
          throw new RunnerError(`${where}: the index belongs to backup ${header.backupId}, not ${ctx.backupId}`);
        continue;
      }
      if (mayNeed && !mayNeed(line)) continue;
      yield parseEntryLine(line, where, lineNo);
    }
    if (lineNo === 0) throw new RunnerError(`${where}: the index is empty`);
  } catch (error) {
    decoded.stop();
    // A checksum mismatch explains a decoding failure better than the decoder's own message.
    await finished(meter).catch(() => undefined);
    const problem = meter.finished ? checksumProblem(where, entry, meter.bytes, meter.sha256) : undefined;
    if (problem) throw new ChecksumError(problem);
    throw error;
  }
  await finished(meter).catch(() => undefined);
  const problem = meter.finished
    ? checksumProblem(where, entry, meter.bytes, meter.sha256)
    : `${where}: the download ended before the whole index was read`;
  if (problem) throw new ChecksumError(problem);
}

/** The checks every reader makes of an entry before it acts on it (restore, verify). */
class EntryJudge {
  readonly inspector = new EntryInspector();
  private readonly dirs = new Set<string>([""]);
  private first = true;

  constructor(private readonly where: string) {}

  judge(e: IndexEntry): Buffer[] {
    const root = this.first && e.name.length === 0;
    this.first = false;
    const parts = components(e.name);
    const shown = quoteName(e.name);
    if (root) {
      if (e.type !== "dir") throw new RunnerError(`${this.where}: the root entry is not a folder`);
      return parts;
    }
    // The canonical form only ("a/b"): no "./", "//", trailing "/" or empty name.
    if (parts.length === 0 || !joinComponents(parts).equals(e.name))
      throw new RunnerError(`refusing the media index ${this.where}: entry ${shown} is not a plain relative name`);
    this.inspector.add({ type: typeLetter(e.type), size: e.size ?? 0, name: e.name, linkTarget: e.target });
    const unsafe = this.inspector.unsafeSummary();
    if (unsafe) throw new RunnerError(`refusing the media index ${this.where}: unsafe entries: ${unsafe}`);
    const parent = joinComponents(parts.slice(0, -1)).toString("latin1");
    if (!this.dirs.has(parent))
      throw new RunnerError(
        `refusing the media index ${this.where}: ${shown} comes before its folder or is not inside one`,
      );
    if (e.type === "dir") this.dirs.add(e.name.toString("latin1"));
    if (e.type === "file" && !STORE_OBJECT_KEY_RE.test(e.object ?? ""))
      throw new RunnerError(
        `refusing the media index ${this.where}: ${shown} names the object ${e.object ?? "?"}, which is not a content object`,
      );
    return parts;
  }
}

/** Runs tasks `limit` at a time; the first failure stops new ones and is what `drain` throws. */
class Pool {
  private readonly running = new Set<Promise<void>>();
  private failure: unknown;
  constructor(private readonly limit: number) {}

  async add(task: () => Promise<void>): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    while (this.running.size >= this.limit) await Promise.race(this.running);
    if (this.failure !== undefined) throw this.failure;
    const p: Promise<void> = task()
      .catch((error: unknown) => {
        this.failure ??= error;
      })
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  async drain(): Promise<void> {
    await Promise.all(this.running);
    if (this.failure !== undefined) throw this.failure;
  }

  /** Waits for the running tasks however they end (a task's failure is kept for `drain`, never thrown here). */
  async settled(): Promise<void> {
    await Promise.all(this.running);
  }
}

/** Reads one content object (decrypted), checks it against the entry and hands it to `sink`. */
async function fetchObject(
  ctx: StoreReadContext,
  e: IndexEntry,
  sink: (plain: Readable) => Promise<void>,
): Promise<void> {
  const where = `${e.object} (${quoteName(e.name)})`;
  const stored = new DigestMeter();
  pipeline(await ctx.store.get(e.object!), stored, () => undefined);
  const decrypted = ctx.decrypt?.(stored);
  const content = new DigestMeter();
  pipeline(decrypted ? decrypted.stream : stored, content, () => undefined);
  let sinkError: unknown;
  await sink(content).catch((error: unknown) => (sinkError = error));
  await Promise.all([finished(content).catch(() => undefined), finished(stored).catch(() => undefined)]);
  if (stored.finished && stored.bytes !== e.objectBytes)
    throw new ChecksumError(
      `${where}: ${stored.bytes} bytes stored, the index says ${e.objectBytes} (truncated or replaced)`,
    );
  const problem = content.finished
    ? checksumProblem(where, { key: e.object!, bytes: e.size!, sha256: e.sha256! }, content.bytes, content.sha256)
    : undefined;
  if (problem) throw new ChecksumError(problem.replace("the manifest", "the index"));
  if (sinkError !== undefined) throw sinkError;
  if (!content.finished) throw new RunnerError(`${where}: the download ended before the whole object was read`);
}

/** Owner (as root), mode (not of a symlink) and mtime of a written entry, by its path. */
async function finishEntry(path: Buffer, e: IndexEntry, asRoot: boolean): Promise<void> {
  if (asRoot) await lchown(path, e.uid, e.gid);
  if (e.type !== "symlink") await chmod(path, e.mode);
  await lutimes(path, ...times(e));
}

/**
 * How a file entry's content gets to its path: a small plain object on a folder store read whole,
 * checked, then written through one descriptor (makePlacer), by the placer workers when `workers`
 * (a full restore of a large set) else on the main thread; anything else streamed, `transfers` at
 * a time.
 */
function placer(
  ctx: StoreReadContext,
  pool: Pool,
  asRoot: boolean,
  useWorkers: boolean,
): { place: (e: IndexEntry, path: Buffer) => Promise<void>; workers?: PlacerWorkers<IndexEntry> } {
  const objectFile = ctx.decrypt ? undefined : ctx.store.objectFile?.bind(ctx.store);
  const workers =
    objectFile && useWorkers
      ? new PlacerWorkers(Math.min(ctx.transfers ?? DEFAULT_TRANSFERS, PLACERS), SMALL_OBJECT, smallFailure)
      : undefined;
  const here = objectFile && !workers ? makePlacer(fs, createHash, SMALL_OBJECT) : undefined;
  const place = async (e: IndexEntry, path: Buffer): Promise<void> => {
    if (objectFile && e.objectBytes! <= SMALL_OBJECT) {
      const job: PlaceJob = {
        object: objectFile(e.object!),
        path: path.toString("latin1"),
        objectBytes: e.objectBytes!,
        size: e.size!,
        sha256: e.sha256!,
        mode: e.mode,
        uid: e.uid,
        gid: e.gid,
        seconds: times(e)[0],
        chown: asRoot,
      };
      if (workers) return workers.add(job, e);
      const failure = here!(job);
      if (failure) throw smallFailure(e, failure);
      return;
    }
    return pool.add(async () => {
      await fetchObject(ctx, e, (plain) =>
        pipelineAsync(plain, fs.createWriteStream(path, { flags: "wx", mode: 0o600 })),
      );
      await finishEntry(path, e, asRoot);
    });
  };
  return { place, workers };
}

/** What a placer worker's failure means, in the words the streamed path uses. */
function smallFailure(e: IndexEntry, failure: PlaceFailure): Error {
  const where = `${e.object} (${quoteName(e.name)})`;
  if (failure.kind === "missing") return new NotFoundError(e.object!);
  if (failure.kind === "stored")
    return new ChecksumError(
      `${where}: ${failure.bytes} bytes stored, the index says ${e.objectBytes} (truncated or replaced)`,
    );
  if (failure.kind === "content") {
    const expected = { key: e.object!, bytes: e.size!, sha256: e.sha256! };
    const problem =
      checksumProblem(where, expected, failure.bytes, failure.sha256) ?? `${where}: does not match the index`;
    return new ChecksumError(problem.replace("the manifest", "the index"));
  }
  return Object.assign(new Error(failure.message), { code: failure.code });
}

const execFileAsync = promisify(execFile);
const SLASH = Buffer.from("/");

/** An entry's atime and mtime for lutimes, which takes seconds: whole ones exact, the fraction as close as a double allows. */
function times(e: IndexEntry): readonly [number, number] {
  const seconds = Number(e.mtimeNs / 1_000_000_000n) + Number(e.mtimeNs % 1_000_000_000n) / 1e9;
  return [seconds, seconds];
}

/** What a restore wrote: the whole set's tally, or with a selection what it selected. */
export interface StoreRestoreTally extends ArchiveTally {
  /** Set with a selection: regular files written (every hard-link name counts) and their bytes. */
  selected?: { files: number; bytes: number };
}

/**
 * Writes the set's media into the empty folder `dir` (a staging folder; the caller removes it
 * on failure and swaps it in on success). Modes, mtimes, links and hard links as the index
 * records them; owners too when running as root (as tar does). Returns the tally, checked
 * against the manifest.
 *
 * With `selection` only the entries it selects are written, and the folders above them (with
 * their modes and mtimes). Only the lines that may be those entries are parsed and judged
 * (LinePrefilter: a path's lines, its folders' and the root's); the rest are hashed with the
 * whole index against the manifest, so a damaged index still fails the run, but an entry the
 * selection cannot write is not parsed, and the set's tally is not counted (the result carries
 * the manifest's): a full restore, verify and the drill judge and count every entry. A selected
 * hard link whose first name is not selected gets its content from a second read of the index
 * (only then): remembering every unselected file's object on the way would make memory grow with
 * the set. A path that selected nothing is refused (exit 2).
 */
export async function restoreStoreMedia(
  ctx: StoreReadContext,
  entry: MediaEntry,
  dir: string,
  selection?: PathSelection,
): Promise<StoreRestoreTally> {
  const where = `${ctx.setPrefix}/${entry.key}`;
  const judge = new EntryJudge(where);
  const root = Buffer.from(dir);
  const pathOf = (parts: Buffer[]) => (parts.length ? Buffer.concat([root, SLASH, joinComponents(parts)]) : root);
  const asRoot = process.getuid?.() === 0;
  const folders: Array<{ path: Buffer; depth: number; e: IndexEntry }> = [];
  const hardLinks: Array<{ path: Buffer; first: Buffer }> = [];
  // Selected hard links whose first name is not selected: first name (latin1) -> their paths.
  const orphanLinks = new Map<string, Buffer[]>();
  const selected = { files: 0, bytes: 0 };
  const pool = new Pool(ctx.transfers ?? DEFAULT_TRANSFERS);
  const finish = (path: Buffer, e: IndexEntry) => finishEntry(path, e, asRoot);
  const { place, workers } = placer(ctx, pool, asRoot, !selection && entry.files >= placersFrom());
  const drain = async () => {
    await pool.drain();
    await workers?.drain();
  };
  const prefilter = selection && new LinePrefilter(selection.paths);
  // On every way out the workers are stopped (a live worker would keep the process running) and
  // the streamed files have ended: a failure seen first by a worker or by the index must not leave
  // streams writing into the folder the caller then removes.
  try {
    for await (const e of readIndex(ctx, entry, prefilter && ((line) => prefilter.mayNeed(line)))) {
      if (ctx.signal?.aborted) throw ctx.signal.reason;
      const parts = judge.judge(e);
      const path = pathOf(parts);
      const wanted = !selection || parts.length === 0 || selection.selects(e.name);
      if (!wanted && !(e.type === "dir" && selection.above(e.name))) continue;
      if (selection && wanted && (e.type === "file" || e.type === "hardlink")) {
        selected.files += 1;
        selected.bytes += e.size ?? 0;
      }
      if (e.type === "dir") {
        if (parts.length) await mkdir(path, { mode: 0o700 });
        folders.push({ path, depth: parts.length, e });
      } else if (e.type === "symlink") {
        await symlink(e.target!, path);
        if (asRoot) await lchown(path, e.uid, e.gid);
        await lutimes(path, ...times(e));
      } else if (e.type === "hardlink") {
        if (!selection || selection.selects(e.target!)) hardLinks.push({ path, first: pathOf(components(e.target!)) });
        else {
          const key = e.target!.toString("latin1");
          orphanLinks.set(key, [...(orphanLinks.get(key) ?? []), path]);
        }
      } else if (e.type === "fifo") {
        // mkfifo(1) takes its name as text; made under an ASCII name in the staging folder and
        // renamed, a FIFO's name can be any bytes.
        const made = `${dir}/.edms-fifo-${folders.length}-${hardLinks.length}-${Date.now()}`;
        await execFileAsync("mkfifo", ["--", made]).catch(() => {
          throw new RunnerError(`could not create the FIFO ${quoteName(e.name)}`);
        });
        await rename(made, path);
        await finish(path, e);
      } else await place(e, path);
    }
    const unmatched = selection?.unmatched() ?? [];
    if (unmatched.length) {
      await drain().catch(() => undefined);
      throw new RunnerError(
        `--path ${unmatched.join(", ")}: nothing in backup ${ctx.backupId} has this name or lies below it; names are bytes and case-sensitive: list them with edms-backup files ${ctx.backupId} (--path FOLDER to narrow it)`,
        2,
      );
    }
    if (orphanLinks.size)
      for (const e of await placeOrphanLinks(ctx, entry, orphanLinks, place, hardLinks)) selected.bytes += e.size ?? 0;
    await drain();
  } finally {
    await Promise.all([pool.settled(), workers?.close()]);
  }
  // A hard link's first name is written by now; link(2) changes neither its mode nor its mtime.
  for (const h of hardLinks) await link(h.first, h.path);
  // Folders last, deepest first: writing into a folder changes its mtime, and a read-only one
  // could not be written into.
  for (const f of folders.sort((a, b) => b.depth - a.depth)) await finish(f.path, f.e);
  if (selection) return { files: entry.files, sourceBytes: entry.sourceBytes, selected };
  const { tally } = judge.inspector;
  if (tally.files !== entry.files || tally.sourceBytes !== entry.sourceBytes)
    throw new RunnerError(
      `restored media does not match the manifest: ${tally.files} files / ${tally.sourceBytes} bytes in the index, the manifest says ${entry.files} / ${entry.sourceBytes}`,
    );
  return tally;
}

/**
 * The second read of the index for selected hard links whose first name was not selected: the
 * first name of each such group is a file entry listed before its links; its content is written
 * at the first selected link's path, and the others are linked to it. Returns the entries placed.
 */
async function placeOrphanLinks(
  ctx: StoreReadContext,
  entry: MediaEntry,
  orphanLinks: Map<string, Buffer[]>,
  place: (e: IndexEntry, path: Buffer) => Promise<void>,
  hardLinks: Array<{ path: Buffer; first: Buffer }>,
): Promise<IndexEntry[]> {
  const placed: IndexEntry[] = [];
  for await (const e of readIndex(ctx, entry)) {
    const paths = e.type === "file" ? orphanLinks.get(e.name.toString("latin1")) : undefined;
    if (!paths) continue;
    orphanLinks.delete(e.name.toString("latin1"));
    const [first, ...rest] = paths as [Buffer, ...Buffer[]];
    placed.push(e);
    await place(e, first);
    for (const p of rest) hardLinks.push({ path: p, first });
  }
  if (orphanLinks.size)
    throw new RunnerError(`${ctx.setPrefix}/${entry.key}: a hard link names a first name the index does not list`);
  return placed;
}

/**
 * Checks a store-format set's media: the index against the manifest, its entries' safety and
 * tally, and every object it references against one listing of the store (present, with the
 * size the index records); with `full`, every object is read and its content's sha256 checked.
 */
export async function verifyStoreMedia(
  ctx: StoreReadContext,
  entry: MediaEntry,
  options: {
    full: boolean;
    /** Sees every entry once it was judged (the drill draws its sample and its file names here). */
    onEntry?: (e: IndexEntry) => void;
  },
): Promise<string[]> {
  const where = `${ctx.setPrefix}/${entry.key}`;
  const judge = new EntryJudge(where);
  const problems: string[] = [];
  let missing = 0;
  const note = (problem: string) => {
    missing += 1;
    if (problems.length < NAMED) problems.push(problem);
  };
  // Objects missing from the listing, named once each (the listed ones are marked in the catalog).
  const absent = new Set<string>();
  try {
    const known = await ObjectCatalog.fromListing(ctx.store);
    if (entry.layout === "segments") await checkChunks(ctx, entry, known, options.full, note);
    const pool = new Pool(ctx.transfers ?? DEFAULT_TRANSFERS);
    for await (const e of readIndex(ctx, entry)) {
      judge.judge(e);
      options.onEntry?.(e);
      if (e.type !== "file" || absent.has(e.object!)) continue;
      const bytes = known.bytesOf(e.object!);
      if (bytes !== undefined && !known.markUsed(e.object!)) continue;
      if (bytes === undefined) {
        absent.add(e.object!);
        note(`${e.object} (${quoteName(e.name)}): missing from the store`);
      } else if (bytes !== e.objectBytes)
        note(`${e.object} (${quoteName(e.name)}): ${bytes} bytes stored, the index says ${e.objectBytes}`);
      else if (options.full)
        await pool.add(() =>
          fetchObject(ctx, e, async (plain) => {
            for await (const _ of plain as AsyncIterable<Buffer>) void _;
          }).catch((error: unknown) => note(errorMessage(error))),
        );
    }
    await pool.drain();
  } catch (error) {
    return [...problems, errorMessage(error)];
  }
  if (missing > problems.length) problems.push(`(and ${missing - problems.length} more objects)`);
  const { tally } = judge.inspector;
  if (tally.files !== entry.files || tally.sourceBytes !== entry.sourceBytes)
    problems.push(
      `${where}: the index lists ${tally.files} files / ${tally.sourceBytes} bytes, the manifest says ${entry.files} / ${entry.sourceBytes}`,
    );
  return problems;
}
