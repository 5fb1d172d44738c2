/**
 * Under Object Lock: the dates the set's metadata chunks (segment-list.ts) were known to reach,
 * so the next backup, reusing them, needs no HeadObject for each (as the stat cache's seventh field
 * does for files' objects, object-retention.ts). No stat record can carry a chunk's date (a stat
 * chunk would have to name its own), so each set under Object Lock keeps them apart, in its folder:
 * `media-chunk-locks.sealed`, one line `<key> <ms since the epoch>` per distinct chunk, deflated
 * and sealed like the stat cache (a forged date could skip an extension; only a pod holding
 * MEDIA_STORE_KEY can make one that opens). Read only from the previous set, only when its
 * recipients are this run's (chunk names depend on them); a file that does not open is ignored
 * (every reused chunk is then looked at). ~90 bytes a segment: 0.5 MB at 10 M files.
 */
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { STORE_OBJECT_KEY_RE } from "../contract.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../output/logger.js";
import type { ObjectStore, PutStreamOptions } from "../store/object-store.js";
import { statCodec } from "./segment-chunks.js";

export const CHUNK_LOCKS_OBJECT = "media-chunk-locks.sealed";

/** Stores `locks` at `key` (the set's CHUNK_LOCKS_OBJECT), sealed with `sealKey`. */
export async function writeChunkLocks(
  store: ObjectStore,
  key: string,
  locks: ReadonlyMap<string, number>,
  sealKey: Buffer,
  lock: PutStreamOptions["lock"],
): Promise<void> {
  const text = [...locks].map(([k, ms]) => `${k} ${ms}\n`).join("");
  const sealed = await statCodec(sealKey).encode(Buffer.from(text, "utf8"));
  await store.putStream(key, Readable.from([sealed]), {
    partSize: 8 * 1024 * 1024,
    queueSize: 1,
    contentType: "application/octet-stream",
    lock,
  });
}

/** The dates a previous set recorded, or an empty map when it has none that opens (with a warning). */
export async function readChunkLocks(
  store: ObjectStore,
  key: string,
  sealKey: Buffer,
  log: Logger,
): Promise<Map<string, number>> {
  const locks = new Map<string, number>();
  try {
    const text = (await statCodec(sealKey).decode(await buffer(await store.get(key)))).toString("utf8");
    for (const line of text.split("\n")) {
      if (!line) continue;
      const [k, ms] = line.split(" ");
      if (!STORE_OBJECT_KEY_RE.test(k ?? "") || !/^[0-9]{1,15}$/.test(ms ?? "")) throw new Error("a line is malformed");
      locks.set(k!, Number(ms));
    }
  } catch (error) {
    log.warn(
      { stage: "stat-cache", error: errorMessage(error) },
      `${key} could not be read: every reused metadata chunk's retention is looked at`,
    );
    locks.clear();
  }
  return locks;
}
