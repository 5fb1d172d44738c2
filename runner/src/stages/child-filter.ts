/**
 * A child process in the middle of a stream (age --encrypt, age --decrypt): `input` is written to
 * its stdin, and its stdout is gated on its exit status like a ChildSource's. Two rules keep the
 * stages around it honest:
 * - a failed input never looks like a short but complete one: the child is stopped and the
 *   output fails with the input's error (age would otherwise seal a valid, truncated file);
 * - the whole input is always read, even after the child stopped reading, so a hash stage
 *   upstream still sees every byte (a corrupted object is then reported as a checksum mismatch).
 */
import type { Readable } from "node:stream";
import { writeAll } from "./child-sink.js";
import { gateOnExit, type ChildSource } from "./child-source.js";
import { spawnChain } from "./child-chain.js";
import type { ChildOptions } from "./child-watch.js";

export function spawnChildFilter(
  command: string,
  args: readonly string[],
  input: Readable,
  options: ChildOptions,
): ChildSource {
  const chain = spawnChain([{ command, args, options }], { stdin: "pipe", listing: "stderr" });
  const stdin = chain.stdin!;
  const stream = gateOnExit(chain.stdout, chain);
  // EPIPE when the child stops reading: judged by its exit status instead.
  stdin.on("error", () => undefined);
  void (async () => {
    try {
      await writeAll(input, stdin);
      stdin.end();
    } catch (error) {
      chain.stop();
      stdin.destroy();
      stream.destroy(error instanceof Error ? error : new Error(String(error)));
    }
  })();
  return { stream, exited: chain.exited, stop: chain.stop, pid: chain.pid };
}

/** `stage` applied to `source`: one ChildSource that succeeds only when both children exited 0. */
export function composeSources(source: ChildSource, stage: ChildSource): ChildSource {
  const exited = Promise.all([source.exited, stage.exited]).then(() => undefined);
  exited.catch(() => undefined);
  return {
    stream: stage.stream,
    exited,
    pid: stage.pid,
    stop() {
      source.stop();
      stage.stop();
    },
  };
}
