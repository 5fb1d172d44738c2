/**
 * An S3 bucket (or S3-compatible store) as a backup store. Streams go through lib-storage's
 * multipart Upload (bounded memory: part size x parts in flight). Credentials come from the SDK's
 * default chain, so IRSA and EKS Pod Identity work without configuration.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import { Readable } from "node:stream";
import { loadAwsSdk, type AwsSdk } from "../aws/load.js";
import { CREDENTIALS_HINT, isMissingCredentials } from "../aws/credentials-hint.js";
import {
  AlreadyExistsError,
  NotFoundError,
  type ObjectHead,
  type ObjectStore,
  type ObjectLockRetention,
  type PutStreamOptions,
  type StoredObject,
  type UnfinishedUpload,
} from "./object-store.js";

/** See delete(): well inside gc's lease margin (at least 60 s in production). */
const DELETE_TIMEOUT_MS = 20_000;

export interface S3StoreOptions {
  bucket: string;
  prefix: string;
  endpoint?: string;
  region?: string;
  /** Keys a list request asks for (MaxKeys); unset: S3's default and maximum, 1000. Tests set it small to list many pages. */
  pageKeys?: number;
}

export async function newS3Client(endpoint?: string, region?: string): Promise<S3Client> {
  const { s3 } = await loadAwsSdk();
  return new s3.S3Client({
    region: region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? "us-east-1",
    ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
    maxAttempts: 5,
  });
}

/** An error answered by the service (as opposed to the network or our own stream). */
interface ServiceError {
  name: string;
  message: string;
  $metadata: { httpStatusCode?: number };
}

function isServiceError(error: unknown): error is ServiceError {
  return typeof error === "object" && error !== null && "$metadata" in error && "$fault" in error;
}

function isStatus(error: unknown, ...codes: number[]): boolean {
  return isServiceError(error) && codes.includes(error.$metadata.httpStatusCode ?? 0);
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ETIMEDOUT", "ECONNRESET", "EHOSTUNREACH"]);

/** One sentence saying what failed and where to look, instead of the SDK's raw error. */
export function describeS3Error(error: unknown, action: string, where: string): Error {
  if (isServiceError(error)) {
    const hint =
      error.name === "AccessDenied" || error.$metadata.httpStatusCode === 403
        ? "; check the runner's credentials and its IAM policy"
        : error.name === "NoSuchBucket"
          ? "; check BACKUP_DESTINATION (the bucket must exist)"
          : "";
    return new Error(`S3 ${action} ${where} failed: ${error.name}: ${error.message}${hint}`, { cause: error });
  }
  if (isMissingCredentials(error))
    return new Error(`S3 ${action} ${where} failed: ${CREDENTIALS_HINT}`, { cause: error });
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code && NETWORK_CODES.has(code)) {
    return new Error(
      `S3 ${action} ${where} failed: the endpoint is unreachable (${code}); check S3_ENDPOINT, DNS and the egress network policy`,
      { cause: error },
    );
  }
  const message = error instanceof Error ? error.message : String(error);
  return new Error(`S3 ${action} ${where} failed: ${message}`, { cause: error });
}

/** Errors of the stream being uploaded (a child failed, a signal) pass through unchanged. */
function isSourceError(error: unknown): boolean {
  return (
    !isServiceError(error) &&
    !isMissingCredentials(error) &&
    !NETWORK_CODES.has((error as NodeJS.ErrnoException | undefined)?.code ?? "")
  );
}

export class S3Store implements ObjectStore {
  readonly display: string;
  private readonly client: Promise<S3Client>;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly pageKeys: number | undefined;

  constructor(options: S3StoreOptions, client?: S3Client) {
    this.bucket = options.bucket;
    this.pageKeys = options.pageKeys;
    this.prefix = options.prefix ? `${options.prefix}/` : "";
    this.client = client ? Promise.resolve(client) : newS3Client(options.endpoint, options.region);
    this.display = `s3://${this.bucket}/${options.prefix}`;
  }

  /** The lazily loaded SDK and this store's client. */
  private async sdk(): Promise<{ s3: AwsSdk["s3"]; client: S3Client }> {
    const [{ s3 }, client] = await Promise.all([loadAwsSdk(), this.client]);
    return { s3, client };
  }

  private keyOf(key: string): string {
    return `${this.prefix}${key}`;
  }

