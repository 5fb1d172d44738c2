/**
 * A folder as a backup store (file:// destinations): the embedded default for trying the runner
 * out, development and the demo. Objects are written to a hidden partial file and linked into
 * place only when complete, so a crash never leaves a short file under the final name, and
 * link(2) fails when the name exists, so nothing is ever overwritten.
 */
import { createReadStream, createWriteStream } from "node:fs";
import { link, mkdir, open, readdir, rm, rmdir, stat, unlink, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import path from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AlreadyExistsError, NotFoundError, type ObjectStore, type StoredObject } from "./object-store.js";

export const PARTIAL_MARKER = ".partial-";

/**
 * A set holds a database dump (plaintext unless ENCRYPTION_RECIPIENTS is set): objects are the
 * writer's alone, as S3 objects are the bucket's. Folders the store creates are 0700, objects
 * 0600, whatever the umask; a folder the operator made (the destination itself) is left alone.
 */
export const OBJECT_MODE = 0o600;
export const FOLDER_MODE = 0o700;

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
    await this.commit(key, async (partial) => {
      await pipeline(body, createWriteStream(partial, { flags: "wx", mode: OBJECT_MODE }));
    });
  }

  async putSmall(key: string, body: string): Promise<void> {
    await this.commit(key, (partial) => writeFile(partial, body, { flag: "wx", mode: OBJECT_MODE }));
  }

  private async commit(key: string, write: (partial: string) => Promise<void>): Promise<void> {
    const final = this.pathOf(key);
    await mkdir(path.dirname(final), { recursive: true, mode: FOLDER_MODE });
    const partial = `${path.dirname(final)}/.${path.basename(final)}${PARTIAL_MARKER}${randomBytes(4).toString("hex")}`;
    try {
      await write(partial);
      // Durable before it becomes visible: a manifest must never point at data still in a cache.
      const handle = await open(partial, "r");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await link(partial, final).catch((error: NodeJS.ErrnoException) => {
        throw error.code === "EEXIST" ? new AlreadyExistsError(key) : error;
      });
    } finally {
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

  async head(key: string): Promise<{ bytes: number } | undefined> {
    const found = await stat(this.pathOf(key)).catch(() => undefined);
    return found?.isFile() ? { bytes: found.size } : undefined;
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    const files: StoredObject[] = [];
    // Walk only below the prefix's folder ("daily/20260111T144748Z-3f9a/" -> that set's folder).
    const folder = prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/")) : "";
    await this.walk(folder ? this.pathOf(folder) : this.root, files);
    files.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const file of files) if (file.key.startsWith(prefix)) yield file;
  }

  private async walk(dir: string, out: StoredObject[]): Promise<void> {
    const entries = await readdir(dir, { withFileTypes: true }).catch((error: NodeJS.ErrnoException) => {
      if (error.code === "ENOENT") return [];
      throw error;
    });
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await this.walk(full, out);
      else if (entry.isFile()) {
        const info = await stat(full);
        out.push({
          key: path.relative(this.root, full).split(path.sep).join("/"),
          bytes: info.size,
          lastModified: info.mtime,
        });
      }
    }
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
