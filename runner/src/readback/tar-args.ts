/**
 * readback/: reading a stored set back, held against its manifest. verify, restore, drill and the
 * media store all read through here (each object hashed while it streams, the dump decoded, the
 * media archive listed or extracted by tar), so a check added here protects every reader. This
 * file: the tar invocations that list or extract a media archive from stdin.
 */
import type { EntryInspector } from "../archive/inspector.js";
import { LISTING_FLAGS, tarEnv } from "../archive/listing.js";
import type { Compression } from "../contract.js";
import { spawnSinkChain, type ChildSink } from "../stages/child-sink.js";
import { decompressSteps } from "../stages/decompress.js";

/** tar -x of an uncompressed archive on stdin into `dir`, listing each entry (stdout) so the restore can refuse unsafe ones. */
export function tarExtractArgs(dir: string): string[] {
  return [
    "--extract",
    "--file=-",
    `--directory=${dir}`,
    ...LISTING_FLAGS,
    // The archive's modes exactly, not masked by the umask: as root tar does this anyway; the
    // pod's non-root runner would otherwise turn a group-writable 0664 into 0644.
    "--preserve-permissions",
    // Directory permissions (including the top folder's) are set after their contents are written.
    "--delay-directory-restore",
  ];
}

/** tar -t of an uncompressed archive on stdin, listing every entry with its size (verify, imports). */
export function tarListArgs(): string[] {
  return ["--list", "--file=-", ...LISTING_FLAGS, "--numeric-owner"];
}

/**
 * `decompressor | tar <args>` fed on stdin, every entry tar lists going to `inspector`: the media
 * archive as restore (tarExtractArgs), verify and import (tarListArgs) read it.
 */
export function spawnTarSink(
  compression: Compression,
  args: string[],
  label: string,
  inspector: EntryInspector,
): ChildSink {
  return spawnSinkChain([
    ...decompressSteps(compression),
    { command: "tar", args, options: { label, env: tarEnv(), onListingLine: (line) => inspector.line(line) } },
  ]);
}
