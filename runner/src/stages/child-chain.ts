/**
 * Commands joined by OS pipes, as a shell joins `a | b | c`: the bytes between them never pass
 * through the runner's event loop (pg_dump's uncompressed dump into zstd on backup, zstd's
 * decompressed dump into pg_restore on restore: the largest streams either has). A single
 * command is a chain of one, so every child the runner reads from or writes to is spawned here.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { childProcessEnv, watchChild, type ChildOptions, type WatchedChild } from "./child-watch.js";

/** One command of a chain. */
export interface PipelineStep {
  command: string;
  args: readonly string[];
  options: ChildOptions;
}

export interface ChildChain extends WatchedChild {
  /** The first command's stdin (null unless the chain was spawned with stdin "pipe"). */
  readonly stdin: Writable | null;
  /** The last command's stdout. */
  readonly stdout: Readable;
}

/**
 * A step that died writing its output was a victim, not the cause: the step after it stopped
 * reading (it failed, or was stopped). zstd is killed by SIGPIPE; a program that ignores the
 * signal reports EPIPE ("Broken pipe"), or ECONNRESET ("Connection reset by peer") when the
 * reader left unread bytes behind (libuv joins children by socket pairs, not pipes).
 */
function diedWriting(error: unknown): boolean {
  return error instanceof Error && /killed by SIGPIPE|broken pipe|connection reset by peer/i.test(error.message);
}

/**
 * Which failure to report when several steps failed. A step that dies leaves the next one an end
 * of input that looks clean (it may exit 0 with a truncated result, or fail complaining about a
 * short input), and makes the previous one die writing into it: so the cause is the first step,
 * counted from the source, that failed for a reason of its own.
 */
export function chainFailure(failures: readonly unknown[]): unknown {
  return failures.find((error) => !diedWriting(error)) ?? failures[failures.length - 1];
}

/**
 * Spawns `steps` joined by OS pipes. `exited` resolves only when EVERY step exited 0: a dying
 * step's successor only sees a clean end of input, and would exit 0 with a valid but truncated
 * result. `listing` says which stream of the last step carries its verbose listing (tar -x lists
 * on stdout; the other steps' diagnostics are on stderr).
 */
export function spawnChain(
  steps: readonly PipelineStep[],
  ends: { stdin: "ignore" | "pipe"; listing: "stdout" | "stderr" },
): ChildChain {
  if (!steps.length) throw new Error("spawnChain: no steps");
  const children: ChildProcess[] = [];
  const watches: WatchedChild[] = [];
  steps.forEach((step, i) => {
    const previous = children[i - 1];
    const child = spawn(step.command, step.args, {
      // The previous step's stdout is handed to this one as its stdin (the fd is duplicated).
      stdio: [previous ? (previous.stdout ?? "ignore") : ends.stdin, "pipe", "pipe"],
      env: childProcessEnv(step.options.env),
      cwd: step.options.cwd,
    });
    // The runner's own copy of the pipe's read end: never read here, so it must not stay open.
    previous?.stdout?.destroy();
    const last = i === steps.length - 1;
    watches.push(
      watchChild(child, step.command, step.options, last && ends.listing === "stdout" ? child.stdout : child.stderr),
    );
    children.push(child);
  });
  const exited =
    watches.length === 1
      ? watches[0]!.exited
      : Promise.allSettled(watches.map((w) => w.exited)).then((results) => {
          const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
          if (failures.length) throw chainFailure(failures);
        });
  exited.catch(() => undefined);
  const first = children[0]!;
  const last = children[children.length - 1]!;
  return {
    stdin: first.stdin,
    stdout: last.stdout!,
    exited,
    pid: last.pid,
    stop() {
      for (const w of watches) w.stop();
    },
  };
}
