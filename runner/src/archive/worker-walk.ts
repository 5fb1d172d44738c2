/**
 * The store format's walk (walkTreeBatches' entries, in the same order, with the same errors) done
 * by a worker thread with synchronous calls (walk-program.ts). On the main thread, the walk of an
 * unchanged 50,000-file tree cost ~300-500 ms of its CPU (lstat callbacks, a BigIntStats of ~20
 * BigInts an entry and their garbage, names joined, sorting) in a backup whose main thread is its
 * bottleneck; here it costs an object an entry, its stat fields read from a typed array when asked
 * for. BENCHMARKS.md (issue 22) has the figures.
 *
 * At most a few chunks are ahead of the consumer (the worker waits to be asked), and the worker is
 * ended when the walk ends, fails or its consumer stops (the generator's return or throw); the
 * worker does not keep the process alive while nobody waits for it.
 */
import { Worker } from "node:worker_threads";
import type { WalkedEntry, WalkStats } from "./directory-walk.js";
import type { EntryType } from "./listing.js";
import {
  ChunkBuilder,
  STAT_FIELDS,
  TreeCursor,
  walkProgram,
  type WalkChunk,
  type WalkFailure,
  type WalkMessage,
  type WalkProgramOptions,
} from "./walk-program.js";

/** How the walk is cut: a chunk ends after `chunkEntries` entries or `chunkBytes` name bytes, and
 * up to `credit` chunks may wait for the consumer. Tests walk with tiny chunks to meet every cut. */
export type WalkTuning = Pick<WalkProgramOptions, "chunkEntries" | "chunkBytes" | "credit">;
const TUNING: WalkTuning = { chunkEntries: 512, chunkBytes: 64 * 1024, credit: 4 };

/**
 * The worker's young generation (Node's default lets it grow to ~48 MiB, full of the lstat
 * results' garbage): 4 MiB keeps ~10 MiB off the run's peak RSS at no CPU cost measurable (its
 * scavenges find almost nothing alive).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4 };

const SLASH = Buffer.from("/");
/** Each type letter by its char code (one string, not String.fromCharCode an entry). */
const TYPE_LETTERS: string[] = Array.from({ length: 128 }, (_, code) => String.fromCharCode(code));
const FIELDS = STAT_FIELDS.length;

function workerSource(options: WalkProgramOptions): string {
  // tsx (keepNames) wraps named functions in __name(...); the worker has no such helper.
  return `"use strict";
const __name = (f) => f;
(${walkProgram.toString()})(
  require("node:fs"),
  require("node:worker_threads").parentPort,
  ${JSON.stringify(options)},
  (${ChunkBuilder.toString()}),
  (${TreeCursor.toString()}),
);`;
}

/** One chunk's entries share its buffers; an entry is its own stats (the fields read when asked for). */
class PackedChunk {
  readonly bytes: Buffer;
  readonly wide?: Map<number, bigint>;
  constructor(
    readonly root: Buffer,
    readonly chunk: WalkChunk,
  ) {
    this.bytes = Buffer.from(chunk.bytes.buffer, chunk.bytes.byteOffset, chunk.bytes.byteLength);
    if (chunk.wide) this.wide = new Map(chunk.wide.map(([at, value]) => [at, BigInt(value)]));
  }
}

// Declaration merging: the stat fields are getters defined below, one per STAT_FIELDS name.
interface PackedEntry extends WalkStats {}
class PackedEntry implements WalkedEntry {
  constructor(
    readonly type: EntryType,
    readonly name: Buffer,
    readonly linkTarget: Buffer | undefined,
    private readonly from: PackedChunk,
    private readonly at: number,
  ) {}
  get path(): Buffer {
    return Buffer.concat([this.from.root, SLASH, this.name]);
  }
  get stats(): WalkStats {
    return this;
  }
  /** Stat field `i` (STAT_FIELDS' order), a BigInt made when asked for. */
  stat(i: number): bigint {
    const at = this.at + i;
    return (this.from.wide?.get(at) ?? this.from.chunk.stats[at])!;
  }
}
for (const [i, field] of STAT_FIELDS.entries())
  Object.defineProperty(PackedEntry.prototype, field, {
    get(this: PackedEntry) {
      return this.stat(i);
    },
  });

