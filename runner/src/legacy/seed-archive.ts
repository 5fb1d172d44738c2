/**
 * Today's backups (the seed's backup-hybrid.sh): `backups/backup_YYYYMMDD_HHMMSS.tar.gz` holding
 * `tmp_<stamp>/database.dump` (pg_dump -Fc), `tmp_<stamp>/storage.tar.gz` (the media) and
 * `tmp_<stamp>/manifest.json` (timestamp, file names, app version; no checksums).
 *
 * Such an archive is presented as a backup set: its members are streamed out with tar (no
 * temporary copies), and a manifest in our format is derived by reading each member once
 * (bytes, sha256, media file count). Row counts were never recorded, so they stay empty and
 * `importedFrom` says where the set came from.
 */
import path from "node:path";
import { Readable } from "node:stream";
import { text } from "node:stream/consumers";
import { z } from "zod";
import { MANIFEST_OBJECT, objectName, type Tier } from "../contract.js";
import { newBackupId } from "../catalog/backup-id.js";
import { RunnerError, errorMessage } from "../errors.js";
import { EntryInspector } from "../archive/inspector.js";
import { MANIFEST_FORMAT_VERSION, serializeManifest, type Manifest } from "../catalog/manifest.js";
import { spawnTarSink, tarListArgs } from "../readback/tar-args.js";
import { spawnChildSource, type ChildSource } from "../stages/child-source.js";
import { DigestMeter } from "../stages/digest-meter.js";
import { inBatches, NotFoundError, type ObjectStore, type StoredObject } from "../store/object-store.js";
import { RUNNER_VERSION } from "../version.js";

export const seedManifestSchema = z.looseObject({
  timestamp: z.string().refine((v) => !Number.isNaN(Date.parse(v)), { message: "must be an ISO date-time" }),
  database: z.string().min(1),
  storage: z.string().min(1),
  version: z.string().optional(),
  backup_type: z.string().optional(),
  created_by: z.string().optional(),
});
export type SeedManifest = z.infer<typeof seedManifestSchema>;

export interface SeedArchive {
  file: string;
  /** The archive's top folder, `tmp_<stamp>`. */
  root: string;
  manifest: SeedManifest;
}

/** `tar -xzOf archive member`: one member's bytes on stdout, failing if tar fails. */
export function memberStream(file: string, member: string): ChildSource {
  return spawnChildSource("tar", ["--extract", "--gzip", "--to-stdout", `--file=${file}`, member], {
    label: `tar (reading ${member} from ${path.basename(file)})`,
  });
}

