// The encryption stages with the real age binary: a failed input must never be sealed into a
// valid (truncated) age file, a failed decryption must still let the stored bytes be hashed to
// the end, and the identity never reaches a child's environment.
import { createHash } from "node:crypto";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough, Readable, pipeline } from "node:stream";
import { buffer, text } from "node:stream/consumers";
import { beforeAll, describe, expect, it } from "vitest";
import { recipientProblems } from "../../runner/src/contract.js";
import { identityProblems } from "../../runner/src/encryption/identity.js";
import { redact } from "../../runner/src/output/redact.js";
import { decryptStream } from "../../runner/src/stages/age-decrypt.js";
import { encryptSource, encryptStream } from "../../runner/src/stages/age-encrypt.js";
import { spawnChildSink } from "../../runner/src/stages/child-sink.js";
import { spawnChildSource } from "../../runner/src/stages/child-source.js";
import { spawnChildFilter } from "../../runner/src/stages/child-filter.js";
import { DigestMeter } from "../../runner/src/stages/digest-meter.js";
import { run } from "../helpers/exec.js";

let keyFile: string;
let recipient: string;
let secret: string;

beforeAll(async () => {
  const dir = await mkdtemp(path.join(tmpdir(), "edms-age-unit-"));
  keyFile = path.join(dir, "key.txt");
  expect((await run("age-keygen", ["-o", keyFile])).code).toBe(0);
  recipient = (await run("age-keygen", ["-y", keyFile])).stdout.trim();
  secret = (await run("grep", ["^AGE-SECRET-KEY-1", keyFile])).stdout.trim();
});

async function ageDecryptFile(bytes: Buffer): Promise<{ code: number | null; stdout: Buffer }> {
  const dir = await mkdtemp(path.join(tmpdir(), "edms-age-unit-"));
  await writeFile(path.join(dir, "in.age"), bytes);
  const out = path.join(dir, "out");
  const r = await run("age", ["-d", "-i", keyFile, "-o", out, path.join(dir, "in.age")]);
  return {
    code: r.code,
    stdout: r.code === 0 ? await import("node:fs/promises").then((f) => f.readFile(out)) : Buffer.alloc(0),
  };
}

describe("age --encrypt stage", () => {
  it("round-trips 3 MB through the reference CLI", async () => {
    const plain = Buffer.alloc(3 * 2 ** 20, 7);
    const sealed = await buffer(encryptStream(Readable.from([plain]), [recipient]).stream);
    expect(sealed.subarray(0, 21).toString()).toBe("age-encryption.org/v1");
    const back = await ageDecryptFile(sealed);
    expect(back.code).toBe(0);
    expect(back.stdout.equals(plain)).toBe(true);
  });

  it("an input that fails mid-stream fails the output instead of sealing what came so far", async () => {
    const input = new PassThrough();
    const sealed = encryptStream(input, [recipient]);
    const collected = buffer(sealed.stream);
    input.write(Buffer.alloc(200_000, 1));
    setTimeout(() => input.destroy(new Error("pg_dump: connection lost")), 50);
    await expect(collected).rejects.toThrow(/pg_dump: connection lost/);
  });

  it("a child that exits non-zero after writing fails the composed source, even though age exited 0", async () => {
    const child = spawnChildSource("sh", ["-c", "head -c 300000 /dev/zero; exit 3"], { label: "writer" });
    const sealed = encryptSource(child, [recipient]);
    await expect(buffer(sealed.stream)).rejects.toThrow(/writer exited with code 3/);
    await expect(sealed.exited).rejects.toThrow(/writer exited with code 3/);
  });
});

describe("age --decrypt stage", () => {
  it("refuses a flipped byte, yet the stored bytes upstream are read to the end (hashable)", async () => {
    const plain = Buffer.alloc(1_000_000, 3);
    const sealed = await buffer(encryptStream(Readable.from([plain]), [recipient]).stream);
    sealed[sealed.length >> 1]! ^= 0x40;
    const meter = new DigestMeter();
    pipeline(Readable.from([sealed.subarray(0, 100_000), sealed.subarray(100_000)]), meter, () => undefined);
    const opened = decryptStream(meter, keyFile);
    await expect(text(opened.stream)).rejects.toThrow(/age --decrypt exited with code 1/);
    await new Promise((r) => (meter.finished ? r(undefined) : meter.once("end", r)));
    expect(meter.bytes).toBe(sealed.length);
    expect(meter.sha256).toBe(createHash("sha256").update(sealed).digest("hex"));
  });
});

describe("the identity stays out of children", () => {
  it("AGE_IDENTITY is not in the environment of any child the runner starts", async () => {
    const before = process.env.AGE_IDENTITY;
    process.env.AGE_IDENTITY = secret;
    try {
      const source = await text(spawnChildSource("env", [], { label: "env" }).stream);
      const filter = await text(spawnChildFilter("env", [], Readable.from([]), { label: "env" }).stream);
      const lines: string[] = [];
      const sink = spawnChildSink("env", [], { label: "env", onListingLine: (l) => lines.push(l) });
      await sink.feed(Readable.from([]));
      for (const out of [source, filter, lines.join("\n")]) {
        expect(out).toMatch(/^PATH=/m);
        expect(out).not.toContain("AGE_IDENTITY");
        expect(out).not.toContain(secret);
      }
    } finally {
      if (before === undefined) delete process.env.AGE_IDENTITY;
      else process.env.AGE_IDENTITY = before;
    }
  });

  it("redacts age private keys wherever they appear", () => {
    expect(redact(`failed: ${secret} trailing`)).toBe("failed: AGE-SECRET-KEY-*** trailing");
  });
});

describe("recipient and identity syntax", () => {
  const bech32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
  it("accepts X25519 recipients and refuses everything else, naming each bad entry", () => {
    expect(recipientProblems(recipient)).toEqual([]);
    expect(recipientProblems(`${recipient},${"age1" + bech32.repeat(2).slice(0, 58)}`)).toEqual([]);
    expect(recipientProblems(`${recipient},${recipient}`)).toEqual(["a recipient is listed twice"]);
    expect(recipientProblems(`${recipient},`)).toEqual(["entry 2 is empty"]);
    expect(recipientProblems(`age1pq1${"q".repeat(60)}`)[0]).toMatch(/post-quantum/);
    // b, i, o and 1 are not bech32 characters; one character short or long is refused too.
    for (const bad of [
      "age1" + "b".repeat(58),
      "age1" + "q".repeat(57),
      "age1" + "q".repeat(59),
      "AGE1" + "q".repeat(58),
      "ssh-ed25519 AAAA",
    ])
      expect(recipientProblems(bad)).toHaveLength(1);
  });

  it("identity files: comments and blank lines are fine, anything else is named by line, never quoted", () => {
    expect(identityProblems(`# created: now\n# public key: ${recipient}\n${secret}\n`)).toEqual([]);
    expect(identityProblems("")).toEqual(["holds no identity (expected a line AGE-SECRET-KEY-1...)"]);
    const problems = identityProblems(`${secret}\nhunter2\n`);
    expect(problems).toEqual([expect.stringMatching(/^line 2 is not an X25519 identity/)]);
    expect(problems.join()).not.toContain("hunter2");
  });
});
