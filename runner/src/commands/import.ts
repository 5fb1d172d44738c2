/**
 * `import`: stores a legacy backup-hybrid.sh archive at the destination as an ordinary backup set
 * (same layout, manifest written last), so list, verify, restore and drill treat it like any other.
 * Each member is read twice: once to derive the manifest, once to upload; the second read must
 * produce the same sha256, or nothing is committed. With recipients set, the members are
 * encrypted on their way into the store like a backup's.
 */
import { randomBytes } from "node:crypto";
import { pipeline } from "node:stream";
import { setKey } from "../catalog/catalog.js";
import { objectName, type Tier } from "../contract.js";
import { RunnerError, errorMessage } from "../errors.js";
import { logCauses, type Logger } from "../output/logger.js";
import type { Manifest, StoredObjectEntry } from "../catalog/manifest.js";
import { commitSet } from "../catalog/commit-set.js";
import { deriveManifest, importedBackupId, memberStream, type SeedArchive } from "../legacy/seed-archive.js";
import { checkRecipients } from "../encryption/recipients.js";
import { choosePartSize } from "../store/part-size.js";
import { encryptSource } from "../stages/age-encrypt.js";
import { DigestMeter } from "../stages/digest-meter.js";
import { uploadChildOutput } from "../stages/upload-stream.js";
import type { ObjectStore } from "../store/object-store.js";

export async function importArchive(
  archive: SeedArchive,
  tier: Tier,
  deps: { store: ObjectStore; log: Logger; recipients?: string[] },
): Promise<Manifest> {
  const { recipients } = deps;
  const encrypted = recipients !== undefined;
  if (recipients) await checkRecipients(recipients);
  const derived = await deriveManifest(
    archive,
    importedBackupId(archive.manifest, randomBytes(2).toString("hex")),
    tier,
  );
  const prefix = setKey(tier, derived.backupId);
  const log = deps.log.child({ backupId: derived.backupId, tier, stage: "import" });
  const members = [
    {
      member: archive.manifest.database,
      key: objectName("database", { encrypted }),
      expected: derived.database!,
    },
    {
      member: archive.manifest.storage,
      key: objectName("media", { compression: derived.media!.compression, encrypted }),
      expected: derived.media!,
    },
  ];
  let manifest: Manifest;
  try {
    const stored: StoredObjectEntry[] = [];
    for (const { member, key, expected } of members) {
      const source = memberStream(archive.file, `${archive.root}/${member}`);
      // The member's own bytes are hashed before encryption, to hold them against the first read.
      const plain = new DigestMeter();
      pipeline(source.stream, plain, () => undefined);
      const input = { ...source, stream: plain };
      const upload = await uploadChildOutput(
        key,
        recipients ? encryptSource(input, recipients) : input,
        deps.store,
        `${prefix}/${key}`,
        {
          // Sized from the member's known length, so a large archive stays under S3's part limit.
          partSize: choosePartSize(expected.bytes),
          queueSize: 2,
          contentType: "application/octet-stream",
        },
      ).done;
      if (plain.sha256 !== expected.sha256 || plain.bytes !== expected.bytes) {
        throw new RunnerError(`${archive.file}: ${member} changed while it was being imported; nothing was committed`);
      }
      stored.push({ key, bytes: upload.bytes, sha256: upload.sha256 });
    }
    const [database, media] = stored as [StoredObjectEntry, StoredObjectEntry];
    const full: Manifest = {
      ...derived,
      database: { ...derived.database!, ...database },
      media: { ...derived.media!, ...media },
    };
    manifest = await commitSet(deps.store, prefix, full, { recipients });
  } catch (error) {
    log.error({ error: errorMessage(error) }, "import failed; no manifest was written");
    logCauses(log, error);
    throw error instanceof RunnerError
      ? error
      : new RunnerError(`import failed: ${errorMessage(error)}`, 1, { cause: error });
  }
  log.info(
    {
      importedFrom: manifest.importedFrom,
      databaseBytes: manifest.database!.bytes,
      mediaBytes: manifest.media!.bytes,
      mediaFiles: manifest.media!.files,
      encrypted,
    },
    `imported as ${prefix}`,
  );
  return manifest;
}
