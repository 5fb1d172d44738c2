/**
 * A store-format set's metadata in segments (docs/MANIFEST.md, "Segments"). Every set used to
 * write its index, object list and stat cache whole (~213 bytes a file a run, whatever changed).
 * Now the walk's entries are cut into segments at boundaries that depend only on an entry's name,
 * and each segment's three parts are content objects in the store (chunks), named like file
 * objects from their plaintext's sha256: a segment nothing in changed has the same chunks as in
 * the previous set and is reused, not stored again. The set itself keeps one small plain file, the
 * segment list (`media-segments.txt`, covered by the manifest's sha256): a header naming the set,
 * then one line per segment with each chunk's key, stored bytes and plaintext sha256.
 *
 * Boundaries: a segment ends after an entry whose name's keyed hash (HMAC with a key derived from
 * the store key) falls below 2^32 / SEGMENT_AVERAGE, or after SEGMENT_MAX entries (a folder of a
 * million files is still cut). Names are walk-ordered, so a new, changed or deleted file changes
 * its own segment (and its folder's, whose mtime changed), and the boundaries around it stay put.
 * Keyed, so the cut points say nothing about the names to someone who lacks the key.
 */
import { STORE_OBJECT_KEY_RE, objectName } from "../contract.js";
import { RunnerError } from "../errors.js";
import { KeyedHash } from "./keyed-hash.js";

export const SEGMENT_LIST_OBJECT = objectName("segments");
export const SEGMENT_PURPOSE = "segment-v1";
/** Entries a segment holds on average: ~85 + 82 + 47 bytes a file, so chunks of ~40-110 KB. */
export const SEGMENT_AVERAGE = 512;
export const SEGMENT_MAX = 4 * SEGMENT_AVERAGE;
const HEADER = "edms-media-segments 1 ";

/** A segment's three parts. */
export const CHUNK_KINDS = ["index", "stat", "objects"] as const;
export type ChunkKind = (typeof CHUNK_KINDS)[number];

/** One chunk as the list records it: its key, stored bytes and the sha256 of its plaintext. */
export interface ChunkRef {
  key: string;
  bytes: number;
  sha256: string;
}
export type Segment = Record<ChunkKind, ChunkRef>;

/** Decides where segments end, from the names alone. */
export class SegmentCutter {
  private count = 0;
  private readonly threshold = Math.floor(2 ** 32 / SEGMENT_AVERAGE);

  /** HMAC-SHA256 with the derived key, of which only the first 4 bytes are compared (keyed-hash.ts). */
  private readonly hmac: KeyedHash;

  constructor(key: Buffer) {
    this.hmac = new KeyedHash(key);
  }

  /** Called once per entry in walk order: whether the segment ends after this entry. */
  endsAfter(name: Buffer): boolean {
    this.count += 1;
    if (this.hmac.head32(name) >= this.threshold && this.count < SEGMENT_MAX) return false;
    this.count = 0;
    return true;
  }
}

export function segmentListHeader(backupId: string): string {
  return `${HEADER}${backupId}\n`;
}

export function segmentLine(s: Segment): string {
  return `${CHUNK_KINDS.map((k) => `${s[k].key} ${s[k].bytes} ${s[k].sha256}`).join(" ")}\n`;
}

const SHA256_RE = /^[0-9a-f]{64}$/;
const BYTES_RE = /^(0|[1-9][0-9]{0,15})$/;

/** The segments of a list's text; throws naming `where` unless it is the list of `backupId`. */
export function parseSegmentList(text: string, where: string, backupId: string): Segment[] {
  const lines = text.split("\n");
  if (lines.at(-1) !== "") throw new RunnerError(`${where}: the segment list does not end with a new line (cut short)`);
  lines.pop();
  if (lines[0] !== `${HEADER}${backupId}`)
    throw new RunnerError(
      `${where}: not the segment list of ${backupId} (its first line is not "${HEADER}${backupId}")`,
    );
  return lines.slice(1).map((line, i) => {
    const f = line.split(" ");
    const ok =
      f.length === 9 &&
      [0, 3, 6].every(
        (at) => STORE_OBJECT_KEY_RE.test(f[at]!) && BYTES_RE.test(f[at + 1]!) && SHA256_RE.test(f[at + 2]!),
      );
    if (!ok) throw new RunnerError(`${where}: line ${i + 2} is not a segment (three chunks: key, bytes, sha256)`);
    const ref = (at: number): ChunkRef => ({ key: f[at]!, bytes: Number(f[at + 1]), sha256: f[at + 2]! });
    return { index: ref(0), stat: ref(3), objects: ref(6) };
  });
}
