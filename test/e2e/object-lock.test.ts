// With Object Lock, every object of a run (the manifest included) carries the retain-until date of
// its tier's retention, so not even the bucket owner can delete a backup early.
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, inject, it } from "vitest";
import { runRunner } from "../helpers/runner-cli.js";
import { createTestBucket, type TestBucket } from "../helpers/s3-bucket.js";
import { chunkKeysOf } from "../helpers/segment-lists.js";
import { refusingS3 } from "../helpers/refusing-s3.js";
import { newAgeKey } from "../helpers/age-key.js";

const s3Endpoint = inject("s3Endpoint");

describe("object lock", () => {
  it("sets each object's retention from OBJECT_LOCK_MODE and OBJECT_LOCK_DAYS", async () => {
    const bucket = await createTestBucket(s3Endpoint, { objectLock: true });
    const media = await mkdtemp(path.join(tmpdir(), "edms-lock-"));
    await writeFile(path.join(media, "a.txt"), "locked\n");
    const before = Date.now();
    const result = await runRunner(["backup", "--tier", "monthly", "--no-database"], {
      ...bucket.env(),
      MEDIA_DIR: media,
      // A tar set: its two objects are all the bucket holds; the store's locks follow below.
      MEDIA_FORMAT: "tar",
      OBJECT_LOCK_MODE: "GOVERNANCE",
      OBJECT_LOCK_DAYS: "366",
    });
    expect(result.code, result.stderr).toBe(0);
    const keys = await bucket.keys();
    expect(keys).toHaveLength(2);
    for (const Key of keys) {
      const head = await bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key }));
      expect(head.ObjectLockMode).toBe("GOVERNANCE");
      const days = (head.ObjectLockRetainUntilDate!.getTime() - before) / 86_400_000;
      expect(days).toBeGreaterThan(365.9);
      expect(days).toBeLessThan(366.1);
    }
  });
});

/** The bucket's content objects less the metadata chunks its segment lists name. */
async function filesObjects(bucket: TestBucket): Promise<string[]> {
  const keys = await bucket.keys();
  const chunks = new Set<string>();
  for (const list of keys.filter((k) => k.endsWith("/media-segments.txt")))
    for (const c of chunkKeysOf((await bucket.get(list)).toString())) chunks.add(`edms/${c}`);
  return keys.filter((k) => k.startsWith("edms/store/objects/") && !chunks.has(k));
}

// The content store under Object Lock: a content object is shared by every set that references it,
// so its retention must reach the longest of theirs. Retention is read from HeadObject (moto
// answers GetObjectRetention with HTTP 500; FIELD-NOTES), counted requests come from a proxy.
const KEY = "object-lock-store-key-0123456789abcdef";
const DAY = 86_400_000;

