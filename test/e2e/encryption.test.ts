// Client-side encryption judged from the outside: every stored object is age ciphertext that the
// reference `age` CLI decrypts and the standard tools restore; the runner's restore and drill give
// the same data with either of two identities; and without the right identity, or with a damaged
// ciphertext, restore and drill refuse and leave the target exactly as it was.
// Each test runs several backups, restores and drills: on a busy 2-core machine that takes minutes.
// The sets here are tar sets (MEDIA_FORMAT=tar): the layout and the `age -d | zstd -d | tar -x`
// path by hand are the tar format's; encrypted store sets are test/e2e/media-store*.test.ts's.
import { createHash } from "node:crypto";
import { chmod, copyFile, mkdtemp, readFile, readdir, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { fileDatabases } from "../helpers/file-databases.js";
import { parseManifest, type Manifest } from "../../runner/src/catalog/manifest.js";
import { connectionUrl } from "../helpers/pg-cluster.js";
import { sh } from "../helpers/exec.js";
import { largeObjectChecksums, sql, tableChecksums, type TestDatabase } from "../helpers/pg-test-db.js";
import { runRunner } from "../helpers/runner-cli.js";
import { makeLiveTarget, type LiveTarget } from "../helpers/live-target.js";
import { createTestBucket } from "../helpers/s3-bucket.js";
import { makeMediaTree, mediaTreeDigest, seedEdmsDatabase } from "../helpers/sample-data.js";

const pg = inject("pg");
const s3Endpoint = inject("s3Endpoint");

const AGE_MAGIC = "age-encryption.org/v1\n";
const PGDMP = Buffer.from("PGDMP");
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

interface KeyPair {
  file: string;
  secret: string;
  recipient: string;
}

let source: TestDatabase;
let mediaDir: string;
let work: string;
let first: KeyPair;
let second: KeyPair;
let stranger: KeyPair;
let dest: string;
let backupId: string;
const { create: newDatabase } = fileDatabases(pg);

async function keyPair(name: string): Promise<KeyPair> {
  const file = path.join(work, `${name}.key`);
  await sh(`age-keygen -o "${file}" 2>/dev/null`);
  const secret = (await readFile(file, "utf8")).split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"))!;
  return { file, secret, recipient: (await sh(`age-keygen -y "${file}"`)).trim() };
}

function liveTarget(): Promise<LiveTarget> {
  return makeLiveTarget(newDatabase, "enc-live");
}

/** A backup to a new folder; returns the folder and the set's id. */
async function backupTo(
  tier: string,
  args: string[] = [],
  env: Record<string, string> = {},
): Promise<{ root: string; id: string }> {
  const root = await mkdtemp(path.join(tmpdir(), "edms-enc-dest-"));
  const backup = await runRunner(["backup", "--tier", tier, ...args], {
    DATABASE_URL: source.url,
    MEDIA_DIR: mediaDir,
    BACKUP_DESTINATION: `file://${root}`,
    MEDIA_FORMAT: "tar",
    ...env,
  });
  expect(backup.code, backup.stderr).toBe(0);
  return { root, id: backup.logs.find((l) => l.stage === "done")!.backupId as string };
}

async function expectSameDatabase(url: string): Promise<void> {
  expect(await tableChecksums(url)).toEqual(await tableChecksums(source.url));
  expect(await largeObjectChecksums(url)).toEqual(await largeObjectChecksums(source.url));
}

/**
 * The standard tools alone, as docs/RUNBOOK.md says: `age -d | pg_restore` with one identity and
 * `age -d | zstd -d (or gzip -d) | tar -x` with the other.
 */
async function expectRestorableByHand(dir: string, manifest: Manifest, forDb: KeyPair, forMedia: KeyPair) {
  const byHand = await newDatabase("enc_byhand");
  // database.dump.zst.age (zstd:N, the default): zstd -d after age -d.
  const unzstd = manifest.database!.key.endsWith(".zst.age") ? "| zstd -d " : "";
  await sh(
    `age -d -i "${forDb.file}" "${dir}/${manifest.database!.key}" ${unzstd}| "${pg.binDir}/pg_restore" --no-owner --exit-on-error --dbname "${byHand.name}"`,
    byHand.env,
  );
  await expectSameDatabase(byHand.url);
  const extracted = await mkdtemp(path.join(tmpdir(), "edms-enc-byhand-"));
  const decompress = manifest.media!.compression === "zstd" ? "zstd -d" : "gzip -d";
  await sh(`age -d -i "${forMedia.file}" "${dir}/${manifest.media!.key}" | ${decompress} | tar -x -C "${extracted}"`);
  expect(await mediaTreeDigest(extracted)).toEqual(await mediaTreeDigest(mediaDir));
}

/** Each stored object but the manifest is age ciphertext: no pg_dump, zstd or gzip magic. */
function expectCiphertext(name: string, bytes: Buffer): void {
  expect(bytes.subarray(0, AGE_MAGIC.length).toString("latin1"), name).toBe(AGE_MAGIC);
  for (const magic of [PGDMP, ZSTD_MAGIC, GZIP_MAGIC])
    expect(bytes.subarray(0, magic.length).equals(magic)).toBe(false);
  expect(bytes.includes(PGDMP), `${name} holds a pg_dump header`).toBe(false);
}

/** Nothing the plain manifest says may name a table (the names are in the encrypted member). */
async function expectNoNames(manifestText: string): Promise<void> {
  const tables = await tableChecksums(source.url);
  expect(tables.length).toBeGreaterThan(3);
  for (const t of tables) expect(manifestText).not.toContain(`"${t.table}"`);
  const manifest = parseManifest(manifestText, "test");
  expect(manifest.database!.tables).toBeUndefined();
  expect(manifest.database!.tableCount).toBe(tables.length);
  expect(manifest.database!.rowCount).toBe(tables.reduce((s, t) => s + t.rows, 0));
}

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-enc-"));
  [first, second, stranger] = await Promise.all([keyPair("first"), keyPair("second"), keyPair("stranger")]);
  source = await newDatabase("enc_src");
  await seedEdmsDatabase(source.url);
  // Names the plain manifest of an encrypted set must not carry: migrations and referenced files.
  await sql(
    source.url,
    `create table django_migrations (id serial primary key, app varchar(255), name varchar(255), applied timestamptz default now());
     insert into django_migrations (app, name) values ('documents', '0001_initial'), ('documents', '0002_secret_plan')`,
  );
  mediaDir = await mkdtemp(path.join(tmpdir(), "edms-enc-media-"));
  await makeMediaTree(mediaDir, { bigFileMiB: 2 });
  ({ root: dest, id: backupId } = await backupTo("daily", [
    "--encrypt-to",
    `${first.recipient},${second.recipient}`,
    "--media-references",
    "documents_documentversion.file",
  ]));
});

