/**
 * The names member of an encrypted set (`names.json.age`): what the plain manifest must not say
 * (table names, with their row counts), encrypted to the same recipients as the data. The plain
 * manifest keeps the counts and records this member's size and sha256, so a set is checked for
 * completeness without the identity, and its names are read only with it.
 */
import { pipeline, Readable } from "node:stream";
import { finished } from "node:stream/promises";
import { text } from "node:stream/consumers";
import { z } from "zod";
import type { CompleteBackupSet } from "../catalog/catalog.js";
import { setKey } from "../catalog/catalog.js";
import { objectName } from "../contract.js";
import { RunnerError, errorMessage } from "../errors.js";
import { tableRowCountSchema, type Manifest, type MediaEntry, type StoredObjectEntry } from "../catalog/manifest.js";
import { ChecksumError, checksumProblem } from "../readback/verified-feed.js";
import { NO_IDENTITY_MATCHED, decryptStream } from "../stages/age-decrypt.js";
import { encryptStream } from "../stages/age-encrypt.js";
import { DigestMeter } from "../stages/digest-meter.js";
import { uploadChildOutput } from "../stages/upload-stream.js";
import type { ObjectStore, PutStreamOptions } from "../store/object-store.js";
import type { ChildSource } from "../stages/child-source.js";
import type { OpenIdentity } from "./identity.js";
import { databasePropertiesSchema } from "../pg/database-properties.js";
import { definerSchema } from "../pg/owners.js";
import { roleSchema } from "../pg/globals.js";

export const NAMES_OBJECT = objectName("names", { encrypted: true });

export const namesSchema = z.object({
  backupId: z.string().min(1),
  database: z
    .object({
      tables: z.array(tableRowCountSchema),
      migrations: z.record(z.string(), z.string()).optional(),
      warnings: z.array(z.string()).optional(),
      owners: z.array(z.string()).optional(),
      definers: z.array(definerSchema).optional(),
      properties: databasePropertiesSchema.optional(),
      roles: z.array(roleSchema).optional(),
      tablespaces: z.array(z.string()).optional(),
    })
    .nullable(),
  /** The names of the media reference check (MEDIA_REFERENCES), when there was one. */
  media: z
    .object({ referenceColumns: z.array(z.string()).min(1), missingPaths: z.array(z.string()) })
    .nullable()
    .optional(),
});
export type NamesMember = z.infer<typeof namesSchema>;

/** What of a manifest names something inside the data: tables, migrations, columns, files. */
export function namesOf(manifest: Manifest): NamesMember {
  const refs = manifest.media?.references;
  return {
    backupId: manifest.backupId,
    database: manifest.database && {
      tables: manifest.database.tables ?? [],
      ...(manifest.database.migrations && { migrations: manifest.database.migrations }),
      ...(manifest.database.warnings && { warnings: manifest.database.warnings }),
      ...(manifest.database.owners && { owners: manifest.database.owners }),
      ...(manifest.database.definers && { definers: manifest.database.definers }),
      ...(manifest.database.properties && { properties: manifest.database.properties }),
      ...(manifest.database.roles && { roles: manifest.database.roles }),
      ...(manifest.database.tablespaces && { tablespaces: manifest.database.tablespaces }),
    },
    media:
      refs?.columns && refs.missingPaths ? { referenceColumns: refs.columns, missingPaths: refs.missingPaths } : null,
  };
}

/** Encrypts the names member and stores it under `<setPrefix>/names.json.age`. */
export async function storeNames(
  store: ObjectStore,
  setPrefix: string,
  names: NamesMember,
  recipients: readonly string[],
  options: Omit<PutStreamOptions, "partSize" | "queueSize">,
): Promise<StoredObjectEntry> {
  const body = Readable.from([Buffer.from(`${JSON.stringify(namesSchema.parse(names))}\n`)]);
  const encrypted = encryptStream(body, recipients);
  const stored = await uploadChildOutput("names", encrypted, store, `${setPrefix}/${NAMES_OBJECT}`, {
    ...options,
    partSize: 5 * 2 ** 20,
    queueSize: 1,
  }).done;
  return { key: NAMES_OBJECT, bytes: stored.bytes, sha256: stored.sha256 };
}