/** Names and link targets of a chunk (for the top level's names, only names). */
function* namesOf(chunk: WalkChunk, bytes: Buffer): Generator<{ name: Buffer; target: Buffer }> {
  let at = 0;
  for (let i = 0; i < chunk.types.length; i += 1) {
    const nameEnd = chunk.ends[2 * i]!;
    const end = chunk.ends[2 * i + 1]!;
    yield { name: bytes.subarray(at, nameEnd), target: bytes.subarray(nameEnd, end) };
    at = end;
  }
}

/** A chunk's entries (a loop, not namesOf: no generator step and no target Buffer a plain entry). */
function unpack(root: Buffer, chunk: WalkChunk): WalkedEntry[] {
  const from = new PackedChunk(root, chunk);
  const { bytes } = from;
  const { types, ends } = chunk;
  const out: WalkedEntry[] = new Array(types.length);
  let at = 0;
  for (let i = 0; i < types.length; i += 1) {
    const nameEnd = ends[2 * i]!;
    const end = ends[2 * i + 1]!;
    const type = TYPE_LETTERS[types[i]!] as EntryType;
    const target = type === "l" || type === "h" ? bytes.subarray(nameEnd, end) : undefined;
    out[i] = new PackedEntry(type, bytes.subarray(at, nameEnd), target, from, i * FIELDS);
    at = end;
  }
  return out;
}

/** The walk's error as the main thread's fs calls would have thrown it. */
function rebuild(failure: WalkFailure): Error {
  const error = new Error(failure.message);
  if (failure.errno === undefined) return error;
  const { errno, code, syscall, path } = failure;
  return Object.assign(error, { errno, code, syscall, path });
}

/**
 * walkTreeBatches(dir, options) in a worker thread. The batches are cut differently (a chunk's
 * entries); the entries, their order and the errors are the same. `skipTopLevel`
 * runs here, on the top level's names, before the worker goes on.
 */
export async function* walkTreeInWorker(
  dir: string,
  options: { skipTopLevel?: (name: Buffer) => boolean } = {},
  tuning: WalkTuning = TUNING,
): AsyncGenerator<WalkedEntry[]> {
  const root = Buffer.from(dir);
  const program: WalkProgramOptions = { dir, filterTop: options.skipTopLevel !== undefined, ...tuning };
  const worker = new Worker(workerSource(program), { eval: true, resourceLimits: WORKER_LIMITS });
  const inbox: WalkMessage[] = [];
  let stopped: Error | undefined;
  let finished = false;
  let wake: (() => void) | undefined;
  const settle = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  worker.on("message", (message: WalkMessage) => {
    inbox.push(message);
    settle();
  });
  worker.on("error", (error) => {
    stopped ??= error;
    settle();
  });
  worker.on("exit", () => {
    stopped ??= new Error("the media walk's worker thread stopped before the walk ended");
    settle();
  });
  // Referenced only while the consumer waits for it: a walk left unfinished keeps nothing alive.
  worker.unref();
  const next = async (): Promise<WalkMessage> => {
    while (!inbox.length) {
      if (stopped) throw stopped;
      worker.ref();
      await new Promise<void>((resolve) => (wake = resolve));
      worker.unref();
    }
    return inbox.shift()!;
  };
  try {
    for (;;) {
      const message = await next();
      if ("top" in message) {
        const skip = options.skipTopLevel!;
        const keep = new Uint8Array(message.top.types.length);
        let i = 0;
        for (const { name } of namesOf(message.top, Buffer.from(message.top.bytes.buffer)))
          keep[i++] = skip(name) ? 0 : 1;
        worker.postMessage({ keep }, [keep.buffer]);
        continue;
      }
      if ("error" in message) {
        if (message.chunk) yield unpack(root, message.chunk);
        throw rebuild(message.error);
      }
      if (message.end) {
        finished = true;
        if (message.chunk.types.length) yield unpack(root, message.chunk);
        return;
      }
      // Asked for before these are handed over, so the worker walks on meanwhile.
      worker.postMessage(1);
      if (message.chunk.types.length) yield unpack(root, message.chunk);
    }
  } finally {
    // After its last chunk the worker is idle: its teardown (5-40 ms of wall) need not hold up
    // the consumer. A walk stopped early or failed waits for it, so no thread is left running.
    const stopping = worker.terminate();
    if (!finished) await stopping;
  }
}
