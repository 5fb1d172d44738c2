/**
 * A folder as a backup store (file:// destinations): the embedded default for trying the runner
 * out, development and the demo. Objects are written to a hidden partial file and linked into
 * place only when complete, so a crash never leaves a short file under the final name, and
 * link(2) fails when the name exists, so nothing is ever overwritten.
 */
import { close, createReadStream, fsync, lstatSync, open, statSync, write, type Stats } from "node:fs";
import { link, mkdir, readdir, rm, rmdir, stat, unlink } from "node:fs/promises";
import { promisify } from "node:util";
import { randomBytes } from "node:crypto";
import path from "node:path";
import type { Readable } from "node:stream";
import { AlreadyExistsError, NotFoundError, type ObjectStore, type StoredObject } from "./object-store.js";

export const PARTIAL_MARKER = ".partial-";

/**
 * Whether `key` is a write this store never finished: a hidden partial file (commit's), left only
 * by a process killed mid-write (SIGKILL, a node lost); gc removes old ones.
 */
export function isPartialKey(key: string): boolean {
  const name = key.slice(key.lastIndexOf("/") + 1);
  return name.startsWith(".") && name.includes(PARTIAL_MARKER);
}
/** A key path.resolve would change: an empty, "." or ".." segment (a leading or doubled "/" too), or a NUL. */
const UNNORMAL_KEY = /(^|\/)\.{0,2}(\/|$)|\0/;
/** Files stat'ed between two turns of the event loop while listing. */
const LIST_STAT_BATCH = 256;

