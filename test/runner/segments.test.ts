// The segment modules on their own (in process, a real file:// store): boundaries that depend on
// names only (so a change moves no boundary but its own), the segment list's format and its
// refusals, and chunks that come back only when they are whole (index chunks through real age).
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { StoreKey } from "../../runner/src/media-store/object-names.js";
import {
  indexCodec,
  objectsCodec,
  readChunk,
  readChunksInOrder,
  sha256Of,
  statCodec,
} from "../../runner/src/media-store/segment-chunks.js";
import {
  SEGMENT_AVERAGE,
  SEGMENT_MAX,
  SegmentCutter,
  parseSegmentList,
  segmentLine,
  segmentListHeader,
  type Segment,
} from "../../runner/src/media-store/segment-list.js";
import { SegmentWriter } from "../../runner/src/media-store/segment-writer.js";
import { decryptStream } from "../../runner/src/stages/age-decrypt.js";
import { FileStore } from "../../runner/src/store/file-store.js";
import type { ObjectStore } from "../../runner/src/store/object-store.js";
import { newAgeKey, type AgeKeyPair } from "../helpers/age-key.js";

const key = new StoreKey(Buffer.from("segments-unit-test-key-0123456789abcdef"));
let work: string;
let age: AgeKeyPair;

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-segments-"));
  age = await newAgeKey(work);
});
afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

/** Where a cutter ends segments over `names` (indexes of the last entry of each). */
function cuts(names: string[]): number[] {
  const cutter = new SegmentCutter(key.derive("segment-v1"));
  return names.flatMap((n, i) => (cutter.endsAfter(Buffer.from(n)) ? [i] : []));
}

const tree = (n: number) => Array.from({ length: n }, (_, i) => `d${Math.floor(i / 100)}/doc-${i}.pdf`);

describe("segment boundaries", () => {
  it("average about SEGMENT_AVERAGE entries, and a huge folder is still cut at SEGMENT_MAX", () => {
    const at = cuts(tree(100_000));
    expect(at.length).toBeGreaterThan(100_000 / SEGMENT_AVERAGE / 1.5);
    expect(at.length).toBeLessThan((100_000 / SEGMENT_AVERAGE) * 1.5);
    const gaps = at.map((c, i) => c - (at[i - 1] ?? -1));
    expect(Math.max(...gaps)).toBeLessThanOrEqual(SEGMENT_MAX);
  });

  it("depend on names only: inserting or deleting an entry moves no boundary elsewhere", () => {
    const names = tree(20_000);
    const before = cuts(names).map((i) => names[i]);
    fc.assert(
      fc.property(fc.nat(names.length - 1), fc.boolean(), (at, insert) => {
        const changed = insert
          ? [...names.slice(0, at), `${names[at]}-new`, ...names.slice(at)]
          : names.filter((_, i) => i !== at);
        const after = cuts(changed).map((i) => changed[i]);
        const diff = (a: (string | undefined)[], b: (string | undefined)[]) => a.filter((x) => !b.includes(x));
        // At most the entry itself is a boundary added or lost (SEGMENT_MAX never hits here).
        expect(diff(before, after).length + diff(after, before).length).toBeLessThanOrEqual(1);
      }),
      { numRuns: 30 },
    );
  });

  it("are keyed: another store key cuts elsewhere", () => {
    const other = new SegmentCutter(
      new StoreKey(Buffer.from("another-key-0123456789abcdef012345")).derive("segment-v1"),
    );
    const names = tree(20_000);
    const mine = cuts(names);
    const theirs = names.flatMap((n, i) => (other.endsAfter(Buffer.from(n)) ? [i] : []));
    expect(theirs).not.toEqual(mine);
  });
});

describe("the segment list", () => {
  const chunk = (c: string) => ({ key: `store/objects/${c}${c}/${c.repeat(64)}`, bytes: 10, sha256: c.repeat(64) });
  const segments: Segment[] = [
    { index: chunk("a"), stat: chunk("b"), objects: chunk("c") },
    { index: { ...chunk("d"), key: `${chunk("d").key}.age` }, stat: chunk("e"), objects: { ...chunk("f"), bytes: 0 } },
  ];
  const text = segmentListHeader("20260101T000000Z-abcd") + segments.map(segmentLine).join("");

  it("reads back what was written", () => {
    expect(parseSegmentList(text, "x", "20260101T000000Z-abcd")).toEqual(segments);
  });

  it("refuses another set's list, a cut one and a malformed line, naming where", () => {
    expect(() => parseSegmentList(text, "daily/x/media-segments.txt", "other")).toThrow(
      /daily\/x\/media-segments\.txt: not the segment list of other/,
    );
    expect(() => parseSegmentList(text.slice(0, -5), "x", "20260101T000000Z-abcd")).toThrow(/cut short/);
    expect(() => parseSegmentList(text.replace(" 10 ", " ten "), "x", "20260101T000000Z-abcd")).toThrow(
      /line 2 is not a segment/,
    );
    expect(() => parseSegmentList(text.replace("store/objects/aa", "daily/aa"), "x", "20260101T000000Z-abcd")).toThrow(
      /line 2 is not a segment/,
    );
  });
});

