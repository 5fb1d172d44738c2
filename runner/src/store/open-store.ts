import type { Destination } from "../settings/destination.js";
import { FileStore } from "./file-store.js";
import type { ObjectStore } from "./object-store.js";
import { S3Store } from "./s3-store.js";

export function openStore(destination: Destination, s3Endpoint?: string): ObjectStore {
  return destination.kind === "s3"
    ? new S3Store({ bucket: destination.bucket, prefix: destination.prefix, endpoint: s3Endpoint })
    : new FileStore(destination.root);
}
