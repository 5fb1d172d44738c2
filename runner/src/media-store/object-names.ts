/**
 * Content objects' names (MEDIA_FORMAT=store). A name is HMAC-SHA256 over the content's sha256
 * and how the object is stored, keyed with the per-stack secret MEDIA_STORE_KEY: whoever can list
 * the bucket but lacks the key cannot compute the name of a known document, so cannot test
 * whether it is stored. The same content stored the same way always gets the same name (that is
 * the deduplication); stored for other recipients it gets another one, so a set encrypted to new
 * keys never points at objects only the old keys open.
 */
import { readFile } from "node:fs/promises";
import { storeObjectKey } from "../contract.js";
import { KeyedHash } from "./keyed-hash.js";

/** What decides an object's bytes besides its content: the recipients it is encrypted to, if any. */
export interface ObjectSealing {
  recipients?: readonly string[];
}

const recipientsOf = (sealing: ObjectSealing) => (sealing.recipients ? [...sealing.recipients].sort().join(",") : "");

export class StoreKey {
  /** HMAC-SHA256 keyed with the secret (keyed-hash.ts: createHmac's output, cheaper per call). */
  private readonly hmac: KeyedHash;

  constructor(secret: Buffer) {
    this.hmac = new KeyedHash(secret);
  }

  /** The keyed name (64 hex digits) of content `sha256` (hex) stored as `sealing` says. */
  nameOf(sha256: string, sealing: ObjectSealing): string {
    return this.hmac.hex(`edms-media-object-v1\0${sha256}\0${recipientsOf(sealing)}`);
  }

  /**
   * The key of a metadata chunk (segment-list.ts) of `kind` whose plaintext hashes to `sha256`: the
   * kind is in the name's input, so an index chunk and a stat chunk can never share a name, nor a
   * chunk a file's object.
   */
  chunkKeyOf(kind: string, sha256: string, sealing: ObjectSealing, generation = ""): string {
    // A generation (contract/object-names.ts CHUNK_GENERATION_RE) starts a new set of names; "" gives the
    // names sets had before generations, so their chunks keep being reused.
    const input = `edms-media-chunk-v1\0${kind}\0${sha256}\0${recipientsOf(sealing)}`;
    const name = this.hmac.hex(generation ? `${input}\0${generation}` : input);
    return storeObjectKey(name, sealing.recipients !== undefined);
  }

  /** A key for another purpose (the stat cache's seal), derived so it never equals a name. */
  derive(purpose: string): Buffer {
    return this.hmac.digest(`edms-derive-v1\0${purpose}`);
  }

  /** The object's key below the destination. */
  keyOf(sha256: string, sealing: ObjectSealing): string {
    return storeObjectKey(this.nameOf(sha256, sealing), sealing.recipients !== undefined);
  }
}

/** What a backup without MEDIA_STORE_KEY needs to know (config.ts checks it before any run). */
export const STORE_KEY_REQUIRED =
  "MEDIA_STORE_KEY_FILE (or MEDIA_STORE_KEY): required for encrypted backups in the store format (the default MEDIA_FORMAT), the per-stack secret that names content objects (openssl rand -hex 32; keep it: a new key stores every file again); or set MEDIA_FORMAT=tar to keep writing tar sets";

/**
 * The key from MEDIA_STORE_KEY_FILE or MEDIA_STORE_KEY (exactly one), the problems with them, or
 * undefined when neither is set: an unencrypted backup then uses the destination's own key
 * (destination-key.ts), an encrypted one stops with STORE_KEY_REQUIRED.
 * The file's surrounding whitespace is ignored (a Secret written with a trailing newline).
 */
export async function loadStoreKey(env: {
  MEDIA_STORE_KEY?: string;
  MEDIA_STORE_KEY_FILE?: string;
}): Promise<StoreKey | undefined | { problems: string[] }> {
  const { MEDIA_STORE_KEY: inline, MEDIA_STORE_KEY_FILE: file } = env;
  if (inline && file) return { problems: ["MEDIA_STORE_KEY_FILE and MEDIA_STORE_KEY: set one of them, not both"] };
  let text = inline;
  if (file) {
    try {
      text = (await readFile(file, "utf8")).trim();
    } catch (error) {
      return {
        problems: [`MEDIA_STORE_KEY_FILE: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? "error"})`],
      };
    }
    if (text.length < 32)
      return { problems: [`MEDIA_STORE_KEY_FILE: ${file} holds fewer than 32 characters (openssl rand -hex 32)`] };
  }
  return text ? new StoreKey(Buffer.from(text, "utf8")) : undefined;
}
