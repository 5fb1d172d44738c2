/**
 * Small plain objects of a folder store placed by worker threads (issue 22, a full restore at
 * least as fast as tar). Each worker reads an object whole, checks its size and sha256 and only
 * then creates the file (exclusively), writes it and sets its owner, mode and mtime through one
 * descriptor, all with synchronous calls: no thread-pool hop and no stream a file. On the main
 * thread the same work ran one file after another beside the index's parsing (a profile at
 * 50,000 x 100 KiB: of 38 s, 14 s in the kernel's create, 3 s hashing, 3 s writing, 10 s in
 * the reads' promises), where tar's restore reads and hashes (the runner), decompresses (zstd)
 * and creates and writes (tar) in three processes at once. BENCHMARKS.md has the figures.
 */
import type { createHash } from "node:crypto";
import type * as fs from "node:fs";
import { Worker } from "node:worker_threads";

/** One file to place: its object's file in the store folder and the index's facts about it. */
export interface PlaceJob {
  object: string;
  /** The file's path as bytes in a latin1 string (names need not be UTF-8; a Buffer would be cloned with its whole pool). */
  path: string;
  objectBytes: number;
  size: number;
  sha256: string;
  mode: number;
  uid: number;
  gid: number;
  /** The mtime (and atime) in seconds, as futimes takes it. */
  seconds: number;
  chown: boolean;
}

/** Why a job was not placed; nothing was created for it unless `kind` is "io". */
export type PlaceFailure =
  | { kind: "missing" }
  | { kind: "stored"; bytes: number }
  | { kind: "content"; bytes: number; sha256: string }
  | { kind: "io"; message: string; code?: string };

/** Jobs sent to a worker in one message, and how many messages a worker may have waiting. */
const BATCH = 16;
const QUEUED = 2;

/**
 * Makes the function that places one job with objects of at most `limit` bytes. It runs in the
 * workers from its source text (workerSource), so it uses nothing but its parameters and globals;
 * a small restore runs it on the main thread.
 */
export function makePlacer(
  fsm: typeof fs,
  hash: typeof createHash,
  limit: number,
): (job: PlaceJob) => PlaceFailure | undefined {
  // One buffer a worker, one byte longer than the largest object: a longer object is seen as such.
  const buffer = Buffer.allocUnsafe(limit + 1);
  const C = fsm.constants;
  return (job) => {
    let fd: number;
    try {
      fd = fsm.openSync(job.object, "r");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return { kind: "missing" };
      throw error;
    }
    let got = 0;
    try {
      const want = job.objectBytes + 1;
      for (let n = -1; n !== 0 && got < want; got += n) n = fsm.readSync(fd, buffer, got, want - got, null);
      if (got > job.objectBytes) return { kind: "stored", bytes: fsm.fstatSync(fd).size };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EISDIR") return { kind: "missing" };
      throw error;
    } finally {
      fsm.closeSync(fd);
    }
    if (got !== job.objectBytes) return { kind: "stored", bytes: got };
    const data = buffer.subarray(0, got);
    const sha256 = hash("sha256").update(data).digest("hex");
    if (got !== job.size || sha256 !== job.sha256) return { kind: "content", bytes: got, sha256 };
    const out = fsm.openSync(Buffer.from(job.path, "latin1"), C.O_WRONLY | C.O_CREAT | C.O_EXCL, 0o600);
    try {
      for (let at = 0; at < got;) at += fsm.writeSync(out, data, at, got - at);
      if (job.chown) fsm.fchownSync(out, job.uid, job.gid);
      fsm.fchmodSync(out, job.mode);
      fsm.futimesSync(out, job.seconds, job.seconds);
    } finally {
      fsm.closeSync(out);
    }
    return undefined;
  };
}

/** A worker's program: batches of jobs in, for each batch `{ placed }` or `{ failedAt, failure }` out. */
function workerSource(limit: number): string {
  return `"use strict";
const { parentPort } = require("node:worker_threads");
const place = (${makePlacer.toString()})(require("node:fs"), require("node:crypto").createHash, ${limit});
parentPort.on("message", (jobs) => {
  for (let i = 0; i < jobs.length; i += 1) {
    let failure;
    try {
      failure = place(jobs[i]);
    } catch (error) {
      failure = { kind: "io", message: String(error && error.message), code: error && error.code };
    }
    if (failure) return parentPort.postMessage({ failedAt: i, failure });
  }
  parentPort.postMessage({ placed: jobs.length });
});`;
}

type Reply = { placed: number } | { failedAt: number; failure: PlaceFailure };

interface Placer<E> {
  worker: Worker;
  /** Batches sent and not yet answered, oldest first (a worker answers in order). */
  waiting: E[][];
}

/**
 * `count` workers (started at the first batch) placing jobs in batches of BATCH, at most QUEUED
 * batches waiting at a worker (memory stays bounded: the main thread waits). The first failure
 * stops new jobs; `drain` stops every worker before it throws it, so none is still writing into
 * the folder the caller then removes. `E` is what the caller needs to explain a failure.
 */
export class PlacerWorkers<E> {
  private readonly placers: Array<Placer<E>> = [];
  private jobs: PlaceJob[] = [];
  private entries: E[] = [];
  private failure: unknown;
  private wake: (() => void) | undefined;

  constructor(
    private readonly count: number,
    private readonly limit: number,
    private readonly explain: (entry: E, failure: PlaceFailure) => Error,
  ) {}

  async add(job: PlaceJob, entry: E): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    this.jobs.push(job);
    this.entries.push(entry);
    if (this.jobs.length >= BATCH) await this.send();
  }

  /** Waits for every job; throws the first failure once no worker runs any more. */
  async drain(): Promise<void> {
    if (this.jobs.length && this.failure === undefined) await this.send();
    while (this.failure === undefined && this.placers.some((p) => p.waiting.length)) await this.next();
    if (this.failure !== undefined) {
      await this.close();
      throw this.failure;
    }
  }

  /** Stops the workers (a worker in a system call finishes it first). */
  async close(): Promise<void> {
    await Promise.all(this.placers.splice(0).map((p) => p.worker.terminate()));
  }

  private async send(): Promise<void> {
    if (!this.placers.length) for (let i = 0; i < this.count; i += 1) this.placers.push(this.start());
    const least = () => this.placers.reduce((a, b) => (b.waiting.length < a.waiting.length ? b : a));
    while (this.failure === undefined && least().waiting.length >= QUEUED) await this.next();
    if (this.failure !== undefined) throw this.failure;
    const placer = least();
    placer.waiting.push(this.entries);
    placer.worker.postMessage(this.jobs);
    this.jobs = [];
    this.entries = [];
  }

  /** Resolves at the next answer or failure. */
  private next(): Promise<void> {
    return new Promise((resolve) => (this.wake = resolve));
  }

  private settle(failure?: unknown): void {
    if (failure !== undefined) this.failure ??= failure;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  private start(): Placer<E> {
    const placer: Placer<E> = { worker: new Worker(workerSource(this.limit), { eval: true }), waiting: [] };
    placer.worker.on("message", (reply: Reply) => {
      const batch = placer.waiting.shift()!;
      this.settle("failedAt" in reply ? this.explain(batch[reply.failedAt]!, reply.failure) : undefined);
    });
    placer.worker.on("error", (error) => this.settle(error));
    placer.worker.on("exit", () => {
      if (placer.waiting.length) this.settle(new Error("a restore worker stopped before its files were written"));
    });
    return placer;
  }
}
