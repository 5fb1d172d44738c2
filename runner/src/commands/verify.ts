/**
 * `verify`: re-reads every object of a backup set and holds it against the manifest (bytes,
 * sha256), checks that pg_restore can read the dump's table of contents and finds every table
 * the manifest counted, and that tar can list the media archive with the manifest's file count
 * and bytes and no unsafe entry. Reports every problem found, not just the first.
 */
import { pipeline, type Readable } from "node:stream";
import { finished } from "node:stream/promises";
import type { CompleteBackupSet } from "../catalog/catalog.js";
import { setKey } from "../catalog/catalog.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../output/logger.js";
import type { DatabaseEntry, MediaEntry, MediaReferencesEntry } from "../catalog/manifest.js";
import { verifyStoreMedia } from "../media-store/store-reader.js";
import { verifyStoreChunks } from "../media-store/segment-reader.js";
import { pgBinary } from "../pg/versions.js";
import { EntryInspector } from "../archive/inspector.js";
import { spawnTarSink, tarListArgs } from "../readback/tar-args.js";
import { checksumProblem, feedVerified, type ExpectedObject } from "../readback/verified-feed.js";
import { dumpDecoder, type Decoder } from "../readback/dump-decoder.js";
import { TocReader, type ArchiveToc, type TocEntry } from "../pg/archive-toc.js";
import { qualifiedName } from "../output/format.js";
import { spawnChildSink } from "../stages/child-sink.js";
import type { ChildSource } from "../stages/child-source.js";
import { DigestMeter } from "../stages/digest-meter.js";
import { decryptionFor } from "../encryption/names.js";
import type { OpenIdentity } from "../encryption/identity.js";
import type { ObjectStore } from "../store/object-store.js";

export interface VerifyReport {
  backupId: string;
  tier: string;
  ok: boolean;
  problems: string[];
  checked: string[];
  /** What is worth knowing but does not fail the set (media files missing when it was taken). */
  warnings: string[];
  /** What was not checked, and why (an encrypted set verified without its identity). */
  notes: string[];
}

/** Tables the manifest counted that the dump's table of contents does not hold data for. */
export function missingTableData(entries: readonly TocEntry[], tables: DatabaseEntry["tables"]): string[] {
  const key = (schema: string | null, table: string) => JSON.stringify([schema, table]);
  const toc = new Set(entries.filter((e) => e.desc === "TABLE DATA").map((e) => key(e.namespace, e.tag)));
  return (tables ?? []).filter((t) => !toc.has(key(t.schema, t.table))).map((t) => qualifiedName(t.schema, t.table));
}

/** `decode` (or nothing) followed by `reader`, which reads the TOC from the bytes going by. */
function readingToc(decode: Decoder | undefined, reader: TocReader): Decoder {
  return (input) => {
    const inner = decode?.(input);
    pipeline(inner ? inner.stream : input, reader, () => undefined);
    return inner
      ? { ...inner, stream: reader }
      : { stream: reader, exited: Promise.resolve(), stop: () => undefined, pid: undefined };
  };
}

async function verifyDatabase(
  store: ObjectStore,
  prefix: string,
  entry: DatabaseEntry,
  binDir: string | undefined,
  decrypt?: (input: Readable) => ChildSource,
): Promise<string[]> {
  // pg_restore --list proves pg_restore reads the archive; the TOC itself is read structurally.
  const sink = spawnChildSink(pgBinary("pg_restore", binDir), ["--list"], { label: "pg_restore --list" });
  const reader = new TocReader();
  let toc: ArchiveToc;
  try {
    await feedVerified(store, prefix, entry, sink, undefined, readingToc(dumpDecoder(entry, decrypt), reader));
    toc = await reader.toc;
  } catch (error) {
    return [errorMessage(error)];
  }
  const missing = missingTableData(
    toc.entries,
    (entry.tables ?? []).filter((t) => t.rows > 0),
  );
  return missing.length ? [`${prefix}/${entry.key}: no table data in the dump for ${missing.join(", ")}`] : [];
}

async function verifyMedia(
  store: ObjectStore,
  prefix: string,
  entry: MediaEntry,
  decrypt?: (input: Readable) => ChildSource,
): Promise<string[]> {
  const inspector = new EntryInspector();
  const sink = spawnTarSink(entry.compression, tarListArgs(), "tar --list", inspector);
  try {
    await feedVerified(store, prefix, entry, sink, undefined, decrypt);
  } catch (error) {
    return [errorMessage(error)];
  }
  const problems: string[] = [];
  const { tally } = inspector;
  if (tally.files !== entry.files || tally.sourceBytes !== entry.sourceBytes) {
    problems.push(
      `${prefix}/${entry.key}: the archive lists ${tally.files} files / ${tally.sourceBytes} bytes, the manifest says ${entry.files} / ${entry.sourceBytes}`,
    );
  }
  const unsafe = inspector.unsafeSummary();
  if (unsafe) problems.push(`${prefix}/${entry.key}: unsafe entries: ${unsafe}`);
  const unreadable = inspector.unreadableSummary();
  if (unreadable) problems.push(`${prefix}/${entry.key}: tar listed entries the runner cannot read: ${unreadable}`);
  return problems;
}

