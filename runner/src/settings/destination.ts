/** Parses BACKUP_DESTINATION: `s3://bucket/optional/prefix` or `file:///absolute/path`. */
import { fileURLToPath } from "node:url";

export type Destination =
  { kind: "s3"; bucket: string; prefix: string; display: string } | { kind: "file"; root: string; display: string };

/** Returns the destination, or a sentence saying what is wrong with the value. */
export function parseDestination(value: string): Destination | string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return "must be a URL: s3://bucket/prefix or file:///absolute/path";
  }
  if (url.protocol === "s3:") {
    const bucket = url.hostname;
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      return `"${bucket}" is not a valid S3 bucket name (3-63 lowercase letters, digits, dots, hyphens)`;
    }
    const prefix = decodeURIComponent(url.pathname).replace(/^\/+|\/+$/g, "");
    return { kind: "s3", bucket, prefix, display: `s3://${bucket}/${prefix}` };
  }
  if (url.protocol === "file:") {
    // The URL parser reads "file:relative" and "file:/x" as "/relative" and "/x": the shape is
    // checked on the text, so a typo never writes backups somewhere the operator did not name.
    if (!/^file:\/\//i.test(value))
      return `needs three slashes and an absolute path: file:///absolute/path (got "${value}")`;
    if (url.host !== "") return "file:// destinations need an absolute path: file:///absolute/path (three slashes)";
    if (url.search || url.hash) return `a file:// destination has no ?query or #fragment (got "${value}")`;
    let root: string;
    try {
      root = fileURLToPath(url);
    } catch {
      return `"${value}" is not a usable folder path (an encoded "/" (%2F) or NUL (%00) cannot be part of a folder name)`;
    }
    if (root.includes("\0")) return `"${value}" is not a usable folder path (it contains a NUL byte)`;
    root = root.replace(/\/+$/, "") || "/";
    if (root === "/")
      return `"${value}" is the root folder; name a folder for the backups, e.g. file:///var/backups/edms`;
    return { kind: "file", root, display: `file://${root}` };
  }
  return `unsupported scheme "${url.protocol}": use s3://bucket/prefix or file:///absolute/path`;
}