describe.each(["GOVERNANCE", "COMPLIANCE"] as const)("object lock on the content store (%s)", (mode) => {
  async function setup() {
    const bucket = await createTestBucket(s3Endpoint, { objectLock: true });
    const proxy = await refusingS3(s3Endpoint, []);
    const media = await mkdtemp(path.join(tmpdir(), "edms-lock-store-"));
    for (let i = 0; i < 6; i += 1) await writeFile(path.join(media, `doc-${i}.txt`), `document ${i}\n`);
    // Two names, one content: one object.
    await writeFile(path.join(media, "copy-of-doc-0.txt"), "document 0\n");
    const env = (days: number) => ({
      ...bucket.env(),
      S3_ENDPOINT: proxy.endpoint,
      MEDIA_DIR: media,
      MEDIA_FORMAT: "store",
      MEDIA_STORE_KEY: KEY,
      OBJECT_LOCK_MODE: mode,
      OBJECT_LOCK_DAYS: String(days),
    });
    const backup = async (tier: string, days: number) => {
      const before = Date.now();
      const result = await runRunner(["backup", "--tier", tier, "--no-database"], env(days));
      expect(result.code, result.stderr).toBe(0);
      const id = JSON.parse(result.stdout.trim().split("\n").at(-1)!) as { backupId?: string };
      return { before, after: Date.now(), result, id };
    };
    const retention = async (Key: string) => {
      const head = await bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key }));
      return { mode: head.ObjectLockMode, until: head.ObjectLockRetainUntilDate!.getTime() };
    };
    // The files' objects: the sets' metadata chunks (named by their segment lists) left out.
    const objects = () => filesObjects(bucket);
    const manifestOf = async (tier: string) => {
      const keys = (await bucket.keys()).filter((k) => k.startsWith(`edms/${tier}/`) && k.endsWith("/manifest.json"));
      return keys.sort().map((k) => k);
    };
    return { bucket, proxy, media, env, backup, retention, objects, manifestOf };
  }

  it("a monthly backup extends the objects a daily set stored to its own retention; a later daily never shortens them", async () => {
    const s = await setup();
    try {
      const daily = await s.backup("daily", 1);
      const first = await s.objects();
      expect(first).toHaveLength(6);
      for (const k of first) expect((await s.retention(k)).until).toBeLessThan(daily.after + 3 * DAY);
      // A new document, then the monthly: it reuses the six and stores one.
      await writeFile(path.join(s.media, "new.txt"), "new document\n");
      s.proxy.seen.length = 0;
      const monthly = await s.backup("monthly", 30);
      const all = await s.objects();
      expect(all).toHaveLength(7);
      const monthlyUntil = monthly.before + 30 * DAY;
      const after: Record<string, number> = {};
      for (const k of all) {
        const r = await s.retention(k);
        expect(r.mode, k).toBe(mode);
        expect(r.until, k).toBeGreaterThanOrEqual(monthlyUntil);
        after[k] = r.until;
      }
      // One HeadObject and one PutObjectRetention per reused object, none for the new one.
      const retentionCalls = s.proxy.seen.filter((o) => o.operation === "PutObjectRetention");
      expect(retentionCalls).toHaveLength(6);
      const monthlyManifest = JSON.parse((await s.bucket.get((await s.manifestOf("monthly"))[0]!)).toString()) as {
        media: { store: Record<string, number> };
      };
      expect(monthlyManifest.media.store).toMatchObject({
        reusedObjects: 6,
        lockCheckedObjects: 6,
        lockExtendedObjects: 6,
      });
      // The monthly set's metadata chunks are content objects locked at least as long.
      const [monthlyList] = (await s.bucket.keys()).filter(
        (k) => k.startsWith("edms/monthly/") && k.endsWith("/media-segments.txt"),
      );
      for (const c of chunkKeysOf((await s.bucket.get(monthlyList!)).toString()))
        expect((await s.retention(`edms/${c}`)).until, c).toBeGreaterThanOrEqual(monthlyUntil);
      // The daily set's own objects keep the daily retention: only shared content is extended.
      const [dailyManifest] = await s.manifestOf("daily");
      expect((await s.retention(dailyManifest!)).until).toBeLessThan(daily.after + 2 * DAY);

      // A daily after the monthly: it knows from the monthly's stat cache that every object is
      // locked long enough, asks the store nothing and shortens nothing (moto would accept it).
      s.proxy.seen.length = 0;
      await s.backup("daily", 1);
      expect(s.proxy.seen.filter((o) => o.path.includes("/store/objects/"))).toEqual([]);
      for (const k of all) expect((await s.retention(k)).until, k).toBe(after[k]);
    } finally {
      await s.proxy.close();
    }
  });

  it("daily after daily: the first extension's slack saves every request on the next day's run", async () => {
    const s = await setup();
    try {
      await s.backup("daily", 1);
      s.proxy.seen.length = 0;
      await s.backup("daily", 1);
      // The second run's date is later than the first's, yet within the slack (one day here); the
      // reused metadata chunks' dates come from the first set's media-chunk-locks.sealed.
      expect(s.proxy.seen.filter((o) => o.path.includes("/store/objects/"))).toEqual([]);
      expect((await s.bucket.keys()).filter((k) => k.endsWith("/media-chunk-locks.sealed"))).toHaveLength(2);
    } finally {
      await s.proxy.close();
    }
  });
});

