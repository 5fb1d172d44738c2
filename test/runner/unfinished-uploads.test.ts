// The rules for unfinished multipart uploads, without a store: which ones are the runner's, which
// are abandoned (older than a day), what `status` sums up, and what the human line says. The
// store side (SIGKILLed runs, the sweep, refusals) is in test/e2e/unfinished-uploads.test.ts.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { TIERS } from "../../runner/src/contract.js";
import type { UnfinishedUpload } from "../../runner/src/store/object-store.js";
import { FileStore } from "../../runner/src/store/file-store.js";
import {
  UNFINISHED_UPLOAD_ABORT_SECONDS,
  checkUnfinishedUploads,
  expiredUploads,
  ownUploads,
  summarizeUploads,
  unfinishedUploadsLines,
} from "../../runner/src/catalog/unfinished-uploads.js";
import { lifecycleRules } from "../../components/storage/bucket-rules.js";
import { DEFAULT_RETENTION_DAYS } from "../../runner/src/contract.js";

const NOW = new Date("2026-11-27T12:00:00Z");
const at = (secondsAgo: number) => new Date(NOW.getTime() - secondsAgo * 1000);
const upload = (key: string, secondsAgo: number, bytes = 0): UnfinishedUpload => ({
  key,
  uploadId: `id-${key}-${secondsAgo}`,
  initiated: at(secondsAgo),
  bytes,
});

const OWN = "daily/20261126T020000Z-3f9a/database.dump";

describe("which uploads are abandoned", () => {
  it("older than a day, to the second: a day exactly is not; the store's clock ahead of ours is age 0", () => {
    const day = UNFINISHED_UPLOAD_ABORT_SECONDS;
    expect(day).toBe(86_400);
    const uploads = [upload(OWN, day + 1), upload(OWN, day), upload(OWN, day - 1), upload(OWN, -600)];
    expect(expiredUploads(uploads, NOW)).toEqual([uploads[0]]);
    expect(summarizeUploads([upload(OWN, -600)], NOW).oldestAgeSeconds).toBe(0);
  });

  it("only keys of the runner's layout (<tier>/<backupId>/<object>) count or are touched", () => {
    const old = UNFINISHED_UPLOAD_ABORT_SECONDS * 3;
    const foreign = [
      "notes/draft.bin",
      "daily/not-an-id/database.dump",
      "hourly/20261126T020000Z-3f9a/database.dump",
      "daily/20261126T020000Z-3f9a",
      "",
    ].map((k) => upload(k, old, 10));
    expect(ownUploads(foreign)).toEqual([]);
    expect(expiredUploads(foreign, NOW)).toEqual([]);
    expect(summarizeUploads(foreign, NOW)).toEqual({ count: 0, bytes: 0, oldestAgeSeconds: null });
  });

  it("property: expired = own and older than a day; the summary counts and sums own uploads, oldest first", () => {
    const key = fc.oneof(
      fc
        .tuple(fc.constantFrom(...TIERS), fc.integer({ min: 0, max: 9999 }), fc.constantFrom("database.dump", "x/y"))
        .map(([tier, n, name]) => `${tier}/20261126T${String(n).padStart(4, "0")}00Z-ab12/${name}`),
      fc.string(),
    );
    const uploads = fc.array(
      fc.record({
        key,
        uploadId: fc.string(),
        initiated: fc.integer({ min: -3600, max: 10 * 86_400 }).map(at),
        bytes: fc.nat({ max: 1e9 }),
      }),
      { maxLength: 30 },
    );
    fc.assert(
      fc.property(uploads, (list) => {
        const own = ownUploads(list);
        const age = (u: UnfinishedUpload) => Math.max(0, Math.floor((NOW.getTime() - u.initiated.getTime()) / 1000));
        expect(expiredUploads(list, NOW)).toEqual(own.filter((u) => age(u) > UNFINISHED_UPLOAD_ABORT_SECONDS));
        const summary = summarizeUploads(list, NOW);
        expect(summary.count).toBe(own.length);
        expect(summary.bytes).toBe(own.reduce((s, u) => s + u.bytes, 0));
        expect(summary.oldestAgeSeconds).toBe(own.length ? Math.max(...own.map(age)) : null);
      }),
    );
  });

  it("the runner's age is the bucket lifecycle rule's (one constant, in the contract)", () => {
    const rules = lifecycleRules({
      keyPrefix: "edms",
      retentionDays: DEFAULT_RETENTION_DAYS,
      noncurrentVersionDays: 3,
    });
    for (const rule of rules)
      expect(rule.abortIncompleteMultipartUpload.daysAfterInitiation * 86_400).toBe(UNFINISHED_UPLOAD_ABORT_SECONDS);
  });
});

describe("what status and list say", () => {
  it("one line when there are uploads or a problem, none otherwise", () => {
    const report = { unfinishedUploads: summarizeUploads([upload(OWN, 2 * 86_400 + 3 * 3600, 5 << 20)], NOW) };
    expect(unfinishedUploadsLines(report, "s3://b/edms")).toEqual([
      "WARNING: 1 unfinished multipart upload (runs killed mid-upload) under s3://b/edms hold 5.0 MiB, the oldest started 2d 03h ago; the next backup aborts those older than 1 day (docs/RUNBOOK.md)",
    ]);
    expect(unfinishedUploadsLines({ unfinishedUploads: summarizeUploads([], NOW) }, "s3://b/edms")).toEqual([]);
    expect(unfinishedUploadsLines({}, "file:///backups")).toEqual([]);
    expect(unfinishedUploadsLines({ unfinishedUploadsProblem: "could not look: X" }, "s3://b")).toEqual([
      "WARNING: could not look: X",
    ]);
  });

  it("a folder (file://) has no multipart uploads: nothing is reported", async () => {
    expect(await checkUnfinishedUploads(new FileStore("/nonexistent-edms-dest"), NOW)).toEqual({});
  });
});
