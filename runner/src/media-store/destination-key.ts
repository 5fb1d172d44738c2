/**
 * The store key of an unencrypted destination whose backups were given none (no MEDIA_STORE_KEY):
 * 32 random bytes kept beside the content objects (STORE_DESTINATION_KEY), made by the first store
 * backup and read by every later one, so the default media format works without a setting.
 *
 * Safe only for unencrypted sets, and used only for them: whoever can read this object can also
 * read those sets' plain indexes (every file's sha256) and the contents themselves, so it tells
 * them nothing new, while someone who can only list the bucket still cannot compute a known
 * document's name. An encrypted set's objects are never named with it (an encrypted backup
 * without MEDIA_STORE_KEY stops with exit 2): for those, a bucket reader must learn nothing.
 *
 * Two first backups at the same moment: the store refuses the second write, and that run reads
 * the first one's key. Losing the object costs deduplication once (the next backup makes a new
 * key and stores every file again under new names), never a set.
 */
import { randomBytes } from "node:crypto";
import { text } from "node:stream/consumers";
import { STORE_DESTINATION_KEY } from "../contract.js";
import { RunnerError } from "../errors.js";
import { AlreadyExistsError, NotFoundError, type ObjectStore } from "../store/object-store.js";
import { StoreKey } from "./object-names.js";

const KEY_RE = /^[0-9a-f]{64}$/;

async function readKey(store: ObjectStore): Promise<string | undefined> {
  try {
    return (await text(await store.get(STORE_DESTINATION_KEY))).trim();
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

/**
 * The destination's key, made and stored by the first caller. Called once every check of the run
 * has passed: a backup refused for bad input leaves nothing behind, this object included.
 */
export async function destinationStoreKey(store: ObjectStore): Promise<StoreKey> {
  let key = await readKey(store);
  if (key === undefined) {
    const made = randomBytes(32).toString("hex");
    try {
      await store.putSmall(STORE_DESTINATION_KEY, `${made}\n`, { contentType: "text/plain" });
      key = made;
    } catch (error) {
      if (!(error instanceof AlreadyExistsError)) throw error;
      key = await readKey(store);
    }
  }
  if (key === undefined || !KEY_RE.test(key)) {
    throw new RunnerError(
      `${store.display}/${STORE_DESTINATION_KEY} is not a store key (64 hex digits): set MEDIA_STORE_KEY_FILE ` +
        "(or MEDIA_STORE_KEY) to this stack's own key (openssl rand -hex 32), or MEDIA_FORMAT=tar",
    );
  }
  return new StoreKey(Buffer.from(key, "utf8"));
}
