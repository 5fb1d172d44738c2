/**
 * Every node-postgres session the runner opens goes through connectPg, which follows libpq's
 * sslmode rules (libpq-tls.ts), so the runner's own sessions (snapshot, row counts, drill and
 * restore) connect exactly where pg_dump and pg_restore do.
 *
 * node-postgres has no fallback between TLS and plain text, so libpq's is done here: `prefer`
 * tries TLS and, when the server does not offer it or the TLS connection fails after reaching the
 * server, connects again without; `allow` tries plain text and, when the server rejects it,
 * connects again with TLS. A server that cannot be reached at all is not retried (libpq does not
 * either).
 */
import net from "node:net";
import os from "node:os";
import type pg from "pg";
import { pgDriver } from "./pg-driver.js";
import { RunnerError } from "../errors.js";
import type { PgConnection } from "./connection.js";
import {
  attemptsFor,
  DEFAULT_SSL_MODE,
  isSslMode,
  ROOT_CERT_HINT,
  tlsFiles,
  tlsSetup,
  type Attempt,
} from "./libpq-tls.js";

/**
 * A connection failure. `rejectedByServer`: the server answered with an error (auth, pg_hba, no
 * database). `advised`: the message already says what to set (TLS problems); callers add their
 * own advice otherwise.
 */
export class PgConnectError extends RunnerError {
  constructor(
    message: string,
    readonly rejectedByServer: boolean,
    readonly advised: boolean,
    options?: ErrorOptions,
  ) {
    super(message, 1, options);
    this.name = "PgConnectError";
  }
}

const VERIFY_CODES = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

const NO_TLS = "The server does not support SSL connections";

interface Failure {
  attempt: Attempt;
  /** The server answered "no TLS here": a failure only when the mode requires TLS. */
  noTlsOffered?: boolean;
  message: string;
  /** The server was reached (TCP connected, or libpq would have got as far as the handshake). */
  reached: boolean;
  rejectedByServer: boolean;
  advised: boolean;
  /** The driver's or the TLS layer's own error (logged at debug as the cause). */
  cause: unknown;
}

/** The failure in words; `advised` when they already say what to do. */
function explain(
  error: unknown,
  attempt: Attempt,
  verifiedWith: string | undefined,
  mode: string,
): { message: string; advised: boolean } {
  const e = error as Error & { code?: string };
  if (attempt === "tls" && e.message === NO_TLS) {
    return {
      message: `the server does not offer TLS (sslmode=${mode} requires it; sslmode=prefer falls back to plain text)`,
      advised: true,
    };
  }
  if (e.code && VERIFY_CODES.has(e.code)) {
    return {
      message:
        e.code === "ERR_TLS_CERT_ALTNAME_INVALID"
          ? `the server's certificate does not name this host (${e.message}); sslmode=verify-full checks the name: connect by a name the certificate holds, or use sslmode=verify-ca`
          : `the server's certificate failed verification against the CA file "${verifiedWith}" (${e.message}); ${ROOT_CERT_HINT}`,
      advised: true,
    };
  }
  return { message: e.message, advised: false };
}

/**
 * Opens a session on `connection` as libpq would; the caller ends it. `home` is where libpq looks
 * for ~/.postgresql (HOME; the pods set it to their writable /tmp).
 */
