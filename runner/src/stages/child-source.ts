/**
 * A child process's stdout as a stream that can only end cleanly when the child exited 0.
 *
 * Piping a child's stdout straight into an upload is a trap: when the child dies (killed, OOM,
 * its server connection dropped), its stdout simply ends and the upload completes a truncated
 * object. Here the stream's end is held back until the exit status is known, and the stream
 * errors instead when the child failed, so every consumer (upload, hash) fails with it.
 */
import { Transform, type Readable } from "node:stream";
import { spawnChain, type ChildChain, type PipelineStep } from "./child-chain.js";
import type { ChildOptions, WatchedChild } from "./child-watch.js";

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

/**
 * `first | second` joined by an OS pipe, as a shell does (see child-chain.ts): pg_dump's
 * uncompressed dump into zstd never passes through the runner's event loop. The output is gated
 * on BOTH exit statuses: when `first` dies, `second` only sees a clean end of input and would
 * exit 0 with a valid but truncated result.
 */
export function spawnChildPipeline(first: PipelineStep, second: PipelineStep): ChildSource {
  return sourceOf(spawnChain([first, second], { stdin: "ignore", listing: "stderr" }));
}

export function spawnChildSource(command: string, args: readonly string[], options: ChildSourceOptions): ChildSource {
  return sourceOf(spawnChain([{ command, args, options }], { stdin: "ignore", listing: "stderr" }));
}

function sourceOf(chain: ChildChain): ChildSource {
  const { exited, stop, pid } = chain;
  return { stream: gateOnExit(chain.stdout, chain), exited, stop, pid };
}
