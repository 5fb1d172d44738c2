// A throwaway PostgreSQL cluster for tests and the demo: initdb into a temp dir, start on a free
// loopback port, tear everything down afterwards. No vitest imports here (the demo script reuses it).
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { chmod, chown, copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CommandNotFoundError, run, type RunResult } from "./exec.js";

/** What a client needs to reach the cluster; also what global-setup hands to test workers. */
export interface PgConnectionInfo {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Directory holding this cluster's initdb/pg_ctl/pg_dump/pg_restore. */
  binDir: string;
}

export interface PgCluster extends PgConnectionInfo {
  dataDir: string;
  /** The server's log file (connections are logged there with `logConnections`). */
  logFile: string;
  /** PID of the postmaster. */
  pid: number;
  /** postgresql:// URL for a database (default "postgres"). */
  url(db?: string): string;
  /** libpq environment (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE) for a database. */
  env(db?: string): Record<string, string>;
  /** Immediate shutdown and removal of the temp dir. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartPgClusterOptions {
  /**
   * Parent directory in which the cluster's own temp dir is created (default: os.tmpdir()).
   * The temp dir, not this one, is removed by stop(). Keep the path short: the Unix socket lives
   * there and socket paths are limited to ~107 bytes. As root it must be traversable by `postgres`.
   */
  dir?: string;
  /**
   * Serve TLS with this certificate and key (copied into the cluster's dir, owned by the server's
   * account, mode 0600 as PostgreSQL requires). `caFile` also lets `cert` authentication verify
   * client certificates.
   */
  tls?: { certFile: string; keyFile: string; caFile?: string };
  /** pg_hba.conf lines placed before initdb's defaults (e.g. a `hostssl ... cert` rule). */
  hbaFirst?: string[];
  /** log_connections=on: each connection is logged, with "SSL enabled (...)" when it used TLS. */
  logConnections?: boolean;
  /** Server settings as NAME=VALUE (e.g. max_prepared_transactions=2), passed as `-c` at start. */
  settings?: string[];
}

const INSTALL_HINT =
  "Install PostgreSQL 15 (Debian): apt-get update && apt-get install -y postgresql-15 postgresql-client-15";
const REQUIRED_BINARIES = ["initdb", "pg_ctl", "pg_dump"] as const;
const START_ATTEMPTS = 3;

export function connectionUrl(info: Omit<PgConnectionInfo, "binDir">, db = "postgres"): string {
  const auth = `${encodeURIComponent(info.user)}:${encodeURIComponent(info.password)}`;
  return `postgresql://${auth}@${info.host}:${info.port}/${encodeURIComponent(db)}`;
}

export function connectionEnv(info: Omit<PgConnectionInfo, "binDir">, db = "postgres"): Record<string, string> {
  return {
    PGHOST: info.host,
    PGPORT: String(info.port),
    PGUSER: info.user,
    PGPASSWORD: info.password,
    PGDATABASE: db,
  };
}

/**
 * Finds a bindir holding initdb, pg_ctl and pg_dump. Debian keeps initdb off PATH (only the
 * pg_wrapper scripts are in /usr/bin), so look in PG_BINDIR, then the PostgreSQL 15 dir, then
 * whatever `pg_config --bindir` says.
 */
export async function findPgBinDir(): Promise<string> {
  const candidates: string[] = [];
  if (process.env.PG_BINDIR) candidates.push(process.env.PG_BINDIR);
  candidates.push("/usr/lib/postgresql/15/bin");
  try {
    const r = await run("pg_config", ["--bindir"], { timeoutMs: 10_000 });
    if (r.code === 0 && r.stdout.trim()) candidates.push(r.stdout.trim());
  } catch (err) {
    if (!(err instanceof CommandNotFoundError)) throw err;
  }
  for (const dir of new Set(candidates)) {
    if (REQUIRED_BINARIES.every((b) => existsSync(join(dir, b)))) return dir;
  }
  throw new Error(
    `PostgreSQL binaries not found: need ${REQUIRED_BINARIES.join(", ")} in one of ` +
      `${[...new Set(candidates)].join(", ")} (set PG_BINDIR to override). ${INSTALL_HINT}`,
  );
}

