/**
 * Reads one object of a backup set into a consumer while hashing it, then holds the bytes
 * against the manifest. Nothing downstream may be trusted (or swapped into place) unless this
 * resolved: a flipped byte or a short object is an error even when the consumer accepted it.
 */
import { pipeline, type Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { RunnerError } from "../errors.js";
import { DigestMeter } from "../stages/digest-meter.js";
import type { ChildSink } from "../stages/child-sink.js";
import type { ChildSource } from "../stages/child-source.js";
import type { ObjectStore } from "../store/object-store.js";

export interface ExpectedObject {
  key: string;
  bytes: number;
  sha256: string;
}

export class ChecksumError extends RunnerError {
  constructor(message: string) {
    super(message, 1);
    this.name = "ChecksumError";
  }
}

export function checksumProblem(
  where: string,
  expected: ExpectedObject,
  bytes: number,
  sha256: string,
): string | undefined {
  if (bytes !== expected.bytes)
    return `${where}: ${bytes} bytes stored, the manifest says ${expected.bytes} (truncated or replaced)`;
  if (sha256 !== expected.sha256)
    return `${where}: sha256 ${sha256} does not match the manifest's ${expected.sha256} (corrupted)`;
  return undefined;
}

/** Streams `setPrefix/expected.key` into `sink`; rejects on a consumer failure or a checksum mismatch. */
export async function feedVerified(
  store: ObjectStore,
  setPrefix: string,
  expected: ExpectedObject,
  sink: ChildSink,
  /** Receives the meter, so a caller can poll its byte count for progress. */
  onMeter?: (meter: DigestMeter) => void,
  /**
   * A stage between the stored bytes (hashed) and the consumer: decryption of an encrypted set,
   * decompression of a zstd dump, or both (see dumpDecoder).
   */
  decode?: (input: Readable) => ChildSource,
): Promise<void> {
  const where = `${setPrefix}/${expected.key}`;
  const meter = new DigestMeter();
  onMeter?.(meter);
  let source;
  try {
    source = await store.get(where);
  } catch (error) {
    sink.stop();
    throw error;
  }
  pipeline(source, meter, () => undefined);
  let consumerError: unknown;
  const stage = decode?.(meter);
  await sink.feed(stage ? stage.stream : meter).catch((error: unknown) => (consumerError = error));
  // The stage keeps reading the stored bytes after a failure, so the checksum below is complete.
  if (stage) await finished(meter).catch(() => undefined);
  // A checksum mismatch explains a consumer failure better than the consumer's own message.
  const digest = meter.finished ? meter.sha256 : undefined;
  const problem = digest !== undefined ? checksumProblem(where, expected, meter.bytes, digest) : undefined;
  if (problem) throw new ChecksumError(problem);
  if (consumerError !== undefined) throw consumerError;
  if (digest === undefined) throw new RunnerError(`${where}: the download ended before the whole object was read`);
}
