// How restore, verify and import read a media archive: the decompressor in front of tar, joined
// by an OS pipe (spawnTarSink), for each compression the backup writes, with the real gzip, zstd
// and tar. Whatever the runner archived comes back byte for byte, and the listing names every file.
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EntryInspector } from "../../runner/src/archive/inspector.js";
import { spawnTarSink, tarExtractArgs, tarListArgs } from "../../runner/src/readback/tar-args.js";
import { tarCreateArgs } from "../../runner/src/stages/media-archive.js";
import { run } from "../helpers/exec.js";
import { mediaTreeDigest } from "../helpers/sample-data.js";

describe("reading a media archive (decompressor | tar -x / tar -t)", () => {
  it.each(["none", "gzip", "zstd"] as const)(
    "restores and lists a %s archive made by the backup's tar",
    async (compression) => {
      const work = await mkdtemp(path.join(tmpdir(), "edms-extract-"));
      const source = path.join(work, "source");
      await mkdir(path.join(source, "a b"), { recursive: true });
      await writeFile(path.join(source, "a b", "scan.pdf"), Buffer.alloc(3 * 2 ** 20, 7));
      await writeFile(path.join(source, "note.txt"), "hello\n".repeat(1000));
      const archive = path.join(work, "media.tar");
      const made = await run("bash", [
        "-c",
        `tar "$@" > "${archive}"`,
        "tar",
        ...tarCreateArgs(source, compression, 1),
      ]);
      expect(made.code, made.stderr).toBe(0);

      const target = path.join(work, "target");
      await mkdir(target);
      const extracted = new EntryInspector();
      await spawnTarSink(compression, tarExtractArgs(target), "tar --extract", extracted).feed(
        createReadStream(archive),
      );
      expect(await mediaTreeDigest(target)).toEqual(await mediaTreeDigest(source));
      expect(extracted.tally).toMatchObject({ files: 2, sourceBytes: 3 * 2 ** 20 + 6000 });

      const listed = new EntryInspector();
      await spawnTarSink(compression, tarListArgs(), "tar --list", listed).feed(createReadStream(archive));
      expect(listed.tally).toEqual(extracted.tally);
    },
  );
});
