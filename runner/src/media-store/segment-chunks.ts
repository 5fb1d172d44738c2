/**
 * How each kind of segment chunk (segment-list.ts) is stored, and how readers get it back checked.
 * - index: the entries' JSON lines, gzip (node:zlib, so by hand it is `gzip -d`), then age when
 *   the set is encrypted;
 * - stat: the stat-cache records, deflated and sealed with the key derived from MEDIA_STORE_KEY
 *   (stat-cache.ts: a backup pod without the age identity reads it);
 * - objects: the segment's content object keys, one a line in walk order, plain (gc needs no
 *   secret; the keys are what a listing shows anyway).
 * A chunk is small (a segment's lines), so it is handled whole in memory. A reader trusts nothing
 * of a chunk until its stored size is the list's and its plaintext hashes to the list's sha256.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { promisify } from "node:util";
import { deflateRaw, gunzip, gzip, inflateRaw } from "node:zlib";
import { RunnerError, errorMessage } from "../errors.js";
import { ChecksumError } from "../readback/verified-feed.js";
import { encryptStream } from "../stages/age-encrypt.js";
import type { ChildSource } from "../stages/child-source.js";
import type { ObjectStore } from "../store/object-store.js";
import { openStream, sealStream } from "./sealed-stream.js";
import type { ChunkRef } from "./segment-list.js";

export interface ChunkCodec {
  encode(plain: Buffer): Promise<Buffer>;
  decode(stored: Buffer): Promise<Buffer>;
}

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);
const deflateAsync = promisify(deflateRaw);
const inflateAsync = promisify(inflateRaw);

async function outputOf(child: ChildSource): Promise<Buffer> {
  const [out] = await Promise.all([buffer(child.stream), child.exited]);
  return out;
}

/** Index chunks: gzip, then age to `recipients` (writing) or through `decrypt` (reading). */
export function indexCodec(sealing: {
  recipients?: readonly string[];
  decrypt?: (input: Readable) => ChildSource;
}): ChunkCodec {
  return {
    async encode(plain) {
      const packed = await gzipAsync(plain);
      return sealing.recipients ? outputOf(encryptStream(Readable.from([packed]), sealing.recipients)) : packed;
    },
    async decode(stored) {
      return gunzipAsync(sealing.decrypt ? await outputOf(sealing.decrypt(Readable.from([stored]))) : stored);
    },
  };
}

/** Stat chunks: deflated and sealed with `sealKey` (a chunk that does not authenticate is refused). */
export function statCodec(sealKey: Buffer): ChunkCodec {
  return {
    async encode(plain) {
      const seal = sealStream(sealKey);
      seal.end(await deflateAsync(plain));
      return buffer(seal);
    },
    async decode(stored) {
      const open = openStream(sealKey);
      open.end(stored);
      const opened = await buffer(open);
      if (!open.complete) throw new Error("the sealed chunk is cut short");
      return inflateAsync(opened);
    },
  };
}

/** Object-list chunks: stored as they are. */
export const objectsCodec: ChunkCodec = {
  encode: (plain) => Promise.resolve(plain),
  decode: (stored) => Promise.resolve(stored),
};

export const sha256Of = (bytes: Buffer): string => createHash("sha256").update(bytes).digest("hex");

/**
 * One chunk's plaintext, checked: its stored size against the list's, then its plaintext's sha256.
 * `where` names the set and the segment for messages (a missing or damaged chunk says which).
 */
export async function readChunk(store: ObjectStore, ref: ChunkRef, codec: ChunkCodec, where: string): Promise<Buffer> {
  let stored: Buffer;
  try {
    stored = await buffer(await store.get(ref.key));
  } catch (error) {
    throw new RunnerError(`${where}: chunk ${ref.key} could not be read (${errorMessage(error)}); is it missing?`);
  }
  if (stored.length !== ref.bytes)
    throw new ChecksumError(
      `${where}: chunk ${ref.key} has ${stored.length} bytes stored, the segment list says ${ref.bytes} (truncated or replaced)`,
    );
  let plain: Buffer;
  try {
    plain = await codec.decode(stored);
  } catch (error) {
    throw new ChecksumError(`${where}: chunk ${ref.key} could not be decoded (${errorMessage(error)}): damaged`);
  }
  const sha256 = sha256Of(plain);
  if (sha256 !== ref.sha256)
    throw new ChecksumError(
      `${where}: chunk ${ref.key}'s content has sha256 ${sha256}, the segment list says ${ref.sha256} (corrupted)`,
    );
  return plain;
}

/** Chunks read `ahead` at a time and handed out in order (memory: `ahead` chunks). */
export async function* readChunksInOrder<T>(
  items: readonly T[],
  read: (item: T, i: number) => Promise<Buffer>,
  ahead = 4,
): AsyncGenerator<Buffer> {
  const queue: Array<Promise<Buffer>> = [];
  let next = 0;
  const fill = () => {
    while (queue.length < ahead && next < items.length) {
      const p = read(items[next]!, next);
      p.catch(() => undefined); // awaited in turn; an early failure must not go unhandled meanwhile
      queue.push(p);
      next += 1;
    }
  };
  fill();
  while (queue.length) {
    const chunk = await queue.shift()!;
    fill();
    yield chunk;
  }
}
