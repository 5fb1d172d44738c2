// The media swap, both ways it can happen: beside the target (two renames) and inside it (when
// the target is a mount point, as a Kubernetes volume is), with commit and rollback.
import { mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  chooseLayout,
  prepareMediaStaging,
  swapInMedia,
  type StagingLayout,
} from "../../runner/src/restore/media-staging.js";
import { mediaTreeDigest } from "../helpers/sample-data.js";

async function setUp(): Promise<{ parent: string; target: string }> {
  const parent = await mkdtemp(path.join(tmpdir(), "edms-swap-"));
  const target = path.join(parent, "media");
  await mkdir(path.join(target, "old dir"), { recursive: true });
  await writeFile(path.join(target, "old dir", "old.txt"), "old\n");
  await writeFile(path.join(target, "keep.txt"), "old keep\n");
  return { parent, target };
}

async function stageNew(target: string, layout: StagingLayout) {
  const staging = await prepareMediaStaging(target, "t1", layout);
  await writeFile(path.join(staging.dir, "keep.txt"), "new keep\n");
  await writeFile(path.join(staging.dir, "new.txt"), "new\n");
  return staging;
}

describe.each(["beside", "inside"] as const)("media swap (%s)", (layout) => {
  it("commit leaves exactly the restored tree and no staging leftovers", async () => {
    const { parent, target } = await setUp();
    const swap = await swapInMedia(await stageNew(target, layout), target, "t1");
    await swap.commit();
    expect((await mediaTreeDigest(target)).map((e) => e.path)).toEqual(["keep.txt", "new.txt"]);
    expect(await readdir(parent)).toEqual(["media"]);
  });

  it("rollback puts the previous tree back exactly, and the swapped-in tree back where it was", async () => {
    const { parent, target } = await setUp();
    const before = await mediaTreeDigest(target);
    const staging = await stageNew(target, layout);
    const swap = await swapInMedia(staging, target, "t1");
    await swap.rollback();
    // Nothing is removed by a rollback (an undo swaps in a kept copy, the only one of its data).
    expect((await mediaTreeDigest(staging.dir)).map((e) => e.path)).toEqual(["keep.txt", "new.txt"]);
    await staging.discard();
    expect(await mediaTreeDigest(target)).toEqual(before);
    expect(await readdir(parent)).toEqual(["media"]);
  });
});

describe("staging layout", () => {
  it("stages beside an ordinary folder, and creates a missing target on swap", async () => {
    const parent = await mkdtemp(path.join(tmpdir(), "edms-swap-"));
    const target = path.join(parent, "new", "media");
    expect(await chooseLayout(target)).toBe("beside");
    const swap = await swapInMedia(await stageNew(target, "beside"), target, "t2");
    await swap.commit();
    expect(await readdir(target)).toEqual(["keep.txt", "new.txt"]);
  });

  it("stages inside a mount point, which cannot be renamed", async () => {
    // /proc is a mount point on every Linux machine; a Kubernetes volume at MEDIA_DIR is another.
    expect(await chooseLayout("/proc")).toBe("inside");
  });
});