/** uid/gid of the `postgres` account, read from /etc/passwd (Node has no getpwnam). */
export function postgresAccount(): { uid: number; gid: number } {
  const line = readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  const fields = line?.split(":");
  if (!fields || fields.length < 4) {
    throw new Error(
      "running as root, but there is no `postgres` user to run the server as (initdb and postgres " +
        `refuse to run as root). ${INSTALL_HINT} (the package creates the user), or run tests as a normal user.`,
    );
  }
  return { uid: Number(fields[2]), gid: Number(fields[3]) };
}

/** Asks the kernel for a free loopback port. Another process may grab it before we use it; start() retries. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => (port ? resolve(port) : reject(new Error("could not determine a free port"))));
    });
  });
}

function summarize(r: RunResult): string {
  const status = r.code === null ? `signal ${r.signal}` : `exit code ${r.code}`;
  return `${status}\n${(r.stdout + r.stderr).trim()}`;
}

function postmasterPid(dataDir: string): number | undefined {
  try {
    // First line of postmaster.pid is the postmaster's PID.
    const pid = Number(readFileSync(join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM means it exists but belongs to someone else (non-root caller, recycled PID): leave it be.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

async function killAndWait(pid: number): Promise<void> {
  for (const [signal, waitMs] of [
    ["SIGQUIT", 5_000],
    ["SIGKILL", 5_000],
  ] as const) {
    try {
      process.kill(pid, signal);
    } catch {
      return; // already gone
    }
    for (const deadline = Date.now() + waitMs; Date.now() < deadline;) {
      if (!isAlive(pid)) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Synchronous cleanup for process "exit" handlers, where nothing async runs: SIGQUIT (immediate
 * shutdown; the postmaster takes its backends down with it), wait up to 3 s, then remove the dir.
 */
function killAndRemoveSync(dataDir: string, root: string): void {
  const pid = postmasterPid(dataDir);
  if (pid !== undefined) {
    try {
      process.kill(pid, "SIGQUIT");
      const sleeper = new Int32Array(new SharedArrayBuffer(4));
      for (const deadline = Date.now() + 3_000; Date.now() < deadline && isAlive(pid);) {
        Atomics.wait(sleeper, 0, 0, 50);
      }
    } catch {
      // already gone
    }
  }
  try {
    rmSync(root, { recursive: true, force: true, maxRetries: 3 });
  } catch {
    // best effort while exiting
  }
}

