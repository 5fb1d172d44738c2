// A file the walk saw as a regular file may be something else by the time the backup reads it
// (the media folder is live): file-content.ts must refuse it with one message, never follow a
// symlink out of the folder, and never wait forever on a FIFO (open(2) of a FIFO for reading
// blocks until a writer comes, holding a thread-pool thread: the backup, and even its exit, hung).
import { createHash, randomBytes } from "node:crypto";
import { constants, openSync, closeSync } from "node:fs";
import { lstat, mkdtemp, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { Readable } from "node:stream";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WalkedEntry } from "../../runner/src/archive/directory-walk.js";
import { SMALL_FILE, readContent } from "../../runner/src/media-store/file-content.js";

let work: string;
beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-swaps-"));
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** The walk's entry for `name` (lstat now), as directory-walk.ts makes it. */
async function walked(name: string): Promise<WalkedEntry> {
  const file = path.join(work, name);
  return { type: "-", name: Buffer.from(name), path: Buffer.from(file), stats: await lstat(file, { bigint: true }) };
}

/** `promise`'s outcome, or "pending" when it has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<{ value?: T; error?: Error } | "pending"> {
  const timer = new Promise<"pending">((resolve) => setTimeout(() => resolve("pending"), ms));
  return Promise.race([
    promise.then(
      (value) => ({ value }),
      (error: Error) => ({ error }),
    ),
    timer,
  ]);
}

// Small files (read whole) and large ones (streamed) are opened by different code.
describe.each([
  ["small", 1000],
  ["large", 2 * 1024 * 1024],
])("a %s file swapped after the walk", (_kind, size) => {
  it("for a FIFO is refused at once, with no writer coming", async () => {
    const name = `fifo-${size}`;
    await writeFile(path.join(work, name), Buffer.alloc(size, 1));
    const entry = await walked(name);
    await unlink(path.join(work, name));
    execFileSync("mkfifo", [path.join(work, name)]);
    const outcome = await within(readContent(entry), 2000);
    if (outcome === "pending") {
      // Unblock the read's open (and the thread it holds) so the worker can end, then fail.
      closeSync(openSync(path.join(work, name), constants.O_WRONLY | constants.O_NONBLOCK));
      expect.fail("reading a file swapped for a FIFO waited for a writer");
    }
    expect(outcome.error?.message).toBe(
      `"${name}" is no longer a regular file (the media folder changed during the backup)`,
    );
  });

  it("for a symlink is refused, never followed", async () => {
    const name = `link-${size}`;
    await writeFile(path.join(work, name), Buffer.alloc(size, 2));
    await writeFile(path.join(work, "outside"), "a secret outside the media folder");
    const entry = await walked(name);
    await unlink(path.join(work, name));
    await symlink(path.join(work, "outside"), path.join(work, name));
    await expect(readContent(entry)).rejects.toThrow(
      `"${name}" is no longer a regular file (the media folder changed during the backup)`,
    );
  });
});

it("a small file grown past SMALL_FILE since the walk is streamed (not held whole) and named by what was read", async () => {
  await writeFile(path.join(work, "grows"), "small at the walk");
  const entry = await walked("grows");
  const grown = randomBytes(3 * SMALL_FILE);
  await writeFile(path.join(work, "grows"), grown);
  const content = await readContent(entry);
  expect(content.size).toBe(grown.length);
  expect(content.sha256).toBe(createHash("sha256").update(grown).digest("hex"));
  const body = await content.body();
  expect(body).toBeInstanceOf(Readable);
  expect(Buffer.concat(await (body as Readable).toArray()).equals(grown)).toBe(true);
});
