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

export function spawnChildSource(command: string, args: readonly string[], options: ChildSourceOptions): ChildSource {
  const child = spawn(command, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: childProcessEnv(options.env),
    cwd: options.cwd,
  });
  const watched = watchChild(child, command, options, child.stderr);
  return { stream: gateOnExit(child.stdout, watched), exited: watched.exited, stop: watched.stop, pid: watched.pid };
}