/** What pg_dump warned about when the set was made: the dump lacks something (a warning, not a fault). */
export function dumpWarnings(database: DatabaseEntry | null): string[] {
  if (!database?.warningCount) return [];
  const texts = database.warnings?.length
    ? `: ${database.warnings.join("; ")}`
    : " (their text is in the encrypted names member)";
  return [`pg_dump printed ${database.warningCount} warning(s) when the set was made${texts}`];
}

/** The backup is a faithful copy; a reference that was already missing is a warning, not a fault. */
export function referenceWarnings(refs: MediaReferencesEntry | undefined): string[] {
  if (!refs?.missing) return [];
  // An encrypted set verified without its identity: the names are in the encrypted names member.
  if (!refs.columns || !refs.missingPaths)
    return [`${refs.missing} of ${refs.referenced} referenced media files were missing when the backup was taken`];
  const more = refs.missing > refs.missingPaths.length ? ` (and ${refs.missing - refs.missingPaths.length} more)` : "";
  return [
    `${refs.missing} of ${refs.referenced} media files referenced by ${refs.columns.join(", ")} were missing when the backup was taken: ${refs.missingPaths.join(", ")}${more}`,
  ];
}

/** The stored bytes of one object against the manifest (size, sha256), without reading into them. */
async function verifyStoredBytes(store: ObjectStore, prefix: string, entry: ExpectedObject): Promise<string[]> {
  const where = `${prefix}/${entry.key}`;
  const meter = new DigestMeter();
  try {
    pipeline(await store.get(where), meter, () => undefined);
    meter.resume();
    await finished(meter);
  } catch (error) {
    return [`${where}: ${errorMessage(error)}`];
  }
  const problem = checksumProblem(where, entry, meter.bytes, meter.sha256);
  return problem ? [problem] : [];
}

/**
 * Verifies a set. An encrypted set is verified in depth only when it was unlocked with its
 * identity (unlockSet, which also checks the names member); without one, the stored bytes of
 * every object are checked and the report says what needs the identity.
 */
/** Without the identity: the stored bytes, and a segmented set's chunks against the listing. */
async function verifySealedMedia(
  store: ObjectStore,
  prefix: string,
  backupId: string,
  media: NonNullable<CompleteBackupSet["manifest"]["media"]>,
): Promise<string[]> {
  const problems = await verifyStoredBytes(store, prefix, media);
  if (problems.length || media.layout !== "segments") return problems;
  return verifyStoreChunks({ store, setPrefix: prefix, backupId }, media);
}

export async function verifyBackup(
  set: CompleteBackupSet,
  deps: {
    store: ObjectStore;
    log: Logger;
    pgBinDir?: string;
    identity?: OpenIdentity;
    /** Store format: read every content object and check its sha256 (else: present with its size). */
    full?: boolean;
  },
): Promise<VerifyReport> {
  const { manifest } = set;
  const prefix = setKey(set.tier, set.backupId);
  const log = deps.log.child({ backupId: set.backupId, tier: set.tier });
  const report: VerifyReport = {
    backupId: set.backupId,
    tier: set.tier,
    ok: true,
    problems: [],
    checked: [],
    warnings: [...dumpWarnings(manifest.database), ...referenceWarnings(manifest.media?.references)],
    notes: [],
  };
  const sealed = manifest.encryption !== undefined && deps.identity === undefined;
  const decrypt = sealed ? undefined : decryptionFor(manifest, deps.identity);
  const [db, media, names] = await Promise.all([
    !manifest.database
      ? undefined
      : sealed
        ? verifyStoredBytes(deps.store, prefix, manifest.database)
        : verifyDatabase(deps.store, prefix, manifest.database, deps.pgBinDir, decrypt),
    !manifest.media
      ? undefined
      : sealed
        ? verifySealedMedia(deps.store, prefix, set.backupId, manifest.media)
        : manifest.media.format === "store"
          ? verifyStoreMedia(
              { store: deps.store, setPrefix: prefix, backupId: set.backupId, decrypt },
              manifest.media,
              { full: deps.full ?? false },
            )
          : verifyMedia(deps.store, prefix, manifest.media, decrypt),
    // Unlocking already decrypted and checked it; without the identity its bytes are checked here.
    sealed ? verifyStoredBytes(deps.store, prefix, manifest.encryption!.names) : undefined,
  ]);
  if (sealed)
    report.notes.push(
      `encrypted (age) to ${manifest.encryption!.recipients.join(", ")}: only the stored bytes were checked; set AGE_IDENTITY_FILE (or AGE_IDENTITY) for the deeper checks (decryption, pg_restore --list, tar --list, counts${manifest.media?.format === "store" ? ", the content objects the media index references" : ""})`,
    );
  for (const [what, problems] of [
    ["database", db],
    ["media", media],
    ["names", names],
  ] as const) {
    if (!problems) continue;
    report.checked.push(what);
    report.problems.push(...problems);
    log.info(
      { stage: `verify-${what}`, ok: problems.length === 0, problems },
      `${what} ${problems.length ? "FAILED" : "ok"}`,
    );
  }
  report.ok = report.problems.length === 0;
  return report;
}
