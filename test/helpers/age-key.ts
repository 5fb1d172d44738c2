// One age X25519 key pair made by the real age-keygen, for tests that encrypt or render a stack
// with a recipient. (scripts/setup.sh installs age; a missing binary fails here, saying so.)
import { readFile } from "node:fs/promises";
import path from "node:path";
import { run } from "./exec.js";

export interface AgeKeyPair {
  /** The identity file age-keygen wrote (what the identity Secret holds). */
  file: string;
  /** The AGE-SECRET-KEY-1... line. */
  secret: string;
  /** The age1... public key. */
  recipient: string;
}

export async function newAgeKey(dir: string, name = "age"): Promise<AgeKeyPair> {
  const file = path.join(dir, `${name}.key`);
  const made = await run("age-keygen", ["-o", file]);
  if (made.code !== 0)
    throw new Error(`age-keygen failed (${made.code}): ${made.stderr} (install it: apt-get install age)`);
  const secret = (await readFile(file, "utf8")).split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-1"));
  if (!secret) throw new Error(`age-keygen wrote no AGE-SECRET-KEY-1 line to ${file}`);
  const pub = await run("age-keygen", ["-y", file]);
  if (pub.code !== 0) throw new Error(`age-keygen -y failed (${pub.code}): ${pub.stderr}`);
  return { file, secret, recipient: pub.stdout.trim() };
}
