/**
 * The writing side of segments (segment-list.ts): entries come in walk order with their index
 * line, stat-cache record and object key; at each boundary the segment's three chunks are named
 * from their plaintext and handed to `store`, which reuses a chunk the store already has (as a
 * file's object is reused) and encodes and uploads only a new one. A few segments are stored at a
 * time while the walk goes on; the list comes out in order at the end.
 */
import type { StoreKey } from "./object-names.js";
import { indexCodec, objectsCodec, sha256Of, statCodec, type ChunkCodec } from "./segment-chunks.js";
import {
  CHUNK_KINDS,
  SegmentCutter,
  SEGMENT_PURPOSE,
  type ChunkKind,
  type ChunkRef,
  type Segment,
} from "./segment-list.js";

/** Stores a chunk under `key` unless the store has it; returns its stored bytes. */
export type ChunkStore = (key: string, encoded: () => Promise<Buffer>) => Promise<number>;

export interface SegmentWriterOptions {
  key: StoreKey;
  recipients?: readonly string[];
  /** The stat-cache seal (stat-cache.ts STAT_CACHE_PURPOSE). */
  sealKey: Buffer;
  store: ChunkStore;
  /**
   * The chunk names' generation (contract/object-names.ts CHUNK_GENERATION_RE): the previous set's, so unchanged segments are
   * reused, or a new one on a rehash run, so its set shares no metadata chunk with earlier sets.
   */
  generation?: string;
  /** Segments being stored at once. */
  inFlight?: number;
}

export class SegmentWriter {
  private parts: Record<ChunkKind, string[]> = { index: [], stat: [], objects: [] };
  private readonly segments: Array<Promise<Segment>> = [];
  private readonly running = new Set<Promise<Segment>>();
  /** The first segment that failed to store: the walk stops at the next entry. */
  private failure: unknown;
  private readonly cutter: SegmentCutter;
  private readonly codecs: Record<ChunkKind, ChunkCodec>;

  constructor(private readonly options: SegmentWriterOptions) {
    this.cutter = new SegmentCutter(options.key.derive(SEGMENT_PURPOSE));
    this.codecs = {
      index: indexCodec({ recipients: options.recipients }),
      stat: statCodec(options.sealKey),
      objects: objectsCodec,
    };
  }

  /**
   * One entry: its index line, and for a regular file its stat record line and object key. A
   * promise only at a segment's end (wait for it: it holds the walk while too many segments are
   * being stored); no promise for the ~511 entries of 512 that only append (one a file a run).
   */
  add(name: Buffer, line: string, record?: string, object?: string): Promise<void> | undefined {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    this.parts.index.push(line);
    if (record !== undefined) this.parts.stat.push(record);
    if (object !== undefined) this.parts.objects.push(`${object}\n`);
    return this.cutter.endsAfter(name) ? this.cut() : undefined;
  }

  /** Stores what is left; the set's segments in order. */
  async end(): Promise<Segment[]> {
    if (this.parts.index.length || this.segments.length === 0) await this.cut();
    return Promise.all(this.segments);
  }

  private async cut(): Promise<void> {
    const parts = this.parts;
    this.parts = { index: [], stat: [], objects: [] };
    const stored = this.storeSegment(parts);
    stored.catch((error: unknown) => (this.failure ??= error)); // also awaited in end(), or in the race below
    this.segments.push(stored);
    this.running.add(stored);
    void stored.finally(() => this.running.delete(stored)).catch(() => undefined);
    while (this.running.size >= (this.options.inFlight ?? 2)) await Promise.race(this.running);
  }

  private async storeSegment(parts: Record<ChunkKind, string[]>): Promise<Segment> {
    const refs = await Promise.all(CHUNK_KINDS.map((kind) => this.storeChunk(kind, parts[kind].join(""))));
    return { index: refs[0]!, stat: refs[1]!, objects: refs[2]! };
  }

  private async storeChunk(kind: ChunkKind, text: string): Promise<ChunkRef> {
    const plain = Buffer.from(text, "utf8");
    const sha256 = sha256Of(plain);
    // Only index chunks are age-encrypted; the stat chunk is sealed, the object list plain.
    const key = this.options.key.chunkKeyOf(
      kind,
      sha256,
      kind === "index" ? { recipients: this.options.recipients } : {},
      this.options.generation,
    );
    const bytes = await this.options.store(key, () => this.codecs[kind].encode(plain));
    return { key, bytes, sha256 };
  }
}