describe("encrypted backups", { timeout: 360_000 }, () => {
  it("to a folder: ciphertext only, the age CLI and standard tools restore it, and so do the runner's restore and drill", async () => {
    const setDir = path.join(dest, "daily", backupId);
    expect((await readdir(setDir)).sort()).toEqual([
      "database.dump.zst.age",
      "manifest.json",
      "names.json.age",
      "storage.tar.zst.age",
    ]);
    const manifestText = await readFile(path.join(setDir, "manifest.json"), "utf8");
    const manifest = parseManifest(manifestText, "test");
    expect(manifest.encryption).toMatchObject({ format: "age", recipients: [first.recipient, second.recipient] });
    await expectNoNames(manifestText);
    for (const entry of [manifest.database!, manifest.media!, manifest.encryption!.names]) {
      const stored = await readFile(path.join(setDir, entry.key));
      expectCiphertext(entry.key, stored);
      // The manifest vouches for the stored (encrypted) bytes.
      expect(stored.length).toBe(entry.bytes);
      expect(sha256(stored)).toBe(entry.sha256);
    }

    await expectRestorableByHand(setDir, manifest, first, second);
    // Migrations, reference columns and missing files: counted in plain text, named only inside.
    for (const name of ["0002_secret_plan", "documents_documentversion", "scan é.pdf"])
      expect(manifestText).not.toContain(name);
    expect(manifest.media!.references).toMatchObject({ missing: expect.any(Number), referenced: expect.any(Number) });
    expect(manifest.media!.references!.missing).toBeGreaterThan(100);
    expect(manifest.media!.references!.columns).toBeUndefined();
    const names = JSON.parse(await sh(`age -d -i "${first.file}" "${setDir}/names.json.age"`));
    expect(names.database.migrations).toEqual({ documents: "0002_secret_plan" });
    expect(names.media.referenceColumns).toEqual(["public.documents_documentversion.file"]);
    expect(names.media.missingPaths).toHaveLength(100);
    expect(names.database.tables.map((t: { table: string }) => t.table)).toEqual(
      (await tableChecksums(source.url)).map((t) => t.table),
    );

    // The runner: restore with the first identity (a file), drill with the second (the variable).
    const live = await liveTarget();
    const restore = await runRunner(
      ["restore", backupId, "--yes", "--target-db", live.db.name, "--media-dir", live.media],
      { DATABASE_URL: source.url, BACKUP_DESTINATION: `file://${dest}`, AGE_IDENTITY_FILE: first.file },
    );
    expect(restore.code, restore.stderr).toBe(0);
    await expectSameDatabase(live.db.url);
    expect(await mediaTreeDigest(live.media)).toEqual(await mediaTreeDigest(mediaDir));
    const drill = await runRunner(["drill", backupId, "--json"], {
      DATABASE_URL: source.url,
      BACKUP_DESTINATION: `file://${dest}`,
      AGE_IDENTITY: second.secret,
    });
    expect(drill.code, drill.stderr).toBe(0);
    const report = JSON.parse(drill.stdout);
    expect(report).toMatchObject({ ok: true, backupId });
    expect(report.checks.find((c: { name: string }) => c.name === "database").detail).toMatch(
      /every table's row count matches the manifest/,
    );
    // The private key never shows up in what the runner prints.
    for (const out of [restore.stdout, restore.stderr, drill.stdout, drill.stderr]) {
      expect(out).not.toContain(second.secret);
      expect(out).not.toContain(first.secret);
    }
  });

  it("to S3 (moto): ciphertext only, decrypted by the age CLI, restored by standard tools and by the runner with either identity", async () => {
    const bucket = await createTestBucket(s3Endpoint);
    const backup = await runRunner(["backup", "--tier", "weekly", "--compression", "gzip"], {
      ...bucket.env("edms"),
      DATABASE_URL: source.url,
      MEDIA_DIR: mediaDir,
      MEDIA_FORMAT: "tar",
      ENCRYPTION_RECIPIENTS: `${first.recipient}, ${second.recipient}`,
    });
    expect(backup.code, backup.stderr).toBe(0);
    const keys = await bucket.keys();
    const prefix = keys[0]!.replace(/[^/]+$/, "");
    expect(keys).toEqual(
      ["database.dump.zst.age", "manifest.json", "names.json.age", "storage.tar.gz.age"].map((k) => `${prefix}${k}`),
    );
    const manifestText = (await bucket.get(`${prefix}manifest.json`)).toString("utf8");
    await expectNoNames(manifestText);
    const manifest = parseManifest(manifestText, "test");
    const local = await mkdtemp(path.join(tmpdir(), "edms-enc-s3-"));
    for (const entry of [manifest.database!, manifest.media!, manifest.encryption!.names]) {
      const stored = await bucket.get(`${prefix}${entry.key}`);
      expectCiphertext(entry.key, stored);
      expect(sha256(stored)).toBe(entry.sha256);
      await writeFile(path.join(local, entry.key), stored);
    }
    await expectRestorableByHand(local, manifest, second, first);

    const env = { ...bucket.env("edms"), DATABASE_URL: source.url };
    // verify without the identity checks the stored bytes and says what needs the identity.
    const sealed = await runRunner(["verify", "latest"], env);
    expect(sealed.code, sealed.stderr).toBe(0);
    expect(sealed.stdout).toMatch(/only the stored bytes were checked; set AGE_IDENTITY_FILE/);
    const deep = await runRunner(["verify", "latest", "--json"], { ...env, AGE_IDENTITY_FILE: second.file });
    expect(deep.code, deep.stderr).toBe(0);
    expect(JSON.parse(deep.stdout)).toMatchObject({ ok: true, notes: [], checked: ["database", "media"] });

    for (const identity of [first, second]) {
      const live = await liveTarget();
      const restore = await runRunner(
        ["restore", "latest", "--yes", "--target-db", live.db.name, "--media-dir", live.media],
        { ...env, AGE_IDENTITY_FILE: identity.file },
      );
      expect(restore.code, restore.stderr).toBe(0);
      await expectSameDatabase(live.db.url);
      expect(await mediaTreeDigest(live.media)).toEqual(await mediaTreeDigest(mediaDir));
    }
    const drill = await runRunner(["drill", "latest", "--json"], { ...env, AGE_IDENTITY: first.secret });
    expect(drill.code, drill.stderr).toBe(0);
    expect(JSON.parse(drill.stdout)).toMatchObject({ ok: true });
    // Reading never writes to a set; the drill leaves its one record (drills/<id>.json), each
    // restore the marker of what it kept for an undo (restores/<runId>.kept.json).
    const after = await bucket.keys();
    const records = (k: string) => k.includes("/drills/") || k.includes("/restores/");
    expect(after.filter((k) => !records(k))).toEqual(keys);
    expect(after.filter((k) => k.includes("/drills/"))).toHaveLength(1);
    expect(after.filter((k) => /\/restores\/[^/]+\.kept\.json$/.test(k))).toHaveLength(2);
  });

  it("restores a set encrypted by the reference age CLI (the other direction)", async () => {
    const NAMED = [
      "tables",
      "migrations",
      "warnings",
      "owners",
      "definers",
      "properties",
      "roles",
      "tablespaces",
    ] as const;
    // A plain backup, then every object encrypted by hand with `age -r` and the manifest rewritten
    // the way the runner writes an encrypted one.
    const { root: plainDest, id } = await backupTo("adhoc");
    const setDir = path.join(plainDest, "adhoc", id);
    const plain = parseManifest(await readFile(path.join(setDir, "manifest.json"), "utf8"), "plain");
    const seal = async (name: string, content?: Buffer): Promise<{ key: string; bytes: number; sha256: string }> => {
      if (content) await writeFile(path.join(setDir, name), content);
      await sh(`age -r "${second.recipient}" -o "${setDir}/${name}.age" "${setDir}/${name}" && rm "${setDir}/${name}"`);
      const stored = await readFile(path.join(setDir, `${name}.age`));
      return { key: `${name}.age`, bytes: stored.length, sha256: sha256(stored) };
    };
    const db = await seal(plain.database!.key);
    const media = await seal(plain.media!.key);
    const names = await seal(
      "names.json",
      Buffer.from(
        JSON.stringify({
          backupId: id,
          // Every named field of the plain manifest (docs/MANIFEST.md) goes into the names member.
          database: Object.fromEntries(NAMED.map((k) => [k, plain.database![k]])),
        }),
      ),
    );
    const database = Object.fromEntries(
      Object.entries(plain.database!).filter(([k]) => !(NAMED as readonly string[]).includes(k)),
    ) as NonNullable<Manifest["database"]>;
    const sealed: Manifest = {
      ...plain,
      encryption: { format: "age", recipients: [second.recipient], names },
      database: { ...database, ...db },
      media: { ...plain.media!, ...media },
    };
    await writeFile(path.join(setDir, "manifest.json"), JSON.stringify(sealed));
    const live = await liveTarget();
    const restore = await runRunner(["restore", id, "--yes", "--target-db", live.db.name, "--media-dir", live.media], {
      DATABASE_URL: source.url,
      BACKUP_DESTINATION: `file://${plainDest}`,
      AGE_IDENTITY_FILE: second.file,
    });
    expect(restore.code, restore.stderr).toBe(0);
    await expectSameDatabase(live.db.url);
    expect(await mediaTreeDigest(live.media)).toEqual(await mediaTreeDigest(mediaDir));
  });

  it("format-1 sets (written before encryption existed) keep restoring", async () => {
    // Format 1 predates PG_DUMP_COMPRESSION specs: its dumps were always pg_dump's own (gzip).
    const { root: plainDest, id } = await backupTo("monthly", [], { PG_DUMP_COMPRESSION: "gzip:6" });
    const file = path.join(plainDest, "monthly", id, "manifest.json");
    const v2 = JSON.parse(await readFile(file, "utf8"));
    const { tableCount: _c, rowCount: _r, ...database } = v2.database;
    await writeFile(file, JSON.stringify({ ...v2, formatVersion: 1, database }, null, 2));
    const live = await liveTarget();
    const restore = await runRunner(["restore", id, "--yes", "--target-db", live.db.name, "--media-dir", live.media], {
      DATABASE_URL: source.url,
      BACKUP_DESTINATION: `file://${plainDest}`,
    });
    expect(restore.code, restore.stderr).toBe(0);
    await expectSameDatabase(live.db.url);
    const list = await runRunner(["list", "--json"], { BACKUP_DESTINATION: `file://${plainDest}` });
    expect(JSON.parse(list.stdout)).toMatchObject([{ backupId: id, complete: true }]);
  });
});

