// An ad-hoc backup from a laptop that forgot ENCRYPTION_RECIPIENTS, into a destination whose sets
// are encrypted, used to land as plaintext (issue 26 item 6). It is bad input now (exit 2, nothing
// stored, the message names the recipients to set), unless --allow-plaintext / ALLOW_PLAINTEXT
// says it is meant. Real age, the default (store) media format, a file:// destination.
import { mkdtemp, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { newAgeKey, type AgeKeyPair } from "../helpers/age-key.js";
import { runRunner } from "../helpers/runner-cli.js";
import { chunkKeysOf } from "../helpers/segment-lists.js";

let key: AgeKeyPair;
let media: string;
/** Encrypted store sets need the stack's store key; the runs without recipients get it too. */
const STORE_KEY = "plaintext-refusal-store-key-0123456789abcdef";
beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "edms-plaintext-"));
  key = await newAgeKey(dir);
  media = await mkdtemp(path.join(tmpdir(), "edms-plaintext-media-"));
  await writeFile(path.join(media, "a.txt"), "secret document\n");
});

async function encryptedDestination(): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), "edms-plaintext-dest-"));
  const first = await runRunner(["backup", "--tier", "daily", "--no-database", "--encrypt-to", key.recipient], {
    BACKUP_DESTINATION: `file://${root}`,
    MEDIA_DIR: media,
    MEDIA_STORE_KEY: STORE_KEY,
  });
  expect(first.code, first.stderr).toBe(0);
  return root;
}

describe("a backup without recipients beside encrypted sets", () => {
  it("is refused (exit 2, nothing stored) and the message names the recipients to set", async () => {
    const root = await encryptedDestination();
    const before = await readdir(root, { recursive: true });
    const adhoc = await runRunner(["backup", "--tier", "adhoc", "--no-database"], {
      BACKUP_DESTINATION: `file://${root}`,
      MEDIA_DIR: media,
      MEDIA_STORE_KEY: STORE_KEY,
    });
    expect(adhoc.code, adhoc.stdout).toBe(2);
    expect(adhoc.stderr).toContain("ENCRYPTION_RECIPIENTS (--encrypt-to): not set, but the newest backup at");
    expect(adhoc.stderr).toContain(`Set ENCRYPTION_RECIPIENTS=${key.recipient}`);
    expect(adhoc.stderr).toContain("--allow-plaintext");
    expect(await readdir(root, { recursive: true })).toEqual(before);
    // import stores sets too: the same rule, before the archive is even opened.
    const imported = await runRunner(["import", "/nonexistent/backup_20260111_224748.tar.gz"], {
      BACKUP_DESTINATION: `file://${root}`,
    });
    expect(imported.code).toBe(2);
    expect(imported.stderr).toContain("would store the database and media in plaintext");
  });

  it("goes ahead with --allow-plaintext or ALLOW_PLAINTEXT=true, and with recipients", async () => {
    const root = await encryptedDestination();
    const env = { BACKUP_DESTINATION: `file://${root}`, MEDIA_DIR: media, MEDIA_STORE_KEY: STORE_KEY };
    const flagged = await runRunner(["backup", "--tier", "adhoc", "--no-database", "--allow-plaintext"], env);
    expect(flagged.code, flagged.stderr).toBe(0);
    const [id] = await readdir(path.join(root, "adhoc"));
    // A plaintext index (its chunks without .age): the media were stored in the clear, as asked.
    const list = await readFile(path.join(root, "adhoc", id!, "media-segments.txt"), "utf8");
    expect(chunkKeysOf(list)[0]).toMatch(/^store\/objects\/[0-9a-f/]+$/);
    // The plaintext set is now the newest: a later run without recipients is no longer refused,
    // so the variable is the way for scripts that mean it every time.
    const byEnv = await runRunner(["backup", "--tier", "adhoc", "--no-database"], {
      ...(await encryptedDestination().then((r) => ({ BACKUP_DESTINATION: `file://${r}` }))),
      MEDIA_DIR: media,
      MEDIA_STORE_KEY: STORE_KEY,
      ALLOW_PLAINTEXT: "true",
    });
    expect(byEnv.code, byEnv.stderr).toBe(0);
    const sealed = await runRunner(["backup", "--tier", "adhoc", "--no-database", "--encrypt-to", key.recipient], {
      ...(await encryptedDestination().then((r) => ({ BACKUP_DESTINATION: `file://${r}` }))),
      MEDIA_DIR: media,
      MEDIA_STORE_KEY: STORE_KEY,
    });
    expect(sealed.code, sealed.stderr).toBe(0);
    expect(await readFile(path.join(media, "a.txt"), "utf8")).toBe("secret document\n");
  });
});
