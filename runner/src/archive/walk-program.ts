/**
 * The program of the store walk's worker thread (worker-walk.ts): directory-walk.ts's walk (same
 * order, same entries, same errors) with synchronous calls, its entries packed into chunks whose
 * buffers are moved to the main thread, not copied. It runs from its source text (worker-walk.ts
 * workerSource), so each piece here uses nothing but its parameters and globals.
 */
import type * as fs from "node:fs";
import type { MessagePort } from "node:worker_threads";

/** What the worker is told at its start. */
export interface WalkProgramOptions {
  dir: string;
  /** Send the top level's names first (`{ top }`) and wait for `{ keep }`: the host judges them. */
  filterTop: boolean;
  /** A chunk ends after this many entries or name bytes. */
  chunkEntries: number;
  chunkBytes: number;
  /** Chunks the worker may send before the host asks for more (one `1` message a chunk). */
  credit: number;
}

/** The stat fields a chunk carries for each entry, in this order (BigInt64Array, as Node's own). */
export const STAT_FIELDS = ["mode", "uid", "gid", "size", "mtimeNs", "ctimeNs", "ino", "nlink", "dev"] as const;

/** Entries in walk order: `ends[2i]` ends entry i's name in `bytes`, `ends[2i+1]` its link target. */
export interface WalkChunk {
  /** The type letters' char codes ("-", "d", "l", "h", ...); 0 for the top level's names. */
  types: Uint8Array;
  ends: Uint32Array;
  bytes: Uint8Array;
  stats: BigInt64Array;
  /** Times beyond int64 nanoseconds (after 2262): `[entry * STAT_FIELDS.length + field, decimal]`. */
  wide?: Array<[number, string]>;
}

/** An error of the walk as it crossed the thread: an fs call's errno fields, when it has them. */
export interface WalkFailure {
  message: string;
  errno?: number;
  code?: string;
  syscall?: string;
  path?: string;
}

export type WalkMessage =
  { top: WalkChunk } | { chunk: WalkChunk; end: boolean } | { error: WalkFailure; chunk?: WalkChunk };

/** Fills one chunk at a time; `take` hands it over (its buffers are its own: never Buffer's pool). */
export class ChunkBuilder {
  private types: number[] = [];
  private parts: Buffer[] = [];
  private ends: number[] = [];
  private bytes = 0;
  private stats: BigInt64Array;
  private wide: Array<[number, string]> | undefined;

  constructor(private readonly entries: number) {
    this.stats = new BigInt64Array(entries * 9);
  }

  get count(): number {
    return this.types.length;
  }

  get byteCount(): number {
    return this.bytes;
  }

  add(type: number, name: Buffer, target: Buffer | undefined, st: fs.BigIntStats | undefined): void {
    const base = this.types.length * 9;
    this.types.push(type);
    this.parts.push(name);
    this.bytes += name.length;
    this.ends.push(this.bytes);
    if (target) {
      this.parts.push(target);
      this.bytes += target.length;
    }
    this.ends.push(this.bytes);
    if (!st) return;
    const values = [st.mode, st.uid, st.gid, st.size, st.mtimeNs, st.ctimeNs, st.ino, st.nlink, st.dev];
    for (let i = 0; i < 9; i += 1) {
      this.stats[base + i] = values[i]!;
      // A BigInt64Array keeps the low 64 bits: a time past 2262 goes beside it, exactly.
      if (this.stats[base + i] !== values[i]) (this.wide ??= []).push([base + i, values[i]!.toString()]);
    }
  }

  take(): WalkChunk {
    const bytes = new Uint8Array(this.bytes);
    let at = 0;
    for (const part of this.parts) {
      bytes.set(part, at);
      at += part.length;
    }
    const n = this.types.length;
    const chunk: WalkChunk = {
      types: Uint8Array.from(this.types),
      ends: Uint32Array.from(this.ends),
      bytes,
      stats: n === this.entries ? this.stats : this.stats.slice(0, n * 9),
    };
    if (this.wide) chunk.wide = this.wide;
    this.types = [];
    this.parts = [];
    this.ends = [];
    this.bytes = 0;
    this.stats = new BigInt64Array(this.entries * 9);
    this.wide = undefined;
    return chunk;
  }

  static transfers(chunk: WalkChunk): ArrayBuffer[] {
    return [chunk.types.buffer, chunk.ends.buffer, chunk.bytes.buffer, chunk.stats.buffer] as ArrayBuffer[];
  }
}

/**
 * directory-walk.ts's walk as a cursor: depth first, each folder's names in byte order, a folder
 * before its contents, a file's later names "h" (keyed by device and inode, for files with
 * several names only), a symlink with its target. A failed call throws out of `fill`.
 */