export async function openSeedArchive(file: string): Promise<SeedArchive> {
  const names: string[] = [];
  const listing = spawnChildSource("tar", ["--list", "--gzip", `--file=${file}`], {
    label: `tar (listing ${path.basename(file)})`,
  });
  try {
    names.push(...(await text(listing.stream)).split("\n").filter(Boolean));
  } catch (error) {
    throw new RunnerError(`${file} is not a readable .tar.gz archive: ${errorMessage(error)}`);
  }
  const manifestName = names.find((n) => /^(\.\/)?[^/]+\/manifest\.json$/.test(n));
  if (!manifestName)
    throw new RunnerError(`${file} has no <folder>/manifest.json; is it an archive made by backup-hybrid.sh?`);
  const root = manifestName.slice(0, -"/manifest.json".length);
  let manifest: SeedManifest;
  try {
    const parsed = seedManifestSchema.safeParse(JSON.parse(await text(memberStream(file, manifestName).stream)));
    if (!parsed.success)
      throw new Error(parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "));
    manifest = parsed.data;
  } catch (error) {
    throw new RunnerError(`${file}: ${manifestName} is not a backup-hybrid.sh manifest (${errorMessage(error)})`);
  }
  for (const member of [manifest.database, manifest.storage]) {
    if (!names.includes(`${root}/${member}`))
      throw new RunnerError(`${file} lacks ${root}/${member}, which its manifest names`);
  }
  return { file, root, manifest };
}

/** Reads one member once: its bytes and sha256, and (for the media archive) its listing. */
async function memberFacts(
  archive: SeedArchive,
  member: string,
  inspector?: EntryInspector,
): Promise<{ bytes: number; sha256: string }> {
  const source = memberStream(archive.file, `${archive.root}/${member}`);
  const meter = new DigestMeter();
  source.stream.pipe(meter);
  source.stream.on("error", (error) => meter.destroy(error));
  if (inspector) {
    const lister = spawnTarSink("gzip", tarListArgs(), `tar (listing ${member})`, inspector);
    await lister.feed(meter);
  } else {
    meter.resume();
    await new Promise<void>((resolve, reject) => meter.on("end", resolve).on("error", reject));
  }
  return { bytes: meter.bytes, sha256: meter.sha256 };
}

/** The backup id an imported archive gets: its original time (UTC) and a random suffix. */
export function importedBackupId(manifest: SeedManifest, suffix: string): string {
  return newBackupId(new Date(manifest.timestamp), () => suffix);
}

export async function deriveManifest(archive: SeedArchive, backupId: string, tier: Tier): Promise<Manifest> {
  const inspector = new EntryInspector();
  const [db, media] = await Promise.all([
    memberFacts(archive, archive.manifest.database),
    memberFacts(archive, archive.manifest.storage, inspector),
  ]);
  // A set that restore would refuse must not be stored as complete.
  const unsafe = inspector.unsafeSummary() ?? inspector.unreadableSummary();
  if (unsafe)
    throw new RunnerError(
      `${archive.file}: its media archive ${archive.manifest.storage} holds entries a restore would refuse: ${unsafe}`,
    );
  const { tally } = inspector;
  const at = new Date(archive.manifest.timestamp).toISOString();
  return {
    formatVersion: MANIFEST_FORMAT_VERSION,
    backupId,
    tier,
    trigger: "manual",
    startedAt: at,
    finishedAt: at,
    runnerVersion: RUNNER_VERSION,
    appVersion: archive.manifest.version,
    importedFrom: path.basename(archive.file),
    database: {
      key: objectName("database"),
      ...db,
      format: "custom",
      // backup-hybrid.sh runs plain `pg_dump -Fc`: pg_dump's own zlib, level not recorded.
      compression: "gzip",
      name: "(unknown: imported)",
      pgDumpVersion: "(unknown: imported)",
      serverVersion: "(unknown: imported)",
      tableCount: 0,
      rowCount: 0,
      tables: [],
    },
    media: {
      key: objectName("media", { compression: "gzip" }),
      ...media,
      compression: "gzip",
      files: tally.files,
      sourceBytes: tally.sourceBytes,
    },
  };
}

/**
 * A read-only store holding exactly one backup set: the archive's members under our names, so
 * verify, restore and drill read a legacy archive with the same code as any other set.
 */
export class SeedArchiveStore implements ObjectStore {
  readonly display: string;
  private readonly prefix: string;

  constructor(
    private readonly archive: SeedArchive,
    private readonly manifest: Manifest,
  ) {
    this.display = `archive ${archive.file}`;
    this.prefix = `${manifest.tier}/${manifest.backupId}/`;
  }

  private member(key: string): string | undefined {
    if (!key.startsWith(this.prefix)) return undefined;
    const name = key.slice(this.prefix.length);
    if (name === this.manifest.database?.key) return this.archive.manifest.database;
    if (name === this.manifest.media?.key) return this.archive.manifest.storage;
    return undefined;
  }

  async get(key: string): Promise<Readable> {
    if (key === `${this.prefix}${MANIFEST_OBJECT}`) return Readable.from([serializeManifest(this.manifest)]);
    const member = this.member(key);
    if (!member) throw new NotFoundError(key);
    return memberStream(this.archive.file, `${this.archive.root}/${member}`).stream;
  }

  async head(key: string): Promise<{ bytes: number } | undefined> {
    for await (const object of this.list("")) if (object.key === key) return { bytes: object.bytes };
    return undefined;
  }

  async *list(prefix: string): AsyncIterable<StoredObject> {
    const at = new Date(this.manifest.startedAt);
    const objects: StoredObject[] = [
      { key: `${this.prefix}${this.manifest.database!.key}`, bytes: this.manifest.database!.bytes, lastModified: at },
      { key: `${this.prefix}${MANIFEST_OBJECT}`, bytes: serializeManifest(this.manifest).length, lastModified: at },
      { key: `${this.prefix}${this.manifest.media!.key}`, bytes: this.manifest.media!.bytes, lastModified: at },
    ];
    for (const object of objects) if (object.key.startsWith(prefix)) yield object;
  }

  listBatches(prefix: string): AsyncIterable<StoredObject[]> {
    return inBatches(this.list(prefix));
  }

  putStream(): Promise<void> {
    return Promise.reject(new Error("a legacy archive is read-only"));
  }

  putSmall(): Promise<void> {
    return Promise.reject(new Error("a legacy archive is read-only"));
  }
}
