// Backups leave out exactly the runner's own copies inside a media folder (`.edms-staging-<run id>`,
// `.edms-previous-<run id>`, their `.holder` files), never a user's file of a similar name such as
// `.edms-previous-notes.txt`, which used to vanish from every backup without a word (issue 21).
// The walk's rule and real GNU tar's --exclude agree, over generated names; look-alikes are warned.
import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ARCHIVE_EXCLUDE_ARGS, excludedFromArchive, looksLikeRunnerCopy } from "../../runner/src/contract.js";
import { run } from "../helpers/exec.js";
import { runRunner } from "../helpers/runner-cli.js";

const RUN_ID = "20261127T114200Z-3f9a2c";
const OWN = [`.edms-staging-${RUN_ID}`, `.edms-previous-${RUN_ID}`, `.edms-previous-${RUN_ID}.holder`];
const USERS = [
  ".edms-previous-notes.txt",
  `.edms-previous-${RUN_ID}X`,
  `.edms-staging-${RUN_ID}.holder.bak`,
  `.edms-previous-${RUN_ID.toUpperCase()}`,
  ".edms-staging-",
  "edms-previous-x",
];

/** Which of `names` (top-level files in a fresh folder) real tar archives with the runner's options. */
async function archivedByTar(names: readonly string[]): Promise<Set<string>> {
  const dir = await mkdtemp(path.join(tmpdir(), "edms-exclude-"));
  for (const n of names) await writeFile(path.join(dir, n), "x");
  const listed = await run("sh", [
    "-c",
    `tar --create --file=- --directory="$1" --format=gnu ${ARCHIVE_EXCLUDE_ARGS.map((a) => `'${a}'`).join(" ")} . | tar -t`,
    "sh",
    dir,
  ]);
  expect(listed.code, listed.stderr).toBe(0);
  return new Set(
    listed.stdout
      .split("\n")
      .filter((l) => l.startsWith("./") && l !== "./")
      .map((l) => l.slice(2)),
  );
}

describe("what a backup leaves out of the archive", () => {
  it("exactly the runner's own names; the walk's rule and real tar agree on generated names", async () => {
    const hex = fc.constantFrom(..."0123456789abcdef");
    const digit = fc.constantFrom(..."0123456789");
    const runId = fc
      .tuple(
        fc.array(digit, { minLength: 8, maxLength: 8 }),
        fc.array(digit, { minLength: 6, maxLength: 6 }),
        fc.array(hex, { minLength: 6, maxLength: 6 }),
      )
      .map(([d, t, h]) => `${d.join("")}T${t.join("")}Z-${h.join("")}`);
    const name = fc
      .tuple(
        fc.constantFrom(
          ".edms-staging-",
          ".edms-previous-",
          ".edms-",
          ".edms-previous",
          "edms-staging-",
          ".media.edms-previous-",
        ),
        fc.oneof(runId, fc.stringMatching(/^[0-9A-Za-z._-]{0,24}$/)),
        fc.constantFrom("", ".holder", ".holder2", "X", ".txt"),
      )
      .map(([a, b, c]) => `${a}${b}${c}`)
      .filter((n) => n !== "." && n !== ".." && !n.includes("/") && n.length > 0);
    const names = fc.sample(fc.uniqueArray(name, { minLength: 40, maxLength: 60 }), 1)[0]!.concat(OWN, USERS);
    const unique = [...new Set(names)];
    const archived = await archivedByTar(unique);
    const oracle = (n: string) => /^\.edms-(staging|previous)-[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}(\.holder)?$/.test(n);
    for (const n of unique) {
      expect(excludedFromArchive(Buffer.from(n)), n).toBe(oracle(n));
      expect(archived.has(n), `tar on ${n}`).toBe(!oracle(n));
      expect(looksLikeRunnerCopy(Buffer.from(n)), n).toBe(!oracle(n) && n.startsWith(".edms-"));
    }
  });

  it("a real backup archives a user's .edms-previous-notes.txt, leaves out the runner's copy, and warns once", async () => {
    const media = await mkdtemp(path.join(tmpdir(), "edms-exclude-media-"));
    await writeFile(path.join(media, ".edms-previous-notes.txt"), "mine\n");
    await mkdir(path.join(media, `.edms-previous-${RUN_ID}`));
    await writeFile(path.join(media, `.edms-previous-${RUN_ID}`, "old.txt"), "old\n");
    await mkdir(path.join(media, "docs"));
    await writeFile(path.join(media, "docs", `.edms-previous-${RUN_ID}`), "nested, the user's\n");
    const root = await mkdtemp(path.join(tmpdir(), "edms-exclude-dest-"));
    // The tar format: the test reads the archive's member names.
    const result = await runRunner(["backup", "--tier", "daily", "--no-database", "--compression", "none"], {
      BACKUP_DESTINATION: `file://${root}`,
      MEDIA_DIR: media,
      MEDIA_FORMAT: "tar",
    });
    expect(result.code, result.stderr).toBe(0);
    const [id] = await readdir(path.join(root, "daily"));
    const listed = await run("tar", ["-tf", path.join(root, "daily", id!, "storage.tar")]);
    const entries = listed.stdout.split("\n");
    expect(entries).toContain("./.edms-previous-notes.txt");
    expect(entries).toContain(`./docs/.edms-previous-${RUN_ID}`);
    expect(entries.some((e) => e.startsWith(`./.edms-previous-${RUN_ID}`))).toBe(false);
    const warned = result.logs.filter((l) => Array.isArray(l.lookAlikes));
    expect(warned).toHaveLength(1);
    expect(warned[0]!.lookAlikes).toEqual([".edms-previous-notes.txt"]);
  });
});
