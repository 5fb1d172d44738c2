/**
 * The age identity (private key) that restore, drill and verify decrypt with: from a file
 * (AGE_IDENTITY_FILE, e.g. a mounted Secret) or the variable AGE_IDENTITY. Its text is a secret:
 * it is never logged, never echoed in a message and never put in a child's environment.
 */
import { randomBytes } from "node:crypto";
import { lstatSync, readFileSync, readlinkSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { text } from "node:stream/consumers";
import type { ParsedRunnerEnv } from "../contract.js";
import { errorMessage } from "../errors.js";
import { spawnChildSource } from "../stages/child-source.js";

export interface IdentitySettings {
  /** Where it came from, for messages (never the key itself). */
  source: string;
  /** The file age reads it from, when it came from AGE_IDENTITY_FILE. */
  file?: string;
  /** The identity file's text: secret. */
  secret: string;
  /** Why the identity file is not private enough (looseIdentityFile); the run logs it as a warning. */
  warning?: string;
}

/**
 * ssh's rule for private keys, as a warning: a key file that its group or others may read (or
 * write) lets them decrypt every backup. A Kubernetes Secret volume is the exception: the kubelet
 * writes it as `<name> -> ..data/<name>` with the volume's defaultMode (the stack's 0444, so the
 * non-root runner can read a root-owned file); there the pod, one container, is the boundary.
 */
export function looseIdentityFile(file: string): string | undefined {
  try {
    const link = lstatSync(file);
    if (link.isSymbolicLink() && readlinkSync(file).startsWith("..data/")) return undefined;
    const mode = statSync(file).mode & 0o777;
    if ((mode & 0o077) === 0) return undefined;
    const octal = mode.toString(8).padStart(4, "0");
    return `AGE_IDENTITY_FILE ${file} is readable by others (mode ${octal}): anyone who can read it can decrypt every backup; run chmod 600 ${file} (ssh refuses a private key like this)`;
  } catch {
    return undefined; // read already succeeded; a file that vanished since is found by age
  }
}

const SECRET_KEY = /^AGE-SECRET-KEY-1[02-9AC-HJ-NP-Z]{58}$/;

/** Problems with an identity file's text; never quotes it. */
export function identityProblems(secret: string): string[] {
  const problems: string[] = [];
  let keys = 0;
  secret.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    if (SECRET_KEY.test(line)) keys += 1;
    else
      problems.push(
        `line ${i + 1} is not an X25519 identity (AGE-SECRET-KEY-1..., from age-keygen); passphrase-protected, plugin and post-quantum identities are not supported`,
      );
  });
  if (keys === 0 && problems.length === 0) problems.push("holds no identity (expected a line AGE-SECRET-KEY-1...)");
  return problems;
}

/** Reads and checks the identity named by the environment; problems go to `problems` (exit 2). */
export function loadIdentity(env: ParsedRunnerEnv, problems: string[]): IdentitySettings | undefined {
  const { AGE_IDENTITY_FILE: file, AGE_IDENTITY: inline } = env;
  if (file && inline) {
    problems.push("AGE_IDENTITY_FILE and AGE_IDENTITY: set one of them, not both");
    return undefined;
  }
  let identity: IdentitySettings | undefined;
  if (file) {
    if (!file.startsWith("/")) {
      problems.push(`AGE_IDENTITY_FILE: must be an absolute path (got "${file}")`);
      return undefined;
    }
    try {
      const warning = looseIdentityFile(file);
      identity = {
        source: `AGE_IDENTITY_FILE (${file})`,
        file,
        secret: readFileSync(file, "utf8"),
        ...(warning ? { warning } : {}),
      };
    } catch (error) {
      problems.push(
        `AGE_IDENTITY_FILE: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? errorMessage(error)}`,
      );
      return undefined;
    }
  } else if (inline) identity = { source: "AGE_IDENTITY", secret: inline };
  if (!identity) return undefined;
  const found = identityProblems(identity.secret);
  for (const p of found) problems.push(`${identity.source}: ${p}`);
  return found.length ? undefined : identity;
}

/** An identity ready for the age binary: a file it can read, and the recipients it answers for. */
export interface OpenIdentity {
  source: string;
  /** A file age reads the identity from. */
  file: string;
  /** The public keys (age1...) of the identities in it. */
  recipients: string[];
  /** Removes the private copy made for AGE_IDENTITY. */
  close(): Promise<void>;
}

/**
 * age reads identities only from a file (a socket such as /dev/fd/3 cannot be opened), so an
 * identity given as AGE_IDENTITY is written to a 0600 file in a fresh 0700 folder, removed by
 * close(); AGE_IDENTITY_FILE is handed to age as it is.
 */
export async function openIdentity(identity: IdentitySettings): Promise<OpenIdentity> {
  let file = identity.file;
  let dir: string | undefined;
  if (!file) {
    dir = await mkdtemp(path.join(tmpdir(), "edms-age-"));
    file = path.join(dir, `identity-${randomBytes(4).toString("hex")}`);
    await writeFile(file, identity.secret.endsWith("\n") ? identity.secret : `${identity.secret}\n`, { mode: 0o600 });
  }
  const close = async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  };
  try {
    const keygen = spawnChildSource("age-keygen", ["-y", file], { label: "age-keygen -y", secrets: [identity.secret] });
    const recipients = (await text(keygen.stream))
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean);
    return { source: identity.source, file, recipients, close };
  } catch (error) {
    await close();
    throw error;
  }
}