describe("encrypted sets refuse what cannot be trusted, touching nothing", { timeout: 360_000 }, () => {
  /** A copy of the encrypted set, damaged by `damage`, at its own destination. */
  async function damagedCopy(damage: (setDir: string, manifest: Manifest) => Promise<Manifest | void>) {
    const root = await mkdtemp(path.join(tmpdir(), "edms-enc-damaged-"));
    await sh(`cp -r "${dest}/daily" "${root}/daily"`);
    const setDir = path.join(root, "daily", backupId);
    const manifest = parseManifest(await readFile(path.join(setDir, "manifest.json"), "utf8"), "test");
    const changed = await damage(setDir, manifest);
    if (changed) await writeFile(path.join(setDir, "manifest.json"), JSON.stringify(changed));
    return root;
  }

  async function expectRefused(
    root: string,
    env: Record<string, string>,
    expected: { code: number; message: RegExp },
  ): Promise<void> {
    const live = await liveTarget();
    const before = await live.fingerprint();
    const restore = await runRunner(
      ["restore", backupId, "--yes", "--target-db", live.db.name, "--media-dir", live.media],
      { DATABASE_URL: connectionUrl(pg, live.db.name), BACKUP_DESTINATION: `file://${root}`, ...env },
    );
    expect(restore.code, restore.stderr).toBe(expected.code);
    expect(restore.stderr).toMatch(expected.message);
    expect(await live.fingerprint()).toEqual(before);
    const drill = await runRunner(["drill", backupId], {
      DATABASE_URL: source.url,
      BACKUP_DESTINATION: `file://${root}`,
      ...env,
    });
    expect(drill.code, drill.stderr).toBe(expected.code);
    expect(drill.stderr).toMatch(expected.message);
    for (const out of [restore.stdout, restore.stderr, drill.stdout, drill.stderr]) {
      expect(out).not.toContain(first.secret);
      expect(out).not.toContain(stranger.secret);
    }
  }

  it("no identity: exit 2, naming the recipients", async () => {
    await expectRefused(
      dest,
      {},
      { code: 2, message: new RegExp(`encrypted \\(age\\) to ${first.recipient}, ${second.recipient}`) },
    );
  });

  it("a wrong identity: exit 2, as a file or as the variable", async () => {
    const message = /is not a recipient of backup .* use the identity of one of them; nothing was touched/;
    await expectRefused(dest, { AGE_IDENTITY_FILE: stranger.file }, { code: 2, message });
    await expectRefused(dest, { AGE_IDENTITY: stranger.secret }, { code: 2, message });
  });

  it("an identity that is not one: exit 2 without echoing it", async () => {
    const bogus = `AGE-SECRET-KEY-1${"Q".repeat(20)}`;
    const r = await runRunner(["restore", backupId, "--yes"], {
      DATABASE_URL: source.url,
      BACKUP_DESTINATION: `file://${dest}`,
      AGE_IDENTITY: bogus,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/AGE_IDENTITY: line 1 is not an X25519 identity/);
    expect(r.stderr).not.toContain("QQQQQQQQ");
    const missing = await runRunner(["drill"], {
      DATABASE_URL: source.url,
      BACKUP_DESTINATION: `file://${dest}`,
      AGE_IDENTITY_FILE: path.join(work, "nope.key"),
    });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/AGE_IDENTITY_FILE: cannot read .*nope\.key: ENOENT/);
  });

  it("a flipped byte in the ciphertext: refused by the checksum and, with the checksum forged, by age", async () => {
    const flip = async (setDir: string, key: string) => {
      const file = path.join(setDir, key);
      const bytes = await readFile(file);
      bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
      await writeFile(file, bytes);
      return bytes;
    };
    const env = { AGE_IDENTITY_FILE: first.file };
    const checksum = await damagedCopy(async (setDir, m) => void (await flip(setDir, m.media!.key)));
    await expectRefused(checksum, env, {
      code: 1,
      message: /sha256 .* does not match the manifest's .* \(corrupted\)/,
    });
    // The checksum updated to match: age's authenticated chunks still refuse it.
    const forged = await damagedCopy(async (setDir, m) => {
      const bytes = await flip(setDir, m.database!.key);
      return { ...m, database: { ...m.database!, sha256: sha256(bytes) } };
    });
    await expectRefused(forged, env, { code: 1, message: /age --decrypt exited with code 1/ });
  });

  it("a truncated ciphertext: refused by the size and, with the manifest forged, by age", async () => {
    const env = { AGE_IDENTITY_FILE: second.file };
    const short = await damagedCopy(async (setDir, m) => {
      await truncate(path.join(setDir, m.media!.key), m.media!.bytes - 100);
    });
    await expectRefused(short, env, {
      code: 1,
      message: /bytes stored, the manifest says .* \(truncated or replaced\)/,
    });
    const forged = await damagedCopy(async (setDir, m) => {
      // Cut at a 64 KiB chunk boundary: every remaining chunk is authentic, the last one is missing.
      const file = path.join(setDir, m.media!.key);
      const bytes = await readFile(file);
      const cut = bytes.subarray(0, bytes.length - ((bytes.length - 200) % (65536 + 16)) - (65536 + 16));
      await writeFile(file, cut);
      return { ...m, media: { ...m.media!, bytes: cut.length, sha256: sha256(cut) } };
    });
    await expectRefused(forged, env, { code: 1, message: /age --decrypt exited with code 1/ });
  });
});

