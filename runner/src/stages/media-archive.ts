/**
 * The media folder as a compressed tar stream (GNU tar, which the image ships). tar's verbose
 * listing (on stderr, since the archive goes to stdout) tells exactly which regular files and how
 * many bytes went into the archive, even when the folder changes during the run; the manifest
 * records those, and drills compare a restore against them.
 */
import { ARCHIVE_EXCLUDE_ARGS, type Compression } from "../contract.js";
import { spawnChildSource, type ChildSource } from "./child-source.js";

export interface ArchiveTally {
  files: number;
  sourceBytes: number;
}

/** tar's compressor program for a compression setting, or undefined for an uncompressed tar. */
export function compressorFor(compression: Compression, level: number): string | undefined {
  if (compression === "gzip") return `gzip -${level}`;
  // Single-threaded: at level 1 it outruns the stream's sha256 on one core (BENCHMARKS.md) and
  // needs ~5 MB instead of ~20 MB for worker buffers; -T0 would also count the host's cores, not
  // the container's CPU limit.
  if (compression === "zstd") return `zstd -q --single-thread -${level}`;
  return undefined;
}

export function tarCreateArgs(dir: string, compression: Compression, level: number): string[] {
  const compressor = compressorFor(compression, level);
  return [
    "--create",
    "--file=-",
    `--directory=${dir}`,
    "--format=gnu",
    "--numeric-owner",
    "--sort=name",
    "--verbose",
    "--verbose",
    ...(compressor ? [`--use-compress-program=${compressor}`] : []),
    // The runner's own staging and previous copies (inside a mount point) are never archived.
    ...ARCHIVE_EXCLUDE_ARGS,
    ".",
  ];
}

// "-rw-r--r-- 0/0   1234 2026-11-27 07:19 ./sub dir/file": type, owner, size, date, time, name.
const LISTING = /^([-dlhcbps])\S*\s+\S+\s+(\d+)\s+\d{4}-\d{2}-\d{2}\s+\d{2}:\d{2}\s/;

/** Adds one verbose listing line to the tally; returns false for a line that is not a listing. */
export function tallyListingLine(line: string, tally: ArchiveTally): boolean {
  const m = LISTING.exec(line);
  if (!m) return false;
  if (m[1] === "-") {
    tally.files += 1;
    tally.sourceBytes += Number(m[2]);
  } else if (m[1] === "h") {
    // A hard link is stored once; on extraction it is a regular file again.
    tally.files += 1;
  }
  return true;
}

const REGULAR_OR_HARD_LINK = /^[-h]\S*\s+\S+\s+\d+\s+\d{4}-\d{2}-\d{2}\s+\d{2}:\d{2}\s(.*)$/;
const C_ESCAPES: Record<string, number> = { a: 7, b: 8, t: 9, n: 10, v: 11, f: 12, r: 13, "\\": 0x5c, "?": 0x3f };

/**
 * The name of a regular file (or hard link, which extracts as one) in a verbose listing line, as
 * bytes. GNU tar's default quoting style ("escape") writes every byte that is not printable in
 * the locale as a C escape (\n, \ooo) and doubles backslashes, so the line decodes back to the
 * exact name. A hard link's name ends at " link to " (its target follows).
 */
export function listedFileName(line: string): Buffer | undefined {
  const m = REGULAR_OR_HARD_LINK.exec(line);
  if (!m) return undefined;
  let text = m[1]!;
  if (line.startsWith("h")) text = text.slice(0, Math.max(0, text.indexOf(" link to ")));
  const parts: Buffer[] = [];
  let from = 0;
  for (const m of text.matchAll(/\\([0-7]{3}|[abtnvfr\\?])/g)) {
    parts.push(Buffer.from(text.slice(from, m.index), "utf8"));
    const e = m[1]!;
    parts.push(Buffer.of(e.length === 3 ? parseInt(e, 8) : C_ESCAPES[e]!));
    from = m.index + m[0].length;
  }
  parts.push(Buffer.from(text.slice(from), "utf8"));
  return Buffer.concat(parts);
}

export function spawnMediaArchive(
  dir: string,
  compression: Compression,
  level: number,
  tally: ArchiveTally,
  onFileName?: (name: Buffer) => void,
): ChildSource {
  return spawnChildSource("tar", tarCreateArgs(dir, compression, level), {
    label: "tar (media archive)",
    onListingLine: (line) => {
      if (!tallyListingLine(line, tally) || !onFileName) return;
      const name = listedFileName(line);
      if (name) onFileName(name);
    },
  });
}
