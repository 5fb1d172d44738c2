/**
 * The store format's per-set media index: one JSON line per entry of the media folder, in walk
 * order (a folder before its contents, names in byte order), after one header line. Names and
 * link targets are bytes, written base64, so any name (not UTF-8, a newline, " -> ") reads back
 * exactly; everything else is plain JSON a python3 or jq one-liner can read (docs/MANIFEST.md).
 * The index is written and read as a stream, one line at a time, never held whole.
 */
import { z } from "zod";
import type { EntryType } from "../archive/listing.js";

export const INDEX_VERSION = 1;

export const ENTRY_TYPES = ["file", "dir", "symlink", "hardlink", "fifo"] as const;
export type IndexEntryType = (typeof ENTRY_TYPES)[number];
const LETTER: Record<IndexEntryType, EntryType> = { file: "-", dir: "d", symlink: "l", hardlink: "h", fifo: "p" };
/** The type letter tar's listing uses (what the EntryInspector judges). */
export function typeLetter(type: IndexEntryType): EntryType {
  return LETTER[type];
}
export function typeOfLetter(letter: EntryType): IndexEntryType | undefined {
  return ENTRY_TYPES.find((t) => LETTER[t] === letter);
}

const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, { message: "must be base64" });
const nat = z.number().int().nonnegative();

export const indexHeaderSchema = z.object({
  edmsMediaIndex: z.literal(INDEX_VERSION),
  backupId: z.string().min(1),
});
export type IndexHeader = z.infer<typeof indexHeaderSchema>;

const lineSchema = z
  .object({
    /** The name below the media folder, base64 of its bytes. */
    path: base64,
    type: z.enum(ENTRY_TYPES),
    /** Permission bits (07777), uid and gid (restored when the restore runs as root, as tar does). */
    mode: z.number().int().min(0).max(0o7777),
    uid: nat,
    gid: nat,
    /** Modification time in nanoseconds since the epoch (may be negative), as a decimal string. */
    mtimeNs: z.string().regex(/^-?[0-9]{1,30}$/),
    /** file: size and sha256 of the content, the object holding it and that object's stored size. */
    size: nat.optional(),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .optional(),
    object: z.string().optional(),
    objectBytes: nat.optional(),
    /** symlink: its target; hardlink: the first name of the same file (its hard-link group). */
    target: base64.optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    const fileFields = [e.size, e.sha256, e.object, e.objectBytes];
    if (e.type === "file" && fileFields.some((f) => f === undefined))
      ctx.addIssue({ code: "custom", message: "a file needs size, sha256, object and objectBytes" });
    if (e.type !== "file" && fileFields.some((f) => f !== undefined))
      ctx.addIssue({ code: "custom", message: `a ${e.type} has no content fields` });
    if ((e.type === "symlink" || e.type === "hardlink") !== (e.target !== undefined))
      ctx.addIssue({ code: "custom", message: "target is for symlinks and hard links only, and they need one" });
  });

export interface IndexEntry {
  name: Buffer;
  type: IndexEntryType;
  mode: number;
  uid: number;
  gid: number;
  mtimeNs: bigint;
  size?: number;
  sha256?: string;
  /** The content object's key below the destination (store/objects/...). */
  object?: string;
  objectBytes?: number;
  target?: Buffer;
}

/**
 * The entry's line: byte for byte what JSON.stringify gives for these fields in this order, absent
 * ones left out (a segment's chunk is named from its bytes, so an unchanged segment must come out
 * the same; test/runner/index-line.test.ts). Built by hand: one line a file per run, and
 * stringifying an object was ~4% of a 1%-changed second backup's CPU. Base64, the type and the
 * numbers need no escaping; the strings that might are quoted by JSON.stringify.
 */
export function entryLine(e: IndexEntry): string {
  let line = `{"path":"${e.name.toString("base64")}","type":"${e.type}","mode":${e.mode},"uid":${e.uid},"gid":${e.gid},"mtimeNs":"${e.mtimeNs}"`;
  if (e.size !== undefined) line += `,"size":${e.size}`;
  if (e.sha256 !== undefined) line += `,"sha256":${JSON.stringify(e.sha256)}`;
  if (e.object !== undefined) line += `,"object":${JSON.stringify(e.object)}`;
  if (e.objectBytes !== undefined) line += `,"objectBytes":${e.objectBytes}`;
  if (e.target !== undefined) line += `,"target":"${e.target.toString("base64")}"`;
  return `${line}}\n`;
}

/**
 * A regular file's line, entryLine's exactly, in one template: a backup writes one a file, and
 * the generic one's appends and quoting were ~1 µs a file (issue 22, second backup vs restic).
 * Nothing here needs escaping: `sha256` is 64 hex digits (a digest, or a stat record's, checked
 * when read) and `object` a content object's key (hex digits, "/", ".age"); the property test in
 * test/runner/index-line.test.ts holds the two equal.
 */
export function fileEntryLine(
  common: Omit<IndexEntry, "type">,
  size: number,
  sha256: string,
  object: string,
  objectBytes: number,
): string {
  return `{"path":"${common.name.toString("base64")}","type":"file","mode":${common.mode},"uid":${common.uid},"gid":${common.gid},"mtimeNs":"${common.mtimeNs}","size":${size},"sha256":"${sha256}","object":"${object}","objectBytes":${objectBytes}}\n`;
}

/** Parses the header line; throws naming the index when it is not one. */
export function parseHeader(line: string, where: string): IndexHeader {
  const parsed = indexHeaderSchema.safeParse(safeJson(line));
  if (!parsed.success) throw new Error(`${where}: not a media index (its first line is not the header)`);
  return parsed.data;
}

/** Parses one entry line; throws naming the line number. */
export function parseEntryLine(line: string, where: string, lineNo: number): IndexEntry {
  const parsed = lineSchema.safeParse(safeJson(line));
  if (!parsed.success)
    throw new Error(
      `${where} line ${lineNo}: ${parsed.error.issues.map((i) => `${i.path.join(".") || "entry"}: ${i.message}`).join("; ")}`,
    );
  const e = parsed.data;
  return {
    name: Buffer.from(e.path, "base64"),
    type: e.type,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    mtimeNs: BigInt(e.mtimeNs),
    size: e.size,
    sha256: e.sha256,
    object: e.object,
    objectBytes: e.objectBytes,
    target: e.target === undefined ? undefined : Buffer.from(e.target, "base64"),
  };
}

function safeJson(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return undefined;
  }
}