export class TreeCursor {
  private readonly firstNames = new Map<string, Buffer>();
  /** Folders being walked, innermost last: `names` in byte order, `at` the next one. */
  private readonly stack: Array<{ abs: Buffer; prefix: Buffer; names: Buffer[]; at: number }> = [];
  private readonly slash = Buffer.from("/");

  constructor(private readonly fsm: typeof fs) {}

  /** Lists the walked folder; the top level's names, which `keep` may then narrow. */
  start(dir: string): Buffer[] {
    const abs = Buffer.from(dir);
    this.stack.push({ abs, prefix: Buffer.alloc(0), names: this.list(abs), at: 0 });
    return this.stack[0]!.names;
  }

  keep(which: Uint8Array): void {
    const top = this.stack[0]!;
    top.names = top.names.filter((_, i) => which[i]);
  }

  /** No entry left (folders whose names are all walked are left). */
  get done(): boolean {
    const { stack } = this;
    while (stack.length && stack[stack.length - 1]!.at === stack[stack.length - 1]!.names.length) stack.pop();
    return stack.length === 0;
  }

  /** Adds entries until the chunk is full or the walk is done. */
  fill(chunk: ChunkBuilder, entries: number, bytes: number): void {
    const { fsm, stack, slash } = this;
    while (stack.length && chunk.count < entries && chunk.byteCount < bytes) {
      const folder = stack[stack.length - 1]!;
      if (folder.at === folder.names.length) {
        stack.pop();
        continue;
      }
      const child = folder.names[folder.at]!;
      folder.at += 1;
      const path = Buffer.concat([folder.abs, slash, child]);
      const name = folder.prefix.length ? Buffer.concat([folder.prefix, slash, child]) : child;
      const st = fsm.lstatSync(path, { bigint: true });
      if (!st.isDirectory() && st.nlink > 1n) {
        const inode = `${st.dev}:${st.ino}`;
        const first = this.firstNames.get(inode);
        if (first) {
          chunk.add(104 /* h */, name, first, st);
          continue;
        }
        this.firstNames.set(inode, name);
      }
      const type = this.typeOf(st);
      chunk.add(type, name, type === 108 /* l */ ? fsm.readlinkSync(path, { encoding: "buffer" }) : undefined, st);
      if (type === 100 /* d */) stack.push({ abs: path, prefix: name, names: this.list(path), at: 0 });
    }
  }

  private list(abs: Buffer): Buffer[] {
    return this.fsm.readdirSync(abs, { encoding: "buffer" }).sort(Buffer.compare);
  }

  /** The type letter's char code, as directory-walk.ts typeOf. */
  private typeOf(st: fs.BigIntStats): number {
    if (st.isFile()) return 45; // -
    if (st.isDirectory()) return 100; // d
    if (st.isSymbolicLink()) return 108; // l
    if (st.isFIFO()) return 112; // p
    if (st.isCharacterDevice()) return 99; // c
    if (st.isBlockDevice()) return 98; // b
    return 115; // s
  }
}

/**
 * The worker's protocol: chunks out while it has credit (a number message adds to it), then one
 * last chunk with `end`, or `{ error }` (after the chunk of the entries before it). With
 * `filterTop`, the top level's names go out first and `{ keep }` comes back before the walk.
 */
export function walkProgram(
  fsm: typeof fs,
  port: MessagePort,
  options: WalkProgramOptions,
  Builder: typeof ChunkBuilder,
  Cursor: typeof TreeCursor,
): void {
  const chunk = new Builder(options.chunkEntries);
  const cursor = new Cursor(fsm);
  let credit = options.credit;
  let ended = false;
  const send = (message: WalkMessage, sent?: WalkChunk) =>
    port.postMessage(message, sent ? Builder.transfers(sent) : []);
  const fail = (error: unknown) => {
    ended = true;
    const e = error as NodeJS.ErrnoException;
    const failure: WalkFailure = { message: String(e && e.message) };
    if (e && typeof e.errno === "number")
      Object.assign(failure, { errno: e.errno, code: e.code, syscall: e.syscall, path: e.path });
    const before = chunk.count ? chunk.take() : undefined;
    send({ error: failure, chunk: before }, before);
  };
  const pump = () => {
    while (!ended && credit > 0) {
      try {
        cursor.fill(chunk, options.chunkEntries, options.chunkBytes);
      } catch (error) {
        return fail(error);
      }
      credit -= 1;
      ended = cursor.done;
      const full = chunk.take();
      send({ chunk: full, end: ended }, full);
    }
  };
  port.on("message", (message: number | { keep: Uint8Array }) => {
    if (typeof message === "number") credit += message;
    else cursor.keep(message.keep);
    pump();
  });
  let top: Buffer[];
  try {
    top = cursor.start(options.dir);
  } catch (error) {
    return fail(error);
  }
  if (!options.filterTop) return pump();
  for (const name of top) chunk.add(0, name, undefined, undefined);
  const names = chunk.take();
  send({ top: names }, names);
}