/** lstat(2) of a file, or undefined when there is none (also when a folder on its path is a file). */
function fileIfThere(file: string): Stats | undefined {
  try {
    return lstatSync(file, { throwIfNoEntry: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
    throw error;
  }
}

/** A listed file; its Date made only when asked for (a store-format backup lists 50,000 objects twice and asks none). */
class ListedFile implements StoredObject {
  constructor(
    readonly key: string,
    readonly bytes: number,
    private readonly mtimeMs: number,
  ) {}

  get lastModified(): Date {
    return new Date(Math.round(this.mtimeMs)); // as fs.Stats makes mtime
  }
}

/** One turn of the event loop: a long listing lets the run's other streams move between batches. */
const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A set holds a database dump (plaintext unless ENCRYPTION_RECIPIENTS is set): objects are the
 * writer's alone, as S3 objects are the bucket's. Folders the store creates are 0700, objects
 * 0600, whatever the umask; a folder the operator made (the destination itself) is left alone.
 */
export const OBJECT_MODE = 0o600;
export const FOLDER_MODE = 0o700;

/**
 * Objects are written through bare descriptors (the callback API), not FileHandles: making a
 * FileHandle cost ~25 µs of main-thread CPU, and a store-format backup writes one object a new
 * file (issue 22); the calls are the same.
 */
const fd = { open: promisify(open), write: promisify(write), sync: promisify(fsync), close: promisify(close) };

/** Writes all of `bytes` at the descriptor's position, resuming short writes. */
async function writeAll(descriptor: number, bytes: Buffer): Promise<void> {
  for (let at = 0; at < bytes.length;) at += (await fd.write(descriptor, bytes, at, bytes.length - at)).bytesWritten;
}

/**
 * Writes the stream through an open descriptor (the one the object is then synced with); a body
 * that errors rejects. (pipeline into a write stream with autoClose off never settles: it waits
 * for a close that never comes.)
 */
async function writeEvery(descriptor: number, body: Readable): Promise<void> {
  for await (const chunk of body as AsyncIterable<Buffer | string>)
    await writeAll(descriptor, typeof chunk === "string" ? Buffer.from(chunk) : chunk);
}

export class FileStore implements ObjectStore {
  readonly display: string;

  constructor(private readonly root: string) {
    this.display = `file://${root}`;
  }

  private pathOf(key: string): string {
    const resolved = path.resolve(this.root, key);
    if (!resolved.startsWith(this.root + path.sep)) throw new Error(`key ${key} escapes the destination folder`);
    return resolved;
  }

  async putStream(key: string, body: Readable): Promise<void> {
    await this.commit(key, (descriptor) => writeEvery(descriptor, body));
  }

  async putSmall(key: string, body: string | Buffer): Promise<void> {
    await this.commit(key, (descriptor) => writeAll(descriptor, typeof body === "string" ? Buffer.from(body) : body));
  }

  /** Folders this store made or found, so a run of many objects asks mkdir once a folder. */
  private readonly folders = new Set<string>();

  /** The partial file for `final`, created (exclusively) in its folder, made first if needed. */
  private async openPartial(final: string): Promise<{ partial: string; descriptor: number }> {
    const dir = path.dirname(final);
    const partial = `${dir}/.${path.basename(final)}${PARTIAL_MARKER}${randomBytes(4).toString("hex")}`;
    if (!this.folders.has(dir)) {
      await mkdir(dir, { recursive: true, mode: FOLDER_MODE });
      this.folders.add(dir);
    }
    try {
      return { partial, descriptor: await fd.open(partial, "wx", OBJECT_MODE) };
    } catch (error) {
      // Removed since (a prune emptied it): made again.
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
      await mkdir(dir, { recursive: true, mode: FOLDER_MODE });
      return { partial, descriptor: await fd.open(partial, "wx", OBJECT_MODE) };
    }
  }

  private async commit(key: string, writeTo: (descriptor: number) => Promise<void>): Promise<void> {
    try {
      await this.writeAndLink(key, writeTo);
    } catch (error) {
      throw this.writeProblem(error, key);
    }
  }

  /**
   * What a failed write means for the operator, for the errors a folder gives (the S3 store's
   * describeS3Error does the same), with the error kept as its cause; any other error as it is.
   */
  private writeProblem(error: unknown, key: string): unknown {
    const code = (error as NodeJS.ErrnoException | undefined)?.code;
    const uid = process.getuid?.() ?? "?";
    const hint =
      code === "EACCES" || code === "EPERM"
        ? `give this user (uid ${uid}) write access to ${this.root} and every folder in it, then run again`
        : code === "EROFS"
          ? `${this.root} is on a read-only filesystem: mount it read-write, or choose another BACKUP_DESTINATION`
          : code === "ENOSPC" || code === "EDQUOT"
            ? `the filesystem of ${this.root} is full: free space (prune, gc) or grow it, then run again`
            : undefined;
    if (!hint) return error;
    return new Error(`writing ${key} into the folder ${this.root} failed: ${(error as Error).message}; ${hint}`, {
      cause: error,
    });
  }

  private async writeAndLink(key: string, writeTo: (descriptor: number) => Promise<void>): Promise<void> {
    const final = this.pathOf(key);
    const { partial, descriptor } = await this.openPartial(final);
    let unclosed: number | undefined = descriptor;
    try {
      await writeTo(descriptor);
      // Durable before it becomes visible: a manifest must never point at data still in a cache.
      // One descriptor for the write and the sync (not a second open): 2 fewer calls an object.
      await fd.sync(descriptor);
      unclosed = undefined;
      await fd.close(descriptor);
      await link(partial, final).catch((error: NodeJS.ErrnoException) => {
        throw error.code === "EEXIST" ? new AlreadyExistsError(key) : error;
      });
    } finally {
      if (unclosed !== undefined) await fd.close(unclosed).catch(() => undefined);
      await unlink(partial).catch(() => undefined);
    }
  }

  async get(key: string): Promise<Readable> {
    const file = this.pathOf(key);
    const found = await stat(file).catch(() => undefined);
    if (!found?.isFile()) throw new NotFoundError(key);
    // 256 KiB reads instead of Node's 64 KiB: a quarter of the reads, hash updates and writes into
    // the consumer's stdin for the same bytes (the restore's event loop: -22% busy, BENCHMARKS.md).
    return createReadStream(file, { highWaterMark: 256 * 1024 });
  }

  /**
   * pathOf without path.resolve (~1 µs a key) for a key that cannot escape nor be normalized into
   * another (no empty, "." or ".." segment, no NUL): the root and the key, as resolve would give.
   */
  private fileOf(key: string): string {
    return UNNORMAL_KEY.test(key) ? this.pathOf(key) : `${this.root}/${key}`;
  }

  async allStored(objects: Iterable<[key: string, bytes: number]>): Promise<boolean> {
    let asked = 0;
    const folders = new Map<string, boolean>();
    for (const [key, bytes] of objects) {
      const file = this.fileOf(key);
      const info = fileIfThere(file);
      // A listing lists regular files only: anything else is no object here either.
      if (!info?.isFile() || info.size !== bytes) return false;
      if (!this.walkedFolder(file.slice(0, file.lastIndexOf("/")), folders)) return false;
      if ((asked += 1) % LIST_STAT_BATCH === 0) await nextTurn();
    }
    return true;
  }

  /**
   * Whether a listing walks into `dir`: it and every folder between it and the root are folders,
   * not symlinks to one (the listing goes by readdir's types). An object under a linked folder is
   * not listed, so verify and gc never see it: allStored must not count it either. Each folder is
   * looked at once (`seen`).
   */
  private walkedFolder(dir: string, seen: Map<string, boolean>): boolean {
    if (dir.length <= this.root.length) return true;
    let walked = seen.get(dir);
    if (walked === undefined) {
      const parent = dir.slice(0, dir.lastIndexOf("/"));
      walked = this.walkedFolder(parent, seen) && fileIfThere(dir)?.isDirectory() === true;
      seen.set(dir, walked);
    }
    return walked;
  }

  objectFile(key: string): string {
    return this.pathOf(key);
  }

  async head(key: string): Promise<{ bytes: number } | undefined> {
    const found = await stat(this.pathOf(key)).catch(() => undefined);
    return found?.isFile() ? { bytes: found.size } : undefined;
  }

  /**
   * Streamed in key order, never held whole (a store of a million content objects is listed by
   * every store-format backup): each folder's entries are sorted with a folder named as its keys
   * begin ("name/"), so a depth-first walk yields keys in the same order as sorting them all.
   * Sizes come from stat(2) called synchronously, LIST_STAT_BATCH between two turns of the event
   * loop: a store-format backup lists the store twice, and through the thread pool a stat cost
   * ~3x the CPU (50,000 objects: 150-200 ms instead of 450-600 ms, BENCHMARKS.md issue 22). A file
   * removed between readdir and stat (a partial file linked into place, a prune) is not listed.
   */
  async *listBatches(prefix: string): AsyncIterable<StoredObject[]> {
    // Walk only below the prefix's folder ("daily/20260111T144748Z-3f9a/" -> that set's folder).
    const folder = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : "";
    for await (const batch of this.walk(folder ? this.pathOf(folder) : this.root, folder ? `${folder}/` : "")) {
      // Keys below the prefix's folder may not start with the prefix ("daily/2025..." for prefix
      // "daily/2026"); a batch is in key order, so when its first and last do, all do.
      const kept =
        batch[0]!.key.startsWith(prefix) && batch.at(-1)!.key.startsWith(prefix)
          ? batch
          : batch.filter((o) => o.key.startsWith(prefix));
      if (kept.length > 0) yield kept;
    }
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    for await (const batch of this.listBatches(prefix)) yield* batch;
  }

  /** A folder's files a batch at a time (up to LIST_STAT_BATCH; cut where a subfolder's keys come between). */
  private async *walk(dir: string, keyPrefix: string): AsyncGenerator<StoredObject[]> {
    const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return [];
      throw error;
    });
    // A folder named as its keys begin: the default sort compares code units, as `<` on keys does.
    const names: string[] = [];
    for (const e of entries) {
      if (e.isFile()) names.push(e.name);
      else if (e.isDirectory()) names.push(`${e.name}/`);
    }
    names.sort();
    let batch: StoredObject[] = [];
    for (const name of names) {
      if (name.endsWith("/")) {
        if (batch.length > 0) yield batch;
        batch = [];
        yield* this.walk(`${dir}/${name.slice(0, -1)}`, keyPrefix + name);
        continue;
      }
      // `dir` is already resolved: a template, not path.join (which re-normalizes it every file).
      const info = statSync(`${dir}/${name}`, { throwIfNoEntry: false });
      if (info) batch.push(new ListedFile(keyPrefix + name, info.size, info.mtimeMs));
      if (batch.length === LIST_STAT_BATCH) {
        yield batch;
        batch = [];
        await nextTurn();
      }
    }
    if (batch.length > 0) yield batch;
  }

  /**
   * Deletes objects: `prune` on a folder. Only folders have it: on S3 the bucket's lifecycle rules
   * expire sets and the runner's role cannot delete.
   */
  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const file = this.pathOf(key);
      await rm(file, { force: true });
      // Remove folders left empty, up to the root, so pruned sets disappear from listings.
      let dir = path.dirname(file);
      while (dir.startsWith(this.root + path.sep)) {
        const left = await readdir(dir).catch(() => ["?"]);
        if (left.length > 0) break;
        await rmdir(dir).catch(() => undefined);
        dir = path.dirname(dir);
      }
    }
  }
}
