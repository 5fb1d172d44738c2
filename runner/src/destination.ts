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
    if (url.host !== "") return "file:// destinations need an absolute path: file:///absolute/path (three slashes)";
    const root = fileURLToPath(url).replace(/\/+$/, "") || "/";
    return { kind: "file", root, display: `file://${root}` };
  }
  return `unsupported scheme "${url.protocol}": use s3://bucket/prefix or file:///absolute/path`;
}
