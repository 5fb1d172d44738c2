/**
 * A child process that consumes a stream on stdin (pg_restore, tar -x, tar -t). The whole source
 * is always read, even when the child stops reading early (pg_restore --list reads only the
 * table of contents), so a hash stage upstream sees every byte. The feed succeeds only when the
 * source ended cleanly AND the child exited 0.
 */
import { spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { childProcessEnv, watchChild, type ChildOptions, type WatchedChild } from "./child-watch.js";

export interface ChildSink extends WatchedChild {
  /** Writes `source` to the child's stdin; resolves when the child exited 0 after reading it. */
  feed(source: Readable): Promise<void>;
}

export function writable(stream: Writable): boolean {
  return !stream.destroyed && !stream.writableEnded;
}

/** Resolves when `stream` can take more data, or will never take any again. */
export function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done).off("close", done).off("error", done);
      resolve();
    };
    stream.on("drain", done).on("close", done).on("error", done);
  });
}

export function spawnChildSink(command: string, args: readonly string[], options: ChildOptions): ChildSink {
  const child = spawn(command, args, {
    stdio: ["pipe", "pipe", "pipe"],
    env: childProcessEnv(options.env),
    cwd: options.cwd,
  });
  const watched = watchChild(child, command, options, child.stdout);
  // Without a listing consumer stdout must still be drained, or a chatty child blocks.
  if (!options.onListingLine) child.stdout.resume();
  // EPIPE when the child stops reading: expected (see above), judged by its exit status instead.
  child.stdin.on("error", () => undefined);
  return {
    ...watched,
    async feed(source) {
      try {
        for await (const chunk of source) {
          if (writable(child.stdin) && !child.stdin.write(chunk)) await drained(child.stdin);
        }
      } catch (error) {
        // A failed source must not look like a short but complete input: stop the child.
        watched.stop();
        child.stdin.destroy();
        await watched.exited.catch(() => undefined);
        throw error;
      }
      child.stdin.end();
      await watched.exited;
    },
  };
}
