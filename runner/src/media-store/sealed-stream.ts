/**
 * A byte stream sealed with a symmetric key (the stat cache, sealed with a key derived from
 * MEDIA_STORE_KEY): AES-256-GCM in chunks of at most CHUNK bytes, each authenticated before any
 * of its bytes are released, with the chunk's number and whether it is the last in the
 * authenticated data, so chunks cannot be reordered, dropped from the middle or spliced from
 * another stream, and a stream cut short is known to be cut (`complete` stays false). The same
 * construction as age's STREAM, with node:crypto; a library for it would be larger than this.
 *
 * Layout: "EDMSSEAL1" + 8 random bytes (the nonce prefix), then chunks of
 * [4-byte big-endian length of the ciphertext][ciphertext][16-byte tag].
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";

const MAGIC = Buffer.from("EDMSSEAL1");
const PREFIX = 8;
const TAG = 16;
export const CHUNK = 64 * 1024;

function nonce(prefix: Buffer, counter: number): Buffer {
  const n = Buffer.alloc(12);
  prefix.copy(n, 0);
  n.writeUInt32BE(counter, PREFIX);
  return n;
}

function aad(counter: number, last: boolean): Buffer {
  return Buffer.from(`${counter}:${last ? "last" : "more"}`);
}

export function sealStream(key: Buffer): Transform {
  const prefix = randomBytes(PREFIX);
  let counter = 0;
  let pending = Buffer.alloc(0);
  let started = false;
  const emit = (t: Transform, plain: Buffer, last: boolean) => {
    const cipher = createCipheriv("aes-256-gcm", key, nonce(prefix, counter));
    cipher.setAAD(aad(counter, last));
    const body = Buffer.concat([cipher.update(plain), cipher.final()]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(body.length);
    t.push(Buffer.concat([length, body, cipher.getAuthTag()]));
    counter += 1;
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      if (!started) {
        this.push(Buffer.concat([MAGIC, prefix]));
        started = true;
      }
      pending = Buffer.concat([pending, chunk]);
      // Keep at least one byte back: the last chunk must be sealed as the last.
      while (pending.length > CHUNK) {
        emit(this, pending.subarray(0, CHUNK), false);
        pending = pending.subarray(CHUNK);
      }
      callback();
    },
    flush(callback: TransformCallback) {
      if (!started) this.push(Buffer.concat([MAGIC, prefix]));
      emit(this, pending, true);
      callback();
    },
  });
}

export class SealError extends Error {}

/** Opens a sealed stream: releases each chunk only once authenticated; fails on any damage. */
export function openStream(key: Buffer): Transform & { readonly complete: boolean } {
  let buffered = Buffer.alloc(0);
  let prefix: Buffer | undefined;
  let counter = 0;
  let complete = false;
  const t = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      buffered = Buffer.concat([buffered, chunk]);
      try {
        if (!prefix) {
          if (buffered.length < MAGIC.length + PREFIX) return callback();
          if (!buffered.subarray(0, MAGIC.length).equals(MAGIC)) throw new SealError("not a sealed stream");
          prefix = Buffer.from(buffered.subarray(MAGIC.length, MAGIC.length + PREFIX));
          buffered = buffered.subarray(MAGIC.length + PREFIX);
        }
        while (buffered.length >= 4) {
          const length = buffered.readUInt32BE(0);
          if (length > CHUNK) throw new SealError("chunk too large");
          if (buffered.length < 4 + length + TAG) break;
          if (complete) throw new SealError("data after the last chunk");
          const body = buffered.subarray(4, 4 + length);
          const tag = buffered.subarray(4 + length, 4 + length + TAG);
          buffered = buffered.subarray(4 + length + TAG);
          // The last chunk is whichever authenticates as last: try "more" first (the usual case).
          let plain: Buffer | undefined;
          for (const last of [false, true]) {
            try {
              const d = createDecipheriv("aes-256-gcm", key, nonce(prefix, counter));
              d.setAAD(aad(counter, last));
              d.setAuthTag(tag);
              plain = Buffer.concat([d.update(body), d.final()]);
              complete = last;
              break;
            } catch {
              // not this one
            }
          }
          if (!plain) throw new SealError(`chunk ${counter} does not authenticate`);
          counter += 1;
          this.push(plain);
        }
        callback();
      } catch (error) {
        callback(error as Error);
      }
    },
    flush(callback: TransformCallback) {
      callback(buffered.length ? new SealError("trailing bytes") : null);
    },
  });
  return Object.defineProperty(t, "complete", { get: () => complete }) as Transform & { readonly complete: boolean };
}
