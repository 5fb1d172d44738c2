/**
 * The reading side of segments (segment-list.ts): a set's segment list, checked against its
 * manifest entry before any line of it is trusted, and one kind of its chunks in order, a few
 * fetched ahead, each checked (segment-chunks.ts readChunk) before it is handed out.
 */
import { buffer } from "node:stream/consumers";
import type { StoredObjectEntry } from "../catalog/manifest.js";
import { ChecksumError, checksumProblem } from "../readback/verified-feed.js";
import type { ObjectStore } from "../store/object-store.js";
import { readChunk, readChunksInOrder, sha256Of, type ChunkCodec } from "./segment-chunks.js";
import { SEGMENT_LIST_OBJECT, parseSegmentList, type ChunkKind, type Segment } from "./segment-list.js";

export interface SegmentedSet {
  store: ObjectStore;
  /** `<tier>/<backupId>` */
  setPrefix: string;
  backupId: string;
}

/**
 * The set's segments. With `expected` (the manifest's entry for the list) the list is refused
 * unless its size and sha256 match; without it (an incomplete set, for gc) it is read as it is.
 */
export async function readSegmentList(
  set: SegmentedSet,
  expected?: Pick<StoredObjectEntry, "bytes" | "sha256">,
): Promise<Segment[]> {
  const where = `${set.setPrefix}/${SEGMENT_LIST_OBJECT}`;
  const body = await buffer(await set.store.get(where));
  const problem = expected && checksumProblem(where, { key: where, ...expected }, body.length, sha256Of(body));
  if (problem) throw new ChecksumError(problem);
  return parseSegmentList(body.toString("utf8"), where, set.backupId);
}

/** The plaintext of every segment's `kind` chunk, in order. */
export function segmentChunks(
  set: SegmentedSet,
  segments: readonly Segment[],
  kind: ChunkKind,
  codec: ChunkCodec,
): AsyncGenerator<Buffer> {
  const where = (i: number) => `${set.setPrefix}/${SEGMENT_LIST_OBJECT}, segment ${i + 1} of ${segments.length}`;
  return readChunksInOrder(segments, (s, i) => readChunk(set.store, s[kind], codec, where(i)));
}

/** A chunk's lines (each chunk ends with a new line; an empty chunk has none). */
export function linesOfChunk(chunk: Buffer): string[] {
  if (chunk.length === 0) return [];
  const lines = chunk.toString("utf8").split("\n");
  lines.pop();
  return lines;
}
