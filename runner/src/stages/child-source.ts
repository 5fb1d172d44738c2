/**
 * A child process's stdout as a stream that can only end cleanly when the child exited 0.
 *
 * Piping a child's stdout straight into an upload is a trap: when the child dies (killed, OOM,
 * its server connection dropped), its stdout simply ends and the upload completes a truncated
 * object. Here the stream's end is held back until the exit status is known, and the stream
 * errors instead when the child failed, so every consumer (upload, hash) fails with it.
 */
import { spawn } from "node:child_process";
import { Transform, type Readable } from "node:stream";
import { childProcessEnv, watchChild, type ChildOptions, type WatchedChild } from "./child-watch.js";

export interface ChildSource extends WatchedChild {
  /** stdout, gated on the exit status. */
  readonly stream: Readable;
}

export type ChildSourceOptions = ChildOptions;

/**
 * `stdout` of a watched child, ending only after the child exited 0 and failing as soon as it
 * exited otherwise (see above). Shared by every stage that reads a child's output.
 */
export function gateOnExit(stdout: Readable, watched: WatchedChild): Readable {
  const gate = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      callback(null, chunk);
    },
    flush(callback) {
      watched.exited.then(
        () => callback(),
        (error: Error) => callback(error),
      );
    },
  });
  stdout.pipe(gate);
  // Fail fast: a child that dies mid-stream fails the stream now, not when its stdout drains.
  watched.exited.catch((error: Error) => gate.destroy(error));
  return gate;
}

/** One command of a pipeline. */
export interface PipelineStep {
  command: string;
  args: readonly string[];
  options: ChildOptions;
}

/**
 * `first | second` joined by an OS pipe, as a shell does: the bytes between them never pass
 * through the runner's event loop (pg_dump's uncompressed dump into zstd is the largest stream a
 * backup has). The output is gated on BOTH exit statuses: when `first` dies, `second` only sees a
 * clean end of input and would exit 0 with a valid but truncated result.
 */
export function spawnChildPipeline(first: PipelineStep, second: PipelineStep): ChildSource {
  const producer = spawn(first.command, first.args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: childProcessEnv(first.options.env),
    cwd: first.options.cwd,
  });
  const producerWatch = watchChild(producer, first.command, first.options, producer.stderr);
  const consumer = spawn(second.command, second.args, {
    // The producer's stdout is handed to the consumer as its stdin (the fd is duplicated).
    stdio: [producer.stdout ?? "ignore", "pipe", "pipe"],
    env: childProcessEnv(second.options.env),
    cwd: second.options.cwd,
  });
  // The runner's own copy of the pipe's read end: never read here, so it must not stay open.
  producer.stdout?.destroy();
  const consumerWatch = watchChild(consumer, second.command, second.options, consumer.stderr);
  // When both fail, the consumer's failure is the cause: a dying producer leaves the consumer a
  // clean end of input (it exits 0), while a dying consumer makes the producer fail on a broken
  // pipe, sometimes before the consumer's own exit is seen.
  const exited = Promise.allSettled([producerWatch.exited, consumerWatch.exited]).then(([p, c]) => {
    if (c.status === "rejected") throw c.reason;
    if (p.status === "rejected") throw p.reason;
  });
  exited.catch(() => undefined);
  const watched: WatchedChild = {
    exited,
    pid: consumer.pid,
    stop() {
      producerWatch.stop();
      consumerWatch.stop();
    },
  };
  return { stream: gateOnExit(consumer.stdout, watched), ...watched };
}

export function spawnChildSource(command: string, args: readonly string[], options: ChildSourceOptions): ChildSource {
  const child = spawn(command, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: childProcessEnv(options.env),
    cwd: options.cwd,
  });
  const watched = watchChild(child, command, options, child.stderr);
  return { stream: gateOnExit(child.stdout, watched), exited: watched.exited, stop: watched.stop, pid: watched.pid };
}
