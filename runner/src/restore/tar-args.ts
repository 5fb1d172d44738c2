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
    // Never follow or create anything outside the folder; keep names as stored otherwise.
    "--no-overwrite-dir",
    "--delay-directory-restore",
  ];
}

/** tar -t, listing every entry with its size (verify, drills of archives). */
export function tarListArgs(compression: Compression): string[] {
  return ["--list", "--file=-", ...decompressFlag(compression), "--verbose", "--verbose"];
}