/** The plain manifest's part of an encrypted set: counts and sizes, no names (see namesOf). */
export function withoutNames(manifest: Manifest): Manifest {
  const {
    tables: _tables,
    migrations: _migrations,
    warnings: _warnings,
    owners: _owners,
    definers: _definers,
    properties: _properties,
    roles: _roles,
    tablespaces: _tablespaces,
    ...database
  } = manifest.database ?? {};
  const { columns: _columns, missingPaths: _paths, ...references } = manifest.media?.references ?? {};
  return {
    ...manifest,
    database: manifest.database && (database as NonNullable<Manifest["database"]>),
    media: manifest.media && {
      ...manifest.media,
      ...(manifest.media.references && { references: references as NonNullable<MediaEntry["references"]> }),
      // The reason names tables and columns: the plain manifest says only that it did not run.
      ...(manifest.media.referencesNotRun && {
        referencesNotRun: {
          reason:
            "MEDIA_REFERENCES names a column the database cannot check (the names are in the run's log, kept out of an encrypted set's manifest)",
        },
      }),
    },
  };
}

/** The manifest with the names member's names put back (unlockSet). */
function withNames(manifest: Manifest, names: NamesMember): Manifest {
  const refs = manifest.media?.references;
  return {
    ...manifest,
    database: manifest.database && { ...manifest.database, ...names.database },
    media: manifest.media && {
      ...manifest.media,
      ...(refs &&
        names.media && {
          references: { ...refs, columns: names.media.referenceColumns, missingPaths: names.media.missingPaths },
        }),
    },
  };
}

function recipientsOf(manifest: Manifest): string {
  return manifest.encryption!.recipients.join(", ");
}

/** Exit 2: what an encrypted set needs that was not given; nothing has been touched yet. */
export function identityRequired(set: CompleteBackupSet): RunnerError {
  return new RunnerError(
    `backup ${setKey(set.tier, set.backupId)} is encrypted (age) to ${recipientsOf(set.manifest)}; set AGE_IDENTITY_FILE (or AGE_IDENTITY) to the identity of one of them; nothing was touched`,
    2,
  );
}

/**
 * An encrypted set made whole for restore, drill and verify: the identity is checked against
 * the set's recipients and the names member is decrypted into the manifest. Unencrypted sets are
 * returned as they are. Refuses (exit 2) without an identity or with one that is not a recipient.
 */
export async function unlockSet(
  store: ObjectStore,
  set: CompleteBackupSet,
  identity: OpenIdentity | undefined,
): Promise<CompleteBackupSet> {
  const { manifest } = set;
  const encryption = manifest.encryption;
  if (!encryption) return set;
  const prefix = setKey(set.tier, set.backupId);
  if (!identity) throw identityRequired(set);
  const wrongKey = () =>
    new RunnerError(
      `the identity in ${identity.source} (${identity.recipients.join(", ")}) is not a recipient of backup ${prefix} (encrypted to ${recipientsOf(manifest)}); use the identity of one of them; nothing was touched`,
      2,
    );
  if (!identity.recipients.some((r) => encryption.recipients.includes(r))) throw wrongKey();

  const where = `${prefix}/${encryption.names.key}`;
  const meter = new DigestMeter();
  pipeline(await store.get(where), meter, () => undefined);
  const decrypted = decryptStream(meter, identity.file);
  let plain: string | undefined;
  let failure: unknown;
  try {
    plain = await text(decrypted.stream);
  } catch (error) {
    failure = error;
  }
  await finished(meter).catch(() => undefined);
  const problem = meter.finished
    ? checksumProblem(where, encryption.names, meter.bytes, meter.sha256)
    : `${where}: the download ended before the whole object was read`;
  if (problem) throw new ChecksumError(problem);
  if (failure !== undefined) {
    if (NO_IDENTITY_MATCHED.test(errorMessage(failure))) throw wrongKey();
    throw new RunnerError(`${where} could not be decrypted: ${errorMessage(failure)}`);
  }
  let names: NamesMember;
  try {
    names = namesSchema.parse(JSON.parse(plain!));
  } catch (error) {
    throw new RunnerError(`${where} is not a names member: ${errorMessage(error)}`);
  }
  const tables = names.database?.tables ?? [];
  if (
    names.backupId !== set.backupId ||
    (manifest.database && (!names.database || tables.length !== manifest.database.tableCount)) ||
    Boolean(manifest.media?.references) !== Boolean(names.media)
  )
    throw new RunnerError(`${where} does not belong to this backup set (another set's names member?)`);
  return { ...set, manifest: withNames(manifest, names) };
}

/** The decryption stage for a set's objects: none for a plain set, age with the identity otherwise. */
export function decryptionFor(
  manifest: Manifest,
  identity: OpenIdentity | undefined,
): ((input: Readable) => ChildSource) | undefined {
  if (!manifest.encryption) return undefined;
  if (!identity) throw new RunnerError("an encrypted set was read without unlocking it first (bug)");
  return (input) => decryptStream(input, identity.file);
}