export async function connectPg(connection: PgConnection, home: string = os.homedir()): Promise<pg.Client> {
  const e = connection.env;
  const mode = e.PGSSLMODE && isSslMode(e.PGSSLMODE) ? e.PGSSLMODE : DEFAULT_SSL_MODE;
  const host = e.PGHOST;
  const attempts = attemptsFor(mode, host);
  const driver = await pgDriver();
  const failures: Failure[] = [];
  for (const attempt of attempts) {
    const previous = failures.at(-1);
    if (previous && !fallsBack(mode, previous)) break;
    let ssl: false | pg.ClientConfig["ssl"] = false;
    let verifiedWith: string | undefined;
    if (attempt === "tls") {
      try {
        const setup = tlsSetup(mode, host!, tlsFiles(e, home));
        ssl = setup.options;
        verifiedWith = setup.verifiedWith;
      } catch (error) {
        // libpq reads these files after the server agreed to TLS: a prefer connection goes on without.
        failures.push({
          attempt,
          message: (error as Error).message,
          reached: true,
          rejectedByServer: false,
          advised: true,
          cause: error,
        });
        continue;
      }
    }
    let reached = false;
    const client = new driver.Client({
      // libpq connects to PGHOSTADDR when given and checks the certificate against PGHOST.
      host: e.PGHOSTADDR || host,
      port: e.PGPORT ? Number(e.PGPORT) : undefined,
      user: e.PGUSER,
      password: e.PGPASSWORD,
      database: e.PGDATABASE,
      application_name: "edms-backup",
      connectionTimeoutMillis: e.PGCONNECT_TIMEOUT ? Number(e.PGCONNECT_TIMEOUT) * 1000 : 15_000,
      // Never undefined: node-postgres would then read PGSSLMODE from the environment itself.
      ssl,
      stream: () => {
        const socket = new net.Socket();
        socket.once("connect", () => (reached = true));
        return socket;
      },
    });
    // A dropped connection must not crash the process; the next query reports it.
    client.on("error", () => undefined);
    try {
      await client.connect();
      return client;
    } catch (error) {
      await client.end().catch(() => undefined);
      failures.push({
        attempt,
        noTlsOffered: attempt === "tls" && (error as Error).message === NO_TLS,
        ...explain(error, attempt, verifiedWith, mode),
        reached,
        rejectedByServer: error instanceof driver.DatabaseError,
        cause: error,
      });
    }
  }
  // Under prefer/allow a server without TLS is no failure (libpq says nothing of it either): what
  // went wrong is what came after, typically a wrong password, which must not read as TLS trouble.
  const told = failures.filter((f) => !(f.noTlsOffered && mode !== "require" && !mode.startsWith("verify")));
  const shown = told.length ? told : failures;
  const tried =
    shown.length === 1
      ? shown[0]!.message
      : shown.map((f) => `${f.attempt === "tls" ? "with TLS" : "without TLS"}: ${f.message}`).join("; then ");
  const last = failures.at(-1)!;
  const refusal = [...failures].reverse().find((f) => f.rejectedByServer);
  const advice = refusal ? serverRefusalAdvice(refusal.cause, e) : undefined;
  throw new PgConnectError(
    `could not connect to the database ${connection.display} (sslmode=${mode}): ${tried}${advice ? `; ${advice}` : ""}`,
    failures.some((f) => f.rejectedByServer),
    last.advised,
    { cause: last.cause },
  );
}

/**
 * What to do about a refusal by the server itself, by its SQLSTATE: the connection, TLS included,
 * worked; the credentials or the names did not.
 */
function serverRefusalAdvice(cause: unknown, env: PgConnection["env"]): string | undefined {
  // A refusal by the server (rejectedByServer): a pg DatabaseError, its SQLSTATE in `code`.
  const code = (cause as pg.DatabaseError).code;
  const role = env.PGUSER ? `role "${env.PGUSER}"` : "the role";
  switch (code) {
    case "28P01":
      return `the password is wrong for ${role} (the connection itself worked): check PGPASSWORD or the password in DATABASE_URL (in the cluster: the database Secret's key, docs/RUNBOOK.md section 8)`;
    case "28000":
      return `the server refused ${role} from this host: check PGUSER and the server's pg_hba.conf (or the role's LOGIN attribute)`;
    case "3D000":
      return `check PGDATABASE or the database in DATABASE_URL`;
    case "53300":
      return "the server has no free connection slots: retry later or raise max_connections";
    default:
      return undefined;
  }
}

/** Whether libpq would go on to its next attempt after this failure. */
function fallsBack(mode: string, failure: Failure): boolean {
  // allow: only when the server answered the plain connection with an error.
  if (mode === "allow") return failure.rejectedByServer;
  // prefer: whenever TLS failed once the server was reached (no TLS offered, handshake, verification, rejection).
  return failure.reached;
}