  private lockParams(lock: PutStreamOptions["lock"]) {
    // Object Lock puts need an integrity checksum; the SDK sends CRC32 by default, made explicit here.
    return lock
      ? { ObjectLockMode: lock.mode, ObjectLockRetainUntilDate: lock.retainUntil, ChecksumAlgorithm: "CRC32" as const }
      : {};
  }

  async putStream(key: string, body: Readable, options: PutStreamOptions): Promise<void> {
    const Key = this.keyOf(key);
    const [{ Upload }, client] = await Promise.all([loadAwsSdk(), this.client]);
    const upload = new Upload({
      client,
      partSize: options.partSize,
      queueSize: options.queueSize,
      leavePartsOnError: false,
      params: {
        Bucket: this.bucket,
        Key,
        Body: body,
        ContentType: options.contentType,
        // Conditional write: the store refuses to replace an object that already exists.
        IfNoneMatch: "*",
        ...this.lockParams(options.lock),
      },
    });
    try {
      await upload.done();
    } catch (error) {
      await this.abortUnfinishedUploads(Key);
      if (isStatus(error, 412)) throw new AlreadyExistsError(key);
      throw isSourceError(error) ? error : describeS3Error(error, "upload to", `s3://${this.bucket}/${Key}`);
    }
  }

  /**
   * lib-storage aborts its multipart upload when the body errors, but an abort racing with an
   * in-flight CreateMultipartUpload can miss it; sweeping the key's uploads makes "no unfinished
   * multipart upload left behind" hold in every case.
   */
  private async abortUnfinishedUploads(Key: string): Promise<void> {
    try {
      const { s3, client } = await this.sdk();
      const listed = await client.send(new s3.ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: Key }));
      for (const upload of listed.Uploads ?? []) {
        if (upload.Key !== Key || !upload.UploadId) continue;
        await client.send(new s3.AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: upload.UploadId }));
      }
    } catch {
      // The run is failing already and its own error is the one to report. What is left is not
      // hidden: `status` and `list` report unfinished uploads, and the next run (or the bucket's
      // lifecycle rule) aborts them after a day, with a warning when it cannot.
    }
  }

  async putSmall(
    key: string,
    body: string | Buffer,
    options: { contentType: string; lock?: PutStreamOptions["lock"] },
  ): Promise<void> {
    const { s3, client } = await this.sdk();
    try {
      await client.send(
        new s3.PutObjectCommand({
          Bucket: this.bucket,
          Key: this.keyOf(key),
          Body: body,
          ContentType: options.contentType,
          IfNoneMatch: "*",
          ...this.lockParams(options.lock),
        }),
      );
    } catch (error) {
      if (isStatus(error, 412)) throw new AlreadyExistsError(key);
      throw describeS3Error(error, "upload to", `s3://${this.bucket}/${this.keyOf(key)}`);
    }
  }

  async get(key: string): Promise<Readable> {
    const { s3, client } = await this.sdk();
    try {
      const out = await client.send(new s3.GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
      if (!(out.Body instanceof Readable)) throw new Error(`unexpected body type for ${key}`);
      return out.Body;
    } catch (error) {
      if (isStatus(error, 404)) throw new NotFoundError(key);
      throw describeS3Error(error, "download of", `s3://${this.bucket}/${this.keyOf(key)}`);
    }
  }

  async head(key: string): Promise<ObjectHead | undefined> {
    const { s3, client } = await this.sdk();
    try {
      const out = await client.send(new s3.HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
      const mode = out.ObjectLockMode;
      const until = out.ObjectLockRetainUntilDate;
      return {
        bytes: out.ContentLength ?? 0,
        ...((mode === "GOVERNANCE" || mode === "COMPLIANCE") && until ? { lock: { mode, retainUntil: until } } : {}),
        ...(out.ObjectLockLegalHoldStatus === "ON" ? { legalHold: true } : {}),
      };
    } catch (error) {
      if (isStatus(error, 404)) return undefined;
      throw describeS3Error(error, "head of", `s3://${this.bucket}/${this.keyOf(key)}`);
    }
  }

  async setRetention(key: string, lock: ObjectLockRetention): Promise<void> {
    const { s3, client } = await this.sdk();
    try {
      await client.send(
        new s3.PutObjectRetentionCommand({
          Bucket: this.bucket,
          Key: this.keyOf(key),
          Retention: { Mode: lock.mode, RetainUntilDate: lock.retainUntil },
          // Object Lock requests need an integrity checksum (AWS and moto refuse them without one).
          ChecksumAlgorithm: "CRC32",
        }),
      );
    } catch (error) {
      throw describeS3Error(error, "retention update of", `s3://${this.bucket}/${this.keyOf(key)}`);
    }
  }

  /**
   * DeleteObject without a version id, one request per key (gc deletes few objects per run, and
   * each is checked just before). A request gives up after DELETE_TIMEOUT_MS: gc's lease
   * (media-store/gc-lease.ts) counts on no delete landing long after it was sent.
   */
  async delete(keys: readonly string[]): Promise<void> {
    const { s3, client } = await this.sdk();
    for (const key of keys)
      await client
        .send(new s3.DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }), {
          abortSignal: AbortSignal.timeout(DELETE_TIMEOUT_MS),
        })
        .catch((error: unknown) => {
          throw describeS3Error(error, "delete of", `s3://${this.bucket}/${this.keyOf(key)}`);
        });
  }

  /** One ListObjectsV2 page a batch (S3 lists in key order). */
  async *listBatches(prefix: string): AsyncIterable<StoredObject[]> {
    const { s3, client } = await this.sdk();
    let ContinuationToken: string | undefined;
    do {
      const page = await client
        .send(
          new s3.ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.keyOf(prefix),
            ContinuationToken,
            ...(this.pageKeys ? { MaxKeys: this.pageKeys } : {}),
          }),
        )
        .catch((error: unknown) => {
          throw describeS3Error(error, "list of", `s3://${this.bucket}/${this.keyOf(prefix)}`);
        });
      const batch: StoredObject[] = [];
      for (const object of page.Contents ?? []) {
        if (!object.Key) continue;
        batch.push({
          key: object.Key.slice(this.prefix.length),
          bytes: object.Size ?? 0,
          lastModified: object.LastModified ?? new Date(0),
        });
      }
      if (batch.length > 0) yield batch;
      ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (ContinuationToken);
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    for await (const batch of this.listBatches(prefix)) yield* batch;
  }

  async listUnfinishedUploads(options: { sizes: boolean }): Promise<UnfinishedUpload[]> {
    const { s3, client } = await this.sdk();
    const where = `s3://${this.bucket}/${this.prefix}`;
    const out: UnfinishedUpload[] = [];
    let KeyMarker: string | undefined;
    let UploadIdMarker: string | undefined;
    do {
      const page = await client
        .send(
          new s3.ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: this.prefix, KeyMarker, UploadIdMarker }),
        )
        .catch((error: unknown) => {
          throw describeS3Error(error, "listing of unfinished multipart uploads under", where);
        });
      for (const upload of page.Uploads ?? []) {
        if (!upload.Key?.startsWith(this.prefix) || !upload.UploadId) continue;
        out.push({
          key: upload.Key.slice(this.prefix.length),
          uploadId: upload.UploadId,
          initiated: upload.Initiated ?? new Date(0),
          bytes: options.sizes ? await this.partBytes(upload.Key, upload.UploadId) : 0,
        });
      }
      [KeyMarker, UploadIdMarker] = page.IsTruncated ? [page.NextKeyMarker, page.NextUploadIdMarker] : [];
    } while (KeyMarker);
    return out;
  }

  /** The bytes an unfinished upload's parts hold (ListParts, all pages). */
  private async partBytes(Key: string, UploadId: string): Promise<number> {
    const { s3, client } = await this.sdk();
    let bytes = 0;
    let PartNumberMarker: string | undefined;
    do {
      const page = await client
        .send(new s3.ListPartsCommand({ Bucket: this.bucket, Key, UploadId, PartNumberMarker }))
        .catch((error: unknown) => {
          throw describeS3Error(error, "listing of the parts of", `s3://${this.bucket}/${Key}`);
        });
      for (const part of page.Parts ?? []) bytes += part.Size ?? 0;
      PartNumberMarker = page.IsTruncated ? page.NextPartNumberMarker : undefined;
    } while (PartNumberMarker);
    return bytes;
  }

  async abortUpload(upload: Pick<UnfinishedUpload, "key" | "uploadId">): Promise<void> {
    const { s3, client } = await this.sdk();
    const Key = this.keyOf(upload.key);
    await client
      .send(new s3.AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: upload.uploadId }))
      .catch((error: unknown) => {
        throw describeS3Error(error, "abort of the unfinished upload of", `s3://${this.bucket}/${Key}`);
      });
  }
}