describe("chunks", () => {
  const plain = Buffer.from('{"path":"YQ==","type":"file"}\n'.repeat(50));

  it("come back whole through each codec (the index through real age), and never when damaged", async () => {
    const store: ObjectStore = new FileStore(path.join(work, "dest"));
    const sealKey = key.derive("stat-cache-v1");
    const codecs = {
      plain: [indexCodec({}), indexCodec({})],
      age: [
        indexCodec({ recipients: [age.recipient] }),
        indexCodec({ decrypt: (input: Readable) => decryptStream(input, age.file) }),
      ],
      stat: [statCodec(sealKey), statCodec(sealKey)],
      objects: [objectsCodec, objectsCodec],
    } as const;
    for (const [name, [writer, reader]] of Object.entries(codecs)) {
      const stored = await writer.encode(plain);
      if (name !== "objects") expect(stored.includes(Buffer.from("YQ=="))).toBe(false);
      const ref = {
        key: `store/objects/0${name.length}/0${name.length}${"0".repeat(62)}`,
        bytes: stored.length,
        sha256: sha256Of(plain),
      };
      await store.putStream(ref.key, Readable.from([stored]), { partSize: 5 << 20, queueSize: 1, contentType: "x" });
      expect(await readChunk(store, ref, reader, "set")).toEqual(plain);
      // The list's sha256 is what decides, whatever the codec accepts.
      await expect(readChunk(store, { ...ref, sha256: "0".repeat(64) }, reader, "set, segment 1")).rejects.toThrow(
        /set, segment 1: chunk .* has sha256 [0-9a-f]{64}, the segment list says 0{64} \(corrupted\)/,
      );
      await expect(readChunk(store, { ...ref, bytes: ref.bytes + 1 }, reader, "set")).rejects.toThrow(
        /truncated or replaced/,
      );
      if (name !== "objects") {
        const file = path.join(work, "dest", ref.key);
        const damaged = await readFile(file);
        damaged[damaged.length - 3] ^= 0x01;
        await writeFile(file, damaged);
        await expect(readChunk(store, ref, reader, "set")).rejects.toThrow(/damaged|corrupted/);
      }
    }
    await expect(
      readChunk(
        store,
        { key: `store/objects/ee/${"e".repeat(64)}`, bytes: 1, sha256: "e".repeat(64) },
        objectsCodec,
        "set",
      ),
    ).rejects.toThrow(/set: chunk store\/objects\/ee\/e+ could not be read/);
  });

  it("are handed out in order however their reads finish", async () => {
    const delays = [30, 0, 20, 5, 0, 10];
    const out: string[] = [];
    for await (const b of readChunksInOrder(
      delays,
      async (d, i) => {
        await new Promise((r) => setTimeout(r, d));
        return Buffer.from(String(i));
      },
      3,
    ))
      out.push(b.toString());
    expect(out).toEqual(["0", "1", "2", "3", "4", "5"]);
  });
});

describe("the segment writer", () => {
  it("names a chunk by its plaintext: the same entries give the same chunks, whatever the run", async () => {
    const stored = new Map<string, Buffer>();
    const write = async () => {
      const w = new SegmentWriter({
        key,
        sealKey: key.derive("stat-cache-v1"),
        store: async (k, encoded) => {
          if (!stored.has(k)) stored.set(k, await encoded());
          return stored.get(k)!.length;
        },
      });
      for (const n of tree(3000))
        await w.add(Buffer.from(n), `{"n":"${n}"}\n`, `["${n}"]\n`, `store/objects/00/${"0".repeat(64)}`);
      return w.end();
    };
    const first = await write();
    expect(first.length).toBeGreaterThan(1);
    const count = stored.size;
    const second = await write();
    expect(second).toEqual(first);
    expect(stored.size).toBe(count);
    // Every kind names its chunks apart: one plaintext as an index and as a stat chunk, two names.
    const same = Buffer.from("same\n").toString();
    const w = new SegmentWriter({ key, sealKey: key.derive("stat-cache-v1"), store: async () => 1 });
    await w.add(Buffer.from("a"), same, same, "same");
    const [{ index, stat, objects }] = (await w.end()) as [Segment];
    expect(index.sha256).toBe(stat.sha256);
    expect(new Set([index.key, stat.key, objects.key]).size).toBe(3);
  });
});
