/**
 * The reading side of segments (segment-list.ts): a set's segment list, checked against its
 * manifest entry before any line of it is trusted, and one kind of its chunks in order, a few
 * fetched ahead, each checked (segment-chunks.ts readChunk) before it is handed out; the index of
 * a set in segments (store-reader.ts readIndex), and verify's look at its chunks.
 */
import { buffer } from "node:stream/consumers";
import type { MediaEntry, StoredObjectEntry } from "../catalog/manifest.js";
import { RunnerError, errorMessage } from "../errors.js";
import { ChecksumError, checksumProblem } from "../readback/verified-feed.js";
import type { ObjectStore } from "../store/object-store.js";
import { parseEntryLine, type IndexEntry } from "./media-index.js";
import { ObjectCatalog } from "./object-catalog.js";
import { indexCodec, objectsCodec, readChunk, readChunksInOrder, sha256Of, type ChunkCodec } from "./segment-chunks.js";
import { CHUNK_KINDS, SEGMENT_LIST_OBJECT, parseSegmentList, type ChunkKind, type Segment } from "./segment-list.js";
import type { StoreReadContext } from "./store-reader.js";

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

/**
 * A set in segments: the segment list checked against the manifest, then each segment's index
 * chunk (a few fetched ahead), each checked against the list's sha256 before a line of it is
 * parsed. Line numbers in messages count the list's header as line 1, as a whole index's header.
 */
export async function* readSegmentedIndex(
  ctx: StoreReadContext,
  entry: MediaEntry,
  mayNeed?: (line: string) => boolean,
): AsyncGenerator<IndexEntry> {
  const where = `${ctx.setPrefix}/${entry.key}`;
  const set = { store: ctx.store, setPrefix: ctx.setPrefix, backupId: ctx.backupId };
  const segments = await readSegmentList(set, entry);
  let lineNo = 1;
  for await (const chunk of segmentChunks(set, segments, "index", indexCodec({ decrypt: ctx.decrypt })))
    for (const line of linesOfChunk(chunk)) {
      lineNo += 1;
      if (mayNeed && !mayNeed(line)) continue;
      yield parseEntryLine(line, where, lineNo);
    }
  if (lineNo === 1) throw new RunnerError(`${where}: the index is empty`);
}

/**
 * Verify's look at a segmented set's chunks (every kind): each in the listing with the size the
 * segment list records; with `full`, the object-list chunks read and rehashed too (the index
 * chunks are, by the index's read; stat chunks need the store key, which verify does not hold).
 */
export async function checkChunks(
  ctx: StoreReadContext,
  entry: MediaEntry,
  known: ObjectCatalog,
  full: boolean,
  note: (problem: string) => void,
): Promise<void> {
  const where = `${ctx.setPrefix}/${entry.key}`;
  const segments = await readSegmentList({ store: ctx.store, setPrefix: ctx.setPrefix, backupId: ctx.backupId }, entry);
  for (const [i, segment] of segments.entries())
    for (const kind of CHUNK_KINDS) {
      const ref = segment[kind];
      const bytes = known.bytesOf(ref.key);
      if (bytes !== undefined && !known.markUsed(ref.key)) continue;
      const at = `${where}, segment ${i + 1}'s ${kind} chunk ${ref.key}`;
      if (bytes === undefined) note(`${at}: missing from the store`);
      else if (bytes !== ref.bytes) note(`${at}: ${bytes} bytes stored, the segment list says ${ref.bytes}`);
      else if (full && kind === "objects")
        await readChunk(ctx.store, ref, objectsCodec, at).catch((error: unknown) => note(errorMessage(error)));
    }
}

/**
 * What verify checks of a segmented set it cannot decrypt (no identity): every chunk the segment
 * list names is in one listing of the store with its recorded size.
 */
export async function verifyStoreChunks(ctx: StoreReadContext, entry: MediaEntry): Promise<string[]> {
  const problems: string[] = [];
  try {
    await checkChunks(ctx, entry, await ObjectCatalog.fromListing(ctx.store), false, (p) => problems.push(p));
  } catch (error) {
    problems.push(errorMessage(error));
  }
  return problems;
}
