/**
 * Database <-> media references, the pure part: paths are bytes (a file name need not be UTF-8),
 * normalised the way Django and tar write them, and compared as bytes. Keys are the bytes as a
 * latin1 string: one character per byte, so a Set of keys compares and sorts exactly by bytes
 * while costing far less than a Buffer per name.
 */

/** At most this many missing paths are recorded (sorted by bytes); the count is always exact. */
export const MAX_MISSING_PATHS = 100;

export type PathKey = string & { readonly __pathKey: unique symbol };

const SLASH = 0x2f;
const DOT = 0x2e;

/** `./a/b`, `/a/b`, `//./a/b` and `a/b` are the same media file: strips leading `./` and `/`. */
export function normaliseMediaPath(bytes: Uint8Array): Buffer {
  let at = 0;
  for (;;) {
    if (bytes[at] === SLASH) at += 1;
    else if (bytes[at] === DOT && bytes[at + 1] === SLASH) at += 2;
    else break;
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset + at, bytes.byteLength - at);
}

/** The comparison key of a path (normalised first); empty for a path that names nothing. */
export function pathKey(bytes: Uint8Array): PathKey {
  return normaliseMediaPath(bytes).toString("latin1") as PathKey;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A path for people and JSON: as UTF-8 when it is valid UTF-8 (always, for a UTF8 database),
 * otherwise with each byte outside printable ASCII as \xNN and backslashes doubled.
 */
export function displayMediaPath(key: PathKey): string {
  const bytes = Buffer.from(key, "latin1");
  try {
    return utf8.decode(bytes);
  } catch {
    let out = "";
    for (const b of bytes)
      out +=
        b === 0x5c ? "\\\\" : b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, "0")}`;
    return out;
  }
}

export interface ReferenceComparison {
  /** Distinct non-empty paths the columns hold. */
  referenced: number;
  /** Referenced paths that are not a regular file of the media. */
  missing: number;
  /** The first MAX_MISSING_PATHS missing paths, sorted by bytes, for display. */
  missingPaths: string[];
  /** Regular files that no referenced path names. */
  unreferenced: number;
}

/** A growing set of path keys (what the columns hold, or what the archive holds). */
export class PathSet {
  readonly keys = new Set<PathKey>();
  add(bytes: Uint8Array): void {
    const key = pathKey(bytes);
    if (key !== "") this.keys.add(key);
  }
}

export interface ReferenceCheck extends ReferenceComparison {
  /** Every missing path, sorted by bytes (kept in memory only; the manifest keeps the first few). */
  allMissing: PathKey[];
}

export function compareReferences(referenced: PathSet, files: PathSet): ReferenceCheck {
  const missing: PathKey[] = [];
  let found = 0;
  for (const key of referenced.keys) {
    if (files.keys.has(key)) found += 1;
    else missing.push(key);
  }
  // Code-unit order of latin1 keys is byte order.
  missing.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return {
    referenced: referenced.keys.size,
    missing: missing.length,
    missingPaths: missing.slice(0, MAX_MISSING_PATHS).map(displayMediaPath),
    unreferenced: files.keys.size - found,
    allMissing: missing,
  };
}

/**
 * Paths missing from a restored copy that the backup did not already record as missing. The
 * manifest lists the first MAX_MISSING_PATHS missing paths in byte order, so any missing path
 * sorting before the last listed one must be listed; past it, only the count can tell.
 */
export function newlyMissing(
  recorded: Pick<ReferenceComparison, "missing" | "missingPaths">,
  allMissing: readonly PathKey[],
): { paths: string[]; count: number } {
  const listed = new Set(recorded.missingPaths);
  const complete = recorded.missingPaths.length >= recorded.missing;
  const last = recorded.missingPaths.at(-1);
  const lastKey = last === undefined ? undefined : Buffer.from(last, "utf8").toString("latin1");
  const paths = allMissing
    .filter((k) => complete || lastKey === undefined || k < lastKey)
    .map(displayMediaPath)
    .filter((p) => !listed.has(p));
  const count = complete ? paths.length : Math.max(paths.length, allMissing.length - recorded.missing);
  return { paths: paths.slice(0, MAX_MISSING_PATHS), count };
}
