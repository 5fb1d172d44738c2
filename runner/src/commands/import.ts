/**
 * `import`: stores a legacy backup-hybrid.sh archive at the destination as an ordinary backup set
 * (same layout, manifest written last), so list, verify, restore and drill treat it like any other.
 * Each member is read twice: once to derive the manifest, once to upload; the second read must
 * produce the same sha256, or nothing is committed.
 */
import { randomBytes } from "node:crypto";
import { DATABASE_OBJECT, MANIFEST_OBJECT, type Tier } from "../contract.js";
import { RunnerError, errorMessage } from "../errors.js";
import type { Logger } from "../logger.js";
import { serializeManifest, type Manifest } from "../manifest.js";
import { deriveManifest, importedBackupId, memberStream, type SeedArchive } from "../legacy/seed-archive.js";
import { choosePartSize } from "../part-size.js";
import { uploadChildOutput } from "../stages/upload-stream.js";
import type { ObjectStore } from "../store/object-store.js";

export async function importArchive(
  archive: SeedArchive,
  tier: Tier,
  deps: { store: ObjectStore; log: Logger },
): Promise<Manifest> {
  const manifest = await deriveManifest(
    archive,
    importedBackupId(archive.manifest, randomBytes(2).toString("hex")),
    tier,
  );
  const prefix = `${tier}/${manifest.backupId}`;
  const log = deps.log.child({ backupId: manifest.backupId, tier, stage: "import" });
  const members = [
    { member: archive.manifest.database, key: DATABASE_OBJECT, expected: manifest.database! },
    { member: archive.manifest.storage, key: manifest.media!.key, expected: manifest.media! },
  ];
  try {
    for (const { member, key, expected } of members) {
      const source = memberStream(archive.file, `${archive.root}/${member}`);
      const stored = await uploadChildOutput(key, source, deps.store, `${prefix}/${key}`, {
        // Sized from the member's known length, so a large archive stays under S3's part limit.
        partSize: choosePartSize(expected.bytes),
        queueSize: 2,
        contentType: "application/octet-stream",
      }).done;
      if (stored.sha256 !== expected.sha256 || stored.bytes !== expected.bytes) {
        throw new RunnerError(`${archive.file}: ${member} changed while it was being imported; nothing was committed`);
      }
    }
    await deps.store.putSmall(`${prefix}/${MANIFEST_OBJECT}`, serializeManifest(manifest), {
      contentType: "application/json",
    });
  } catch (error) {
    log.error({ error: errorMessage(error) }, "import failed; no manifest was written");
    throw error instanceof RunnerError ? error : new RunnerError(`import failed: ${errorMessage(error)}`);
  }
  log.info(
    {
      importedFrom: manifest.importedFrom,
      databaseBytes: manifest.database!.bytes,
      mediaBytes: manifest.media!.bytes,
      mediaFiles: manifest.media!.files,
    },
    `imported as ${prefix}`,
  );
  return manifest;
}
