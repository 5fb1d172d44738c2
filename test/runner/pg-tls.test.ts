/**
 * The runner's node-postgres sessions against libpq itself: for every sslmode, CA file, host name,
 * server (plain, TLS from a private CA) and role, `psql` with the same environment is the oracle.
 * The runner must connect exactly when psql connects, use TLS exactly when psql does (pg_stat_ssl
 * of its own session), and otherwise fail with a message that names the CA file and what to set.
 */
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connectPg } from "../../runner/src/pg/connect.js";
import { resolvePgConnection } from "../../runner/src/pg/connection.js";
import { SSL_MODES, type SslMode } from "../../runner/src/pg/libpq-tls.js";
import { run } from "../helpers/exec.js";
import { TLS_ROLES } from "../helpers/pg-tls-cluster.js";

const plain = inject("pg");
const tls = inject("pgTls");

const SSL_QUERY = "select coalesce((select ssl::text from pg_stat_ssl where pid = pg_backend_pid()), 'false')";

let dir: string;
/** A home without ~/.postgresql, and one whose ~/.postgresql/root.crt is the right CA (libpq's default). */
let emptyHome: string;
let homeWithRoot: string;
/** The right CA under a hostile path: a space, non-ASCII, a quote, a "+" (a space to URLSearchParams, not to libpq). */
let oddCaPath: string;
let garbageCaPath: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "edms-tls-matrix-"));
  emptyHome = path.join(dir, "empty-home");
  homeWithRoot = path.join(dir, "home");
  await mkdir(emptyHome);
  await mkdir(path.join(homeWithRoot, ".postgresql"), { recursive: true });
  await copyFile(tls.caFile, path.join(homeWithRoot, ".postgresql", "root.crt"));
  oddCaPath = path.join(dir, "CA bündel+'rds'", "ca file.pem");
  await mkdir(path.dirname(oddCaPath));
  await copyFile(tls.caFile, oddCaPath);
  garbageCaPath = path.join(dir, "garbage.pem");
  await writeFile(garbageCaPath, "not a certificate\n");
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type RootChoice = "none" | "default-file" | "right" | "other" | "missing" | "garbage";
const ROOTS: RootChoice[] = ["none", "default-file", "right", "other", "missing", "garbage"];

interface Case {
  server: "plain" | "tls";
  host: "localhost" | "127.0.0.1";
  root: RootChoice;
  mode: SslMode;
  user: string;
  clientCert?: boolean;
  /** sslmode and sslrootcert in DATABASE_URL instead of PGSSLMODE/PGSSLROOTCERT. */
  viaUrl?: boolean;
}

function caseName(c: Case): string {
  return [
    c.server,
    c.host,
    `user=${c.user}`,
    `root=${c.root}`,
    `sslmode=${c.mode}`,
    c.clientCert ? "client-cert" : "",
    c.viaUrl ? "via DATABASE_URL" : "",
  ]
    .filter(Boolean)
    .join(" ");
}

/** The environment both psql and the runner get (HOME decides libpq's default files). */
function envFor(c: Case): { env: Record<string, string>; home: string; rootFile?: string } {
  const server = c.server === "tls" ? tls : plain;
  const home = c.root === "default-file" ? homeWithRoot : emptyHome;
  const rootFile = {
    none: undefined,
    "default-file": undefined,
    right: oddCaPath,
    other: tls.otherCaFile,
    missing: path.join(dir, "no-such-ca.pem"),
    garbage: garbageCaPath,
  }[c.root];
  const env: Record<string, string> = { PATH: process.env.PATH!, HOME: home };
  const password = c.user === TLS_ROLES.certUser ? undefined : server.password;
  if (c.viaUrl) {
    const url = new URL(`postgresql://${c.host}:${server.port}/postgres`);
    url.username = c.user;
    if (password) url.password = password;
    // "+" is left as it is: libpq reads it literally (only %-escapes are decoded).
    const param = (v: string) => encodeURIComponent(v).replaceAll("%2B", "+");
    url.search = `sslmode=${param(c.mode)}${rootFile ? `&sslrootcert=${param(rootFile)}` : ""}`;
    env.DATABASE_URL = url.toString();
  } else {
    Object.assign(env, { PGHOST: c.host, PGPORT: String(server.port), PGUSER: c.user, PGDATABASE: "postgres" });
    if (password) env.PGPASSWORD = password;
    env.PGSSLMODE = c.mode;
    if (rootFile) env.PGSSLROOTCERT = rootFile;
  }
  // Without these, libpq looks for ~/.postgresql/postgresql.crt, which neither home has.
  if (c.clientCert) {
    env.PGSSLCERT = tls.clientCertFile;
    env.PGSSLKEY = tls.clientKeyFile;
  }
  return { env, home, rootFile };
}

async function oracle(env: Record<string, string>): Promise<{ connected: boolean; ssl: boolean; message: string }> {
  const args = ["-X", "-A", "-t", "-w", "-c", SSL_QUERY];
  // psql takes the URL as its connection string; the PG* variables otherwise.
  if (env.DATABASE_URL) args.push(env.DATABASE_URL);
  // The cluster's own psql: Debian's /usr/bin/psql is a perl wrapper that costs ~0.2 s a call.
  const r = await run(path.join(plain.binDir, "psql"), args, { env, timeoutMs: 30_000 });
  return { connected: r.code === 0, ssl: r.stdout.trim() === "true", message: r.stderr.trim() };
}

