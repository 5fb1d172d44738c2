/**
 * Encryption as a stream stage: a source's bytes through `age --encrypt` to the set's X25519
 * recipients, in 64 KiB authenticated chunks, with bounded memory and no temporary file. The
 * `age` binary (Debian's, also in the image) was chosen over the JavaScript implementation
 * because it runs beside the runner on its own core at ~0.7-1 GB/s, while the JavaScript one
 * took the runner's own thread at ~65 MB/s (BENCHMARKS.md, "Encryption").
 *
 * Composable: compression or hashing stages go before or after it (the object name records the
 * order, see objectName in contract.ts).
 */
import type { Readable } from "node:stream";
import type { ChildSource } from "./child-source.js";
import { composeSources, spawnChildFilter } from "./child-filter.js";

export const AGE_BINARY = "age";

export function ageEncryptArgs(recipients: readonly string[]): string[] {
  return ["--encrypt", ...recipients.flatMap((r) => ["--recipient", r])];
}

/** `input` encrypted to `recipients`; fails when `input` fails. */
export function encryptStream(input: Readable, recipients: readonly string[]): ChildSource {
  return spawnChildFilter(AGE_BINARY, ageEncryptArgs(recipients), input, { label: "age --encrypt" });
}

/** A child's output encrypted: succeeds only when both the child and age exited 0. */
export function encryptSource(source: ChildSource, recipients: readonly string[]): ChildSource {
  return composeSources(source, encryptStream(source.stream, recipients));
}
