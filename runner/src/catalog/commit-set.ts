/**
 * The last step of a backup and of an import: the set becomes complete when its manifest is
 * written, so the manifest goes last. An encrypted set's plain manifest names no table: the names
 * go into the encrypted names member first, and the manifest records it.
 */
import { MANIFEST_OBJECT } from "../contract.js";
import { namesOf, storeNames, withoutNames } from "../encryption/names.js";
import type { ObjectStore, PutStreamOptions } from "../store/object-store.js";
import { serializeManifest, type Manifest, type StoredObjectEntry } from "./manifest.js";

/** The manifest an encrypted set stores in plain: counts and sizes, and where the names went. */
export function sealedManifest(full: Manifest, recipients: string[], names: StoredObjectEntry): Manifest {
  return { ...withoutNames(full), encryption: { format: "age" as const, recipients, names } };
}

export interface CommitOptions {
  /** The set's recipients (absent: a plain set). */
  recipients?: string[];
  /** Object Lock retention for the names member and the manifest. */
  lock?: PutStreamOptions["lock"];
  /** Runs after the names member is stored and before the manifest is written (a signal check). */
  beforeManifest?: () => void;
}

/** Stores the names member (encrypted sets), then the manifest; returns the manifest as written. */
export async function commitSet(
  store: ObjectStore,
  prefix: string,
  full: Manifest,
  options: CommitOptions,
): Promise<Manifest> {
  const { recipients, lock } = options;
  const manifest = recipients
    ? sealedManifest(
        full,
        recipients,
        await storeNames(store, prefix, namesOf(full), recipients, { contentType: "application/octet-stream", lock }),
      )
    : full;
  options.beforeManifest?.();
  await store.putSmall(`${prefix}/${MANIFEST_OBJECT}`, serializeManifest(manifest), {
    contentType: "application/json",
    lock,
  });
  return manifest;
}