describe("object lock on the content store, refused", () => {
  it("a store that refuses PutObjectRetention fails the backup with one message and no manifest", async () => {
    const bucket = await createTestBucket(s3Endpoint, { objectLock: true });
    const media = await mkdtemp(path.join(tmpdir(), "edms-lock-refused-"));
    await writeFile(path.join(media, "a.txt"), "shared\n");
    const env = (endpoint: string, days: number) => ({
      ...bucket.env(),
      S3_ENDPOINT: endpoint,
      MEDIA_DIR: media,
      MEDIA_FORMAT: "store",
      MEDIA_STORE_KEY: KEY,
      OBJECT_LOCK_MODE: "GOVERNANCE",
      OBJECT_LOCK_DAYS: String(days),
    });
    const first = await runRunner(["backup", "--tier", "daily", "--no-database"], env(s3Endpoint, 1));
    expect(first.code, first.stderr).toBe(0);
    const proxy = await refusingS3(s3Endpoint, [{ operation: "PutObjectRetention", status: 403 }]);
    try {
      const monthly = await runRunner(["backup", "--tier", "monthly", "--no-database"], env(proxy.endpoint, 30));
      expect(monthly.code).not.toBe(0);
      expect(proxy.refused).toEqual(["PutObjectRetention"]);
      expect(monthly.stderr).toMatch(
        /could not extend the Object Lock retention of reused store\/objects\/.*s3:PutObjectRetention/,
      );
      const keys = await bucket.keys();
      expect(keys.filter((k) => k.startsWith("edms/monthly/") && k.endsWith("manifest.json"))).toEqual([]);
    } finally {
      await proxy.close();
    }
  });
});

describe("object lock on the content store, other recipients", () => {
  it("a previous set encrypted to other recipients lends no lock dates: its objects have other names", async () => {
    const bucket = await createTestBucket(s3Endpoint, { objectLock: true });
    const work = await mkdtemp(path.join(tmpdir(), "edms-lock-recipients-"));
    const media = path.join(work, "media");
    await mkdir(media);
    for (let i = 0; i < 3; i += 1) await writeFile(path.join(media, `doc-${i}.txt`), `document ${i}\n`);
    const [one, two] = [await newAgeKey(work, "one"), await newAgeKey(work, "two")];
    const backup = async (tier: string, days: number, recipient: string) => {
      const r = await runRunner(["backup", "--tier", tier, "--no-database"], {
        ...bucket.env(),
        MEDIA_DIR: media,
        MEDIA_FORMAT: "store",
        MEDIA_STORE_KEY: KEY,
        ENCRYPTION_RECIPIENTS: recipient,
        OBJECT_LOCK_MODE: "GOVERNANCE",
        OBJECT_LOCK_DAYS: String(days),
      });
      expect(r.code, r.stderr).toBe(0);
    };
    // Recipient one's objects, locked ~2 days; then recipient two's, locked 100+ days (their
    // stat cache records that); then recipient one again for 30 days: its objects (the first
    // run's) must be extended, whatever the second set's cache says about its own objects.
    await backup("daily", 1, one.recipient);
    const first = await filesObjects(bucket);
    await backup("weekly", 100, two.recipient);
    const before = Date.now();
    await backup("monthly", 30, one.recipient);
    for (const Key of first) {
      const head = await bucket.client.send(new HeadObjectCommand({ Bucket: bucket.name, Key }));
      expect(head.ObjectLockRetainUntilDate!.getTime(), Key).toBeGreaterThanOrEqual(before + 30 * DAY);
    }
  });
});
