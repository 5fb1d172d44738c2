/**
 * The media folder's walks before a backup stores anything: the preflight's (every entry a restore
 * would refuse, named at once) and, for the store format, the reads started before the checks.
 */
import { excludedFromArchive } from "../contract.js";
import { RunnerError } from "../errors.js";
import { inspectDirectory } from "../archive/directory-walk.js";
import { ObjectCatalog } from "../media-store/object-catalog.js";
import { startStoreWalk, type StartedWalk } from "../media-store/store-writer.js";
import type { ObjectStore } from "../store/object-store.js";

const UNSAFE_ADVICE =
  "a restore would refuse them, so no backup was made. Replace each link with a relative one that stays inside the folder (or remove it; device files cannot be backed up) and run the backup again";

/** The message for media entries a restore would refuse (README: links that leave the media folder). */
export function unsafeMediaMessage(dir: string, problems: string): string {
  return `the media folder ${dir} holds entries that point outside it: ${problems}; ${UNSAFE_ADVICE}`;
}

/**
 * The media folder walked once before anything is stored: every entry a restore would refuse
 * (a link that leaves the folder, a device), named at once; and for tar its bytes, the stream's
 * size estimate. The store format's is walked by a worker thread: the main thread meanwhile lists
 * the store's content objects (runBackup), and only judges the entries (issue 22).
 */
export async function walkMedia(dir: string, format: "tar" | "store"): Promise<{ sourceBytes: number }> {
  const walked = await inspectDirectory(dir, { skipTopLevel: excludedFromArchive, inWorker: format === "store" });
  const unsafe = walked.unsafeSummary();
  if (unsafe) throw new RunnerError(unsafeMediaMessage(dir, unsafe));
  return walked.tally;
}

/** A store-format backup's reads started before its checks (startStoreReads). */
export interface StoreReads {
  /** The preflight's walk (its worker thread), awaited by preflight after the checks before it. */
  mediaWalk: Promise<{ sourceBytes: number }>;
  /** The listing of the content objects. */
  catalog: Promise<ObjectCatalog>;
  /** The writer's walk, started as the preflight's ends (its core is then free). */
  walk: Promise<StartedWalk>;
  /** No writer will take the walk: its thread ends now. */
  drop(): void;
}

/**
 * Starts what a store-format backup only reads, before its checks (issue 22, second backup vs
 * restic): the preflight's walk first (the preflight's longest part), the listing beside it (on S3
 * it waits on the network), and the writer's walk as the preflight's ends, which then walks a few
 * chunks ahead while the checks, the listing and the previous stat cache are awaited. A failed
 * check leaves them to end unread: the check's error is the one reported. A failure between the
 * checks and the writer's start leaves the writer's walk to the process's exit (its thread does
 * not keep the process alive).
 */
export function startStoreReads(dir: string, store: ObjectStore): StoreReads {
  const mediaWalk = walkMedia(dir, "store");
  mediaWalk.catch(() => undefined);
  const catalog = ObjectCatalog.fromListing(store);
  catalog.catch(() => undefined);
  const walk = mediaWalk.then(() => startStoreWalk(dir));
  walk.catch(() => undefined);
  const drop = () => void walk.then((started) => started.walk.return(undefined)).catch(() => undefined);
  return { mediaWalk, catalog, walk, drop };
}
