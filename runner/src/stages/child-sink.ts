/**
 * A child process that consumes a stream on stdin (pg_restore, tar -x, tar -t). The whole source
 * is always read, even when the child stops reading early (pg_restore --list reads only the
 * table of contents), so a hash stage upstream sees every byte. The feed succeeds only when the
 * source ended cleanly AND the child exited 0.
 */
import type { Readable, Writable } from "node:stream";
import { spawnChain, type PipelineStep } from "./child-chain.js";
import type { ChildOptions, WatchedChild } from "./child-watch.js";

export interface ChildSink extends WatchedChild {
  /** Writes `source` to the child's stdin; resolves when the child exited 0 after reading it. */
  feed(source: Readable): Promise<void>;
}

function writable(stream: Writable): boolean {
  return !stream.destroyed && !stream.writableEnded;
}

/** Resolves when `stream` can take more data, or will never take any again. */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done).off("close", done).off("error", done);
      resolve();
    };
    stream.on("drain", done).on("close", done).on("error", done);
  });
}

/**
 * Writes all of `source` into a child's `stdin`, reading on after the child stopped taking it
 * (see above); rejects only when the source fails. Does not end `stdin`.
 */
export async function writeAll(source: Readable, stdin: Writable): Promise<void> {
  for await (const chunk of source) {
    if (writable(stdin) && !stdin.write(chunk)) await drained(stdin);
  }
}

export function spawnChildSink(command: string, args: readonly string[], options: ChildOptions): ChildSink {
  return spawnSinkChain([{ command, args, options }]);
}

/**
 * `steps` joined by OS pipes (see child-chain.ts), fed on the first one's stdin: `zstd -d |
 * pg_restore` moves the decompressed dump between two processes without the runner's event loop.
 * The feed succeeds only when the source ended cleanly AND every step exited 0.
 */
export function spawnSinkChain(steps: readonly PipelineStep[]): ChildSink {
  const chain = spawnChain(steps, { stdin: "pipe", listing: "stdout" });
  const stdin = chain.stdin!;
  // Without a listing consumer stdout must still be drained, or a chatty child blocks.
  if (!steps[steps.length - 1]!.options.onListingLine) chain.stdout.resume();
  // EPIPE when the child stops reading: expected (see above), judged by its exit status instead.
  stdin.on("error", () => undefined);
  const { exited, stop, pid } = chain;
  return {
    exited,
    stop,
    pid,
    async feed(source) {
      try {
        await writeAll(source, stdin);
      } catch (error) {
        // A failed source must not look like a short but complete input: stop the children.
        stop();
        stdin.destroy();
        await exited.catch(() => undefined);
        throw error;
      }
      stdin.end();
      await exited;
    },
  };
}
