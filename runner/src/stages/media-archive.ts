/**
 * The media folder as a compressed tar stream (GNU tar, which the image ships). tar's verbose
 * listing (on stderr, since the archive goes to stdout) tells exactly which regular files and how
 * many bytes went into the archive, even when the folder changes during the run; the manifest
 * records those, and drills compare a restore against them. The same listing is judged as it
 * comes, so an entry that a restore would refuse stops the backup.
 */
import type { EntryInspector } from "../archive/inspector.js";
import { LISTING_FLAGS, tarEnv } from "../archive/listing.js";
import { ARCHIVE_EXCLUDE_ARGS, type Compression } from "../contract.js";
import { spawnChildSource, type ChildSource } from "./child-source.js";

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
    ...LISTING_FLAGS,
    ...(compressor ? [`--use-compress-program=${compressor}`] : []),
    // The runner's own staging and previous copies (inside a mount point) are never archived.
    ...ARCHIVE_EXCLUDE_ARGS,
    ".",
  ];
}

export function spawnMediaArchive(
  dir: string,
  compression: Compression,
  level: number,
  inspector: EntryInspector,
): ChildSource {
  return spawnChildSource("tar", tarCreateArgs(dir, compression, level), {
    label: "tar (media archive)",
    env: tarEnv(),
    onListingLine: (line) => inspector.line(line),
  });
}