export async function startPgCluster(opts: StartPgClusterOptions = {}): Promise<PgCluster> {
  const binDir = await findPgBinDir();
  const asRoot = process.getuid?.() === 0;
  const account = asRoot ? postgresAccount() : undefined;

  const root = await mkdtemp(join(opts.dir ?? tmpdir(), "edms-pg-"));
  const dataDir = join(root, "data");
  const logFile = join(root, "postgres.log");
  // Safety net for a process that exits without stop() (crash, Ctrl-C in vitest, an exception
  // during start): registered before initdb so even a half-made cluster is cleaned up.
  const onExit = (): void => killAndRemoveSync(dataDir, root);
  process.once("exit", onExit);
  // cwd = root: as root the server user may not be able to read the caller's cwd (e.g. /root).
  const pgRun = (tool: string, args: string[]): Promise<RunResult> => {
    const bin = join(binDir, tool);
    return asRoot
      ? run("runuser", ["-u", "postgres", "--", bin, ...args], { cwd: root, timeoutMs: 60_000 })
      : run(bin, args, { cwd: root, timeoutMs: 60_000 });
  };

  try {
    const password = randomBytes(18).toString("base64url");
    const pwFile = join(root, "pwfile");
    await writeFile(pwFile, password + "\n", { mode: 0o600 });
    if (account) {
      await chown(root, account.uid, account.gid);
      await chown(pwFile, account.uid, account.gid);
    }

    const init = await pgRun("initdb", [
      "-D",
      dataDir,
      "-U",
      "postgres",
      "--auth=scram-sha-256",
      `--pwfile=${pwFile}`,
      "--no-sync",
      "-E",
      "UTF8",
      "--locale=C",
    ]);
    await rm(pwFile, { force: true });
    if (init.code !== 0) throw new Error(`initdb failed (${summarize(init)})`);

    const extra: string[] = [];
    if (opts.tls) {
      const files = { ssl_cert_file: opts.tls.certFile, ssl_key_file: opts.tls.keyFile, ssl_ca_file: opts.tls.caFile };
      for (const [setting, source] of Object.entries(files)) {
        if (!source) continue;
        const target = join(root, `${setting}.pem`);
        await copyFile(source, target);
        await chmod(target, 0o600);
        if (account) await chown(target, account.uid, account.gid);
        extra.push(`-c ${setting}=${target}`);
      }
      extra.push("-c ssl=on");
    }
    if (opts.logConnections) extra.push("-c log_connections=on");
    for (const setting of opts.settings ?? []) extra.push(`-c ${setting}`);
    if (opts.hbaFirst?.length) {
      const hba = join(dataDir, "pg_hba.conf");
      await writeFile(hba, `${opts.hbaFirst.join("\n")}\n${await readFile(hba, "utf8")}`);
    }

    let port = 0;
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      const options = [
        `-p ${port}`,
        `-k ${root}`,
        "-c listen_addresses=127.0.0.1",
        // Durability is pointless for a throwaway cluster and costs seconds on every test run.
        "-c fsync=off",
        "-c synchronous_commit=off",
        "-c full_page_writes=off",
        "-c max_connections=100",
        ...extra,
      ].join(" ");
      const start = await pgRun("pg_ctl", ["-D", dataDir, "-l", logFile, "-w", "-t", "30", "-o", options, "start"]);
      if (start.code === 0) break;
      const log = await readFile(logFile, "utf8").catch(() => "");
      const portTaken = /could not bind|address already in use|could not create any TCP\/IP sockets/i.test(log);
      if (!portTaken || attempt >= START_ATTEMPTS) {
        throw new Error(
          `pg_ctl start failed on port ${port} (attempt ${attempt}, ${summarize(start)})\n${log.slice(-4000)}`,
        );
      }
      // A failed start may have left a stale postmaster.pid; the next pg_ctl start would trip on it.
      await rm(join(dataDir, "postmaster.pid"), { force: true });
    }

    const pid = postmasterPid(dataDir);
    if (pid === undefined) throw new Error(`postgres started but ${dataDir}/postmaster.pid is unreadable`);

    const info = { host: "127.0.0.1", port, user: "postgres", password };
    let stopped = false;
    const stop = async (): Promise<void> => {
      if (stopped) return;
      stopped = true;
      process.removeListener("exit", onExit);
      const r = await pgRun("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "-t", "30", "stop"]).catch(
        () => undefined,
      );
      if (r?.code !== 0) {
        // Kill only our own postmaster, by the PID it recorded; never by name.
        // SIGQUIT first (immediate shutdown, takes the backends down too), SIGKILL if it lingers.
        await killAndWait(postmasterPid(dataDir) ?? pid);
      }
      await rm(root, { recursive: true, force: true });
    };

    return {
      ...info,
      binDir,
      dataDir,
      logFile,
      pid,
      url: (db?: string) => connectionUrl(info, db),
      env: (db?: string) => connectionEnv(info, db),
      stop,
    };
  } catch (err) {
    // Leave nothing behind when start fails: stop a half-started server, then remove the dir.
    if (postmasterPid(dataDir) !== undefined) {
      await pgRun("pg_ctl", ["-D", dataDir, "-m", "immediate", "-w", "stop"]).catch(() => undefined);
    }
    await rm(root, { recursive: true, force: true });
    process.removeListener("exit", onExit);
    if (err instanceof CommandNotFoundError) {
      throw new Error(`${err.message} (needed to run PostgreSQL for tests). ${INSTALL_HINT}`);
    }
    throw err;
  }
}
