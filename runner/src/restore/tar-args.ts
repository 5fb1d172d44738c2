import { LISTING_FLAGS } from "../archive/listing.js";
import type { Compression } from "../contract.js";

export function decompressFlag(compression: Compression): string[] {
  return compression === "gzip" ? ["--gzip"] : compression === "zstd" ? ["--zstd"] : [];
}

/** tar -x into `dir`, listing each entry (stdout) so the restore can refuse unsafe ones. */
export function tarExtractArgs(dir: string, compression: Compression): string[] {
  return [
    "--extract",
    "--file=-",
    `--directory=${dir}`,
    ...decompressFlag(compression),
    ...LISTING_FLAGS,
    // The archive's modes exactly, not masked by the umask: as root tar does this anyway; the
    // pod's non-root runner would otherwise turn a group-writable 0664 into 0644.
    "--preserve-permissions",
    // Directory permissions (including the top folder's) are set after their contents are written.
    "--delay-directory-restore",
  ];
}

/** tar -t, listing every entry with its size (verify, drills of archives). */
export function tarListArgs(compression: Compression): string[] {
  return ["--list", "--file=-", ...decompressFlag(compression), ...LISTING_FLAGS, "--numeric-owner"];
}
