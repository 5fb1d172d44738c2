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
    "--verbose",
    "--verbose",
    // Directory permissions (including the top folder's) are set after their contents are written.
    "--delay-directory-restore",
  ];
}

/** tar -t, listing every entry with its size (verify, drills of archives). */
export function tarListArgs(compression: Compression): string[] {
  return ["--list", "--file=-", ...decompressFlag(compression), "--verbose", "--verbose"];
}
