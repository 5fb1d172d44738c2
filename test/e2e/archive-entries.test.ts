// Archive entries as hostile folders produce them, end to end through the CLI:
// - a link whose name looks like listing syntax (" -> ", " link to ", a newline) cannot smuggle
//   an escaping target past verify, drill or restore (issue 10 item 3);
// - a name that is not UTF-8 does not break an S3 backup or a drill (item 5);
// - hard links count the same in the backup and in the drill (item 6);
// - a link that leaves the media folder stops the backup, naming it, and leaves no set that its
//   own restore would refuse (item 7).
// All through tar sets (MEDIA_FORMAT=tar): these are the tar format's entry names and listings; the
// store format meets the same wild trees in test/e2e/media-tree-property.test.ts.
import { chmod, chown, link, lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { craftSet } from "../helpers/craft-set.js";
import { run } from "../helpers/exec.js";
import { runRunner, type RunAs } from "../helpers/runner-cli.js";
import { createTestBucket, type TestBucket } from "../helpers/s3-bucket.js";
import { snapshotTree } from "../helpers/media-trees.js";

const s3Endpoint = inject("s3Endpoint");
const asRoot = process.getuid?.() === 0;
/** The pod's uid: restricted folders only mean something when the runner is not root. */
const POD: RunAs = { uid: 10001, gid: 10001 };
let work: string;
let bucket: TestBucket;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-entries-e2e-"));
  await chmod(work, 0o755);
  bucket = await createTestBucket(s3Endpoint);
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

async function folder(name: string): Promise<string> {
  const dir = path.join(work, name);
  await mkdir(dir, { recursive: true });
  if (asRoot) await chown(dir, POD.uid, POD.gid);
  return dir;
}

/** Hands a tree built as root to the pod's uid. */
async function giveToPod(dir: string | Buffer): Promise<void> {
  if (!asRoot) return;
  const result = await run("chown", ["-R", "--no-dereference", `${POD.uid}:${POD.gid}`, dir.toString()]);
  expect(result.code, result.stderr).toBe(0);
}

const exists = (p: string | Buffer) =>
  lstat(p).then(
    () => true,
    () => false,
  );

describe("links whose names look like listing syntax", () => {
  it("are judged by their real targets: verify, drill and restore refuse, and no link is created", async () => {
    // GNU tar itself archives the folder (a backup by this runner would refuse it, see below).
    const src = await folder("syntax-src");
    await writeFile(path.join(src, "ok"), "fine\n");
    await symlink("/etc/shadow", path.join(src, "x -> ok"));
    await symlink("/etc", path.join(src, "evil\n-rw-r--r-- 0 1 2026-11-27 11:42 fake"));
    await writeFile(path.join(src, "target"), "t\n");
    await link(path.join(src, "target"), path.join(src, "h link to ok"));
    const archive = path.join(work, "syntax.tar.gz");
    const made = await run("tar", ["-czf", archive, "-C", src, "--format=gnu", "."]);
    expect(made.code, made.stderr).toBe(0);
    const root = await folder("syntax-dest");
    const id = "20260101T020000Z-a11c";
    await craftSet(root, "daily", id, { media: { archive: await readFile(archive), files: 3, sourceBytes: 7 } });
    const env = { BACKUP_DESTINATION: `file://${root}` };

    const verify = await runRunner(["verify", id], env);
    expect(verify.code).toBe(1);
    expect(verify.stderr).toContain('"./x -> ok": link to the absolute path "/etc/shadow"');
    expect(verify.stderr).toContain(
      '"./evil\\n-rw-r--r-- 0 1 2026-11-27 11:42 fake": link to the absolute path "/etc"',
    );

    const drill = await runRunner(["drill", id, "--scratch-dir", await folder("syntax-drill")], env);
    expect(drill.code).toBe(1);
    expect(drill.stderr).toMatch(/unsafe entries: "\.\/evil\\n.*"\.\/x -> ok"/);

    const target = path.join(await folder("syntax-restore"), "media");
    const restore = await runRunner(["restore", id, "--yes", "--media-only", "--media-dir", target], env);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toContain("refusing the media archive: unsafe entries:");
    expect(await exists(target)).toBe(false);
  });
});

describe("names that are not UTF-8, and hard links", () => {
  it("back up to S3, verify, drill and restore byte for byte, as the pod's uid, in read-only folders", async () => {
    const media = await folder("bytes-media");
    const bad = Buffer.concat([Buffer.from(media), Buffer.from("/"), Buffer.from([0xff, 0xfe, 0x41])]);
    await mkdir(bad);
    const inBad = Buffer.concat([bad, Buffer.from("/caf"), Buffer.from([0xe9]), Buffer.from(".txt")]);
    await writeFile(inBad, "latin-1 name\n");
    await writeFile(path.join(media, "scan.pdf"), Buffer.alloc(4096, 7));
    await link(path.join(media, "scan.pdf"), path.join(media, "same scan.pdf"));
    await link(path.join(media, "scan.pdf"), Buffer.concat([bad, Buffer.from("/third name")]));
    await symlink("scan.pdf", path.join(media, "alias -> scan.pdf"));
    await giveToPod(media);
    // Group-writable, as media often is: a non-root tar would mask it with the umask.
    await chmod(path.join(media, "scan.pdf"), 0o664);
    // A read-only folder whose name is not UTF-8: the drill's and the restore's clean-up must
    // still remove it (as a non-root user, only after making it writable, by its byte name).
    await chmod(bad, 0o500);
    const env = { ...bucket.env("bytes"), BACKUP_DATABASE: "false", MEDIA_DIR: media, HOME: work, MEDIA_FORMAT: "tar" };

    const backup = await runRunner(["backup", "--tier", "adhoc"], env, POD);
    expect(backup.code, backup.stderr).toBe(0);
    const done = backup.logs.find((l) => l.stage === "done");
    // Three names of one 4096-byte file and one other file: four files, the shared bytes once.
    expect(done).toMatchObject({ mediaFiles: 4 });
    const verify = await runRunner(["verify", "latest", "--tier", "adhoc"], env, POD);
    expect(verify.code, verify.stderr).toBe(0);
    const scratch = await folder("bytes-scratch");
    const drill = await runRunner(["drill", "latest", "--tier", "adhoc", "--json", "--scratch-dir", scratch], env, POD);
    expect(drill.code, drill.stderr).toBe(0);
    expect(JSON.parse(drill.stdout)).toMatchObject({
      ok: true,
      checks: [{ name: "media", ok: true, detail: "4 files / 4109 bytes on disk; manifest 4 / 4109" }],
    });
    expect(await readdir(scratch)).toEqual([]);
    const target = path.join(await folder("bytes-restore"), "media");
    const restore = await runRunner(
      ["restore", "latest", "--tier", "adhoc", "--yes", "--media-only", "--media-dir", target],
      env,
      POD,
    );
    expect(restore.code, restore.stderr).toBe(0);
    expect(await snapshotTree(target)).toEqual(await snapshotTree(media));
    // Again over the restored folder, not keeping: the previous copy, read-only folder and all, is removed.
    const again = await runRunner(
      ["restore", "latest", "--tier", "adhoc", "--yes", "--media-only", "--no-keep-previous", "--media-dir", target],
      env,
      POD,
    );
    expect(again.code, again.stderr).toBe(0);
    expect(await readdir(path.dirname(target))).toEqual(["media"]);
    expect(await snapshotTree(target)).toEqual(await snapshotTree(media));
  });

  it.skipIf(!asRoot)("restore into a mount point moves entries by their byte names", async () => {
    const media = await folder("bytes-mount-media");
    const bad = Buffer.from([0x6e, 0x65, 0x77, 0xff]); // "new\xff"
    await writeFile(Buffer.concat([Buffer.from(media), Buffer.from("/"), bad]), "new\n");
    const dest = await folder("bytes-mount-dest");
    const env = {
      BACKUP_DESTINATION: `file://${dest}`,
      BACKUP_DATABASE: "false",
      MEDIA_DIR: media,
      MEDIA_FORMAT: "tar",
    };
    const backup = await runRunner(["backup", "--tier", "daily"], env);
    expect(backup.code, backup.stderr).toBe(0);
    const mount = await folder("bytes-mount");
    const mounted = await run("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mount]);
    expect(mounted.code, mounted.stderr).toBe(0);
    try {
      await writeFile(Buffer.concat([Buffer.from(mount), Buffer.from("/old"), Buffer.from([0xfe])]), "old\n");
      const restore = await runRunner(["restore", "latest", "--yes", "--media-only", "--media-dir", mount], env);
      expect(restore.code, restore.stderr).toBe(0);
      // The mount point itself keeps its own mode and mtime; everything in it is the backup's,
      // beside the kept previous copy, which holds exactly the old entry (no file of the run's own).
      const kept = (await readdir(mount)).filter((n) => n.startsWith(".edms-previous-"));
      expect(kept).toHaveLength(1);
      const inMount = (await snapshotTree(mount)).entries.slice(1);
      expect(inMount.filter((e) => !e.startsWith(".edms-previous-"))).toEqual(
        (await snapshotTree(media)).entries.slice(1),
      );
      expect(
        (await readdir(path.join(mount, kept[0]!), { encoding: "buffer" })).map((n) => n.toString("latin1")),
      ).toEqual(["old\xfe"]);
    } finally {
      await run("umount", [mount]);
    }
  });
});

describe("a link that leaves the media folder", () => {
  // The store format's preflight reads only the folders' listings (and the links): it must refuse
  // the same entries as the tar format's, before anything (not even the store's key) is written.
  it.each(["tar", "store"])(
    "stops the %s backup before anything is stored, naming every such entry",
    async (format) => {
      const media = await folder(`outside-media-${format}`);
      await writeFile(path.join(media, "a.txt"), "a\n");
      await mkdir(path.join(media, "sub"));
      await symlink("/etc/shadow", path.join(media, "x -> ok"));
      await symlink("../../elsewhere", path.join(media, "sub", "up"));
      await symlink("../a.txt", path.join(media, "sub", "fine"));
      // A link to a folder inside is fine (and never followed): the listing's type for it is a link.
      await mkdir(path.join(media, "real"));
      await symlink("real", path.join(media, "alias"));
      const dest = await folder(`outside-dest-${format}`);
      const env = {
        BACKUP_DESTINATION: `file://${dest}`,
        BACKUP_DATABASE: "false",
        MEDIA_DIR: media,
        MEDIA_FORMAT: format,
      };
      const backup = await runRunner(["backup", "--tier", "daily"], env);
      expect(backup.code).toBe(1);
      expect(backup.stderr).toContain('"x -> ok": link to the absolute path "/etc/shadow"');
      expect(backup.stderr).toContain('"sub/up": link to "../../elsewhere" points outside the folder');
      expect(backup.stderr).not.toContain("sub/fine");
      expect(backup.stderr).toMatch(/Replace each link with a relative one that stays inside the folder/);
      // Nothing stored, so nothing can be reported complete.
      expect(await readdir(dest)).toEqual([]);
      const list = await runRunner(["list", "--json"], env);
      expect(JSON.parse(list.stdout)).toEqual([]);

      // Fixed as the message says: the next backup succeeds and restores.
      await rm(path.join(media, "x -> ok"));
      await rm(path.join(media, "sub", "up"));
      await symlink("../a.txt", path.join(media, "sub", "up"));
      const again = await runRunner(["backup", "--tier", "daily"], env);
      expect(again.code, again.stderr).toBe(0);
      const verify = await runRunner(["verify", "latest"], env);
      expect(verify.code, verify.stderr).toBe(0);
    },
  );
});

describe("a backup-hybrid.sh archive whose media holds a link that leaves the folder", () => {
  it("is not imported as a complete set", async () => {
    const src = await folder("hybrid-media");
    await writeFile(path.join(src, "a.txt"), "a\n");
    await symlink("/etc/shadow", path.join(src, "x -> ok"));
    const stamp = "20260111_224748";
    const tmp = await folder(`hybrid/tmp_${stamp}`);
    await writeFile(path.join(tmp, "database.dump"), "not read by import\n");
    expect((await run("tar", ["czf", path.join(tmp, "storage.tar.gz"), "-C", src, "."])).code).toBe(0);
    const manifest = { timestamp: "2026-01-11T22:47:48+08:00", database: "database.dump", storage: "storage.tar.gz" };
    await writeFile(path.join(tmp, "manifest.json"), JSON.stringify(manifest));
    const file = path.join(work, "hybrid", `backup_${stamp}.tar.gz`);
    expect((await run("tar", ["czf", file, "-C", path.dirname(tmp), `tmp_${stamp}`])).code).toBe(0);
    const dest = await folder("hybrid-dest");
    const imported = await runRunner(["import", file], { BACKUP_DESTINATION: `file://${dest}` });
    expect(imported.code).toBe(1);
    expect(imported.stderr).toContain('"./x -> ok": link to the absolute path "/etc/shadow"');
    expect(await readdir(dest)).toEqual([]);
  });
});
