// A file:// destination holds database dumps (plaintext unless encrypted): every object the runner
// writes is 0600 and every folder it creates 0700, whatever the umask (issue 21: they were 0644,
// readable by every local user). The folder the operator made is left as it was.
import { mkdir, mkdtemp, readdir, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { FileStore } from "../../runner/src/store/file-store.js";
import { mediaOnlyBackup } from "../helpers/media-only-backup.js";

/** Every file and folder below root, with its permission bits. */
async function modes(root: string): Promise<Array<{ rel: string; dir: boolean; mode: number }>> {
  const out: Array<{ rel: string; dir: boolean; mode: number }> = [];
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      out.push({ rel: path.relative(root, full), dir: entry.isDirectory(), mode: (await stat(full)).mode & 0o777 });
      if (entry.isDirectory()) await walk(full);
    }
  }
  await walk(root);
  return out;
}

describe("file:// object and folder modes", () => {
  it("objects of any key and size are 0600, the folders created for them 0700", async () => {
    const segment = fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,11}$/);
    await fc.assert(
      fc.asyncProperty(
        fc.array(segment, { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.uint8Array({ maxLength: 4096 }),
        async (parts, small, bytes) => {
          const root = await mkdtemp(path.join(tmpdir(), "edms-modes-"));
          const store = new FileStore(root);
          const key = parts.join("/");
          if (small) await store.putSmall(key, Buffer.from(bytes).toString("latin1"));
          else await store.putStream(key, Readable.from([Buffer.from(bytes)]));
          for (const found of await modes(root)) expect(found.mode, found.rel).toBe(found.dir ? 0o700 : 0o600);
        },
      ),
      { numRuns: 30 },
    );
  });

  it("a real backup leaves nothing readable by others, and the operator's own folder as it was", async () => {
    const root = await mediaOnlyBackup("edms-modes");
    const found = await modes(root);
    expect(found.some((f) => f.rel.endsWith("manifest.json"))).toBe(true);
    for (const f of found) expect(f.mode, f.rel).toBe(f.dir ? 0o700 : 0o600);
    // The destination folder itself was made by the test (mkdtemp: 0700) and is not chmod'ed.
    const made = await mkdtemp(path.join(tmpdir(), "edms-modes-own-"));
    const own = path.join(made, "dest");
    await mkdir(own, { mode: 0o750 });
    await new FileStore(own).putSmall("daily/x/manifest.json", "{}");
    expect((await stat(own)).mode & 0o777).toBe(0o750);
  });
});
