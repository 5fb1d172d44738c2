/**
 * One stream of a backup run: a child process's output, hashed and counted on its way into the
 * store. Its result is known only when the store holds every byte AND the child exited 0.
 */
import { pipeline } from "node:stream";
import type { ObjectStore, PutStreamOptions } from "../store/object-store.js";
import type { ChildSource } from "./child-source.js";
import { DigestMeter } from "./digest-meter.js";

export interface StreamResult {
  key: string;
  bytes: number;
  sha256: string;
}

export interface UploadStream {
  readonly stage: string;
  readonly meter: DigestMeter;
  /** Stops the child and fails the stream with `reason` (another stream failed, or a signal). */
  cancel(reason: Error): void;
  readonly done: Promise<StreamResult>;
}

export function uploadChildOutput(
  stage: string,
  source: ChildSource,
  store: ObjectStore,
  key: string,
  options: PutStreamOptions,
): UploadStream {
  const meter = new DigestMeter();
  // pipeline() destroys the meter with the source's error, which fails the upload's read loop.
  pipeline(source.stream, meter, () => undefined);
  // Both must settle before the stream counts as finished: the upload's cleanup (abort of the
  // multipart upload) and the child's exit. The first failure is the cause worth reporting.
  let firstError: unknown;
  const note = (error: unknown) => {
    firstError ??= error;
    throw error;
  };
  const put = store.putStream(key, meter, options).catch((error: unknown) => {
    source.stop(); // a child blocked on a full pipe would otherwise never exit
    return note(error);
  });
  const exited = source.exited.catch(note);
  const done = Promise.allSettled([put, exited]).then(() => {
    if (firstError !== undefined) throw firstError;
    return { key, bytes: meter.bytes, sha256: meter.sha256 };
  });
  return {
    stage,
    meter,
    done,
    cancel(reason) {
      source.stop();
      meter.destroy(reason);
    },
  };
}