async function runner(
  env: Record<string, string>,
  home: string,
): Promise<{ connected: boolean; ssl: boolean; message: string }> {
  const connection = resolvePgConnection(env.DATABASE_URL, env);
  if (typeof connection === "string") throw new Error(connection);
  try {
    const client = await connectPg(connection, home);
    try {
      const r = await client.query<{ ssl: string }>(`${SSL_QUERY} as ssl`);
      return { connected: true, ssl: r.rows[0]!.ssl === "true", message: "" };
    } finally {
      await client.end();
    }
  } catch (error) {
    return { connected: false, ssl: false, message: (error as Error).message };
  }
}

// Every dimension that changes libpq's decision, each crossed with every sslmode; dimensions that
// cannot matter (a CA file for a server without TLS) are sampled rather than crossed.
const cases: Case[] = [];
for (const mode of SSL_MODES) {
  for (const root of ROOTS) cases.push({ server: "tls", host: "localhost", root, mode, user: "postgres" });
  for (const root of ["none", "right"] as const) {
    cases.push({ server: "plain", host: "127.0.0.1", root, mode, user: "postgres" });
    // The certificate names localhost only: verify-full by address must fail, verify-ca not.
    cases.push({ server: "tls", host: "127.0.0.1", root, mode, user: "postgres" });
  }
  // libpq's fallbacks: allow retries with TLS when plain text is refused, prefer retries without.
  for (const user of [TLS_ROLES.tlsOnly, TLS_ROLES.plainOnly]) {
    for (const root of ["none", "other"] as const) cases.push({ server: "tls", host: "localhost", root, mode, user });
  }
  for (const clientCert of [true, false])
    cases.push({ server: "tls", host: "localhost", root: "right", mode, user: TLS_ROLES.certUser, clientCert });
  for (const root of ["right", "other"] as const)
    cases.push({ server: "tls", host: "localhost", root, mode, user: "postgres", viaUrl: true });
}

describe("the runner's own sessions connect exactly where libpq (psql) connects", () => {
  it.concurrent.each(cases.map((c) => [caseName(c), c] as const))("%s", async (_name, c) => {
    const { env, home, rootFile } = envFor(c);
    const [expected, actual] = await Promise.all([oracle(env), runner(env, home)]);
    // Guard against a matrix that proves nothing: with the right CA, psql itself connects.
    if (c.server === "tls" && c.host === "localhost" && c.root === "right" && c.user === "postgres")
      expect(expected.connected, expected.message).toBe(true);
    expect(
      { connected: actual.connected, ssl: actual.ssl },
      `psql: ${expected.message || "connected"}\nrunner: ${actual.message || "connected"}`,
    ).toEqual({ connected: expected.connected, ssl: expected.ssl });
    if (!actual.connected) {
      expect(actual.message).toMatch(/^could not connect to the database \S+ \(sslmode=/);
      if (/certificate verify failed/.test(expected.message)) {
        // A failed verification names the CA file used and what to set.
        expect(actual.message).toContain(
          `against the CA file "${rootFile ?? path.join(home, ".postgresql/root.crt")}"`,
        );
        expect(actual.message).toContain("set PGSSLROOTCERT");
      }
      if (/root certificate file .* does not exist/.test(expected.message)) {
        expect(actual.message).toMatch(/root certificate file ".*" does not exist.*set PGSSLROOTCERT/);
      }
    }
  });
});

describe("one way to open a session", () => {
  it("every node-postgres session of the runner goes through connectPg", async () => {
    // A new `new pg.Client(...)` elsewhere would bypass libpq's rules (and node-postgres would
    // read PGSSLMODE its own way): this is the drift the issue was about.
    const sources = await readdir(path.join(__dirname, "../../runner/src"), { recursive: true });
    const offenders: string[] = [];
    for (const file of sources.filter((f) => f.endsWith(".ts"))) {
      const text = await readFile(path.join(__dirname, "../../runner/src", file), "utf8");
      // `new Pool(` alone is also the media store's own transfer pool: a bare name counts only
      // where it was imported from "pg".
      const namedFromPg = /import\s*\{[^}]*\b(Client|Pool)\b[^}]*\}\s*from\s*"pg"/.test(text);
      const opens = /new\s+pg\.(Client|Pool)\s*\(/.test(text) || (namedFromPg && /new\s+(Client|Pool)\s*\(/.test(text));
      if (opens && file !== path.join("pg", "connect.ts")) offenders.push(file);
    }
    expect(offenders).toEqual([]);
  });
});

describe("sslmode validation", () => {
  it("names a misspelt sslmode, from PGSSLMODE or from DATABASE_URL", () => {
    expect(resolvePgConnection(undefined, { PGDATABASE: "x", PGSSLMODE: "verify_full" })).toMatch(
      /sslmode "verify_full" .* must be one of disable, allow, prefer, require, verify-ca, verify-full/,
    );
    expect(resolvePgConnection("postgres://u@h/db?sslmode=true", {})).toMatch(/sslmode "true"/);
  });
});