describe("backup with recipients that age cannot use", () => {
  it("post-quantum, malformed or bad-checksum recipients: exit 2, nothing stored", async () => {
    const empty = await mkdtemp(path.join(tmpdir(), "edms-enc-none-"));
    const env = {
      DATABASE_URL: source.url,
      MEDIA_DIR: mediaDir,
      BACKUP_DESTINATION: `file://${empty}`,
      MEDIA_FORMAT: "tar",
    };
    const pq = await runRunner(
      ["backup", "--tier", "daily", "--encrypt-to", `age1pq1${"q".repeat(60)},not-a-key`],
      env,
    );
    expect(pq.code).toBe(2);
    expect(pq.stderr).toMatch(/ENCRYPTION_RECIPIENTS \(--encrypt-to\): age1pq1qqqqq\.\.\. is a post-quantum recipient/);
    expect(pq.stderr).toMatch(/"not-a-key" is not an X25519 age recipient/);
    // Right shape, wrong bech32 checksum: age itself refuses it before anything streams.
    const last = first.recipient.at(-1) === "q" ? "p" : "q";
    const bad = await runRunner(["backup", "--tier", "daily"], {
      ...env,
      ENCRYPTION_RECIPIENTS: `${first.recipient.slice(0, -1)}${last}`,
    });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/ENCRYPTION_RECIPIENTS \(--encrypt-to\): age refused them/);
    expect(await readdir(empty)).toEqual([]);
  });

  it("an unreadable identity file is reported, not its content", async () => {
    const locked = path.join(work, "locked.key");
    await copyFile(first.file, locked);
    await chmod(locked, 0o000);
    const r = await runRunner(["verify", "latest"], {
      BACKUP_DESTINATION: `file://${dest}`,
      AGE_IDENTITY_FILE: locked,
    });
    // root reads any file; everyone else gets EACCES.
    if (process.getuid?.() === 0) expect(r.code, r.stderr).toBe(0);
    else expect(r.stderr).toMatch(/AGE_IDENTITY_FILE: cannot read .*: EACCES/);
  });
});
