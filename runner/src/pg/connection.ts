/**
 * One description of the database connection, derived from DATABASE_URL or libpq's PG* variables,
 * handed to child processes as PG* variables (never as a command-line argument, where any process
 * on the node could read the password) and to node-postgres through connectPg (connect.ts), which
 * applies libpq's sslmode rules to the same variables.
 */
import { sslModeProblem } from "./libpq-tls.js";

export interface PgConnection {
  /** libpq variables for pg_dump, pg_restore and psql. */
  env: Record<string, string>;
  database: string;
  /** For messages: host, port, database and user, no password. */
  display: string;
  /** Values that must never appear in output. */
  secrets: string[];
}

const URL_PARAM_TO_ENV: Record<string, string> = {
  sslmode: "PGSSLMODE",
  sslrootcert: "PGSSLROOTCERT",
  sslcert: "PGSSLCERT",
  sslkey: "PGSSLKEY",
  connect_timeout: "PGCONNECT_TIMEOUT",
  application_name: "PGAPPNAME",
  options: "PGOPTIONS",
};

const PG_ENV_NAMES = [
  "PGHOST",
  "PGHOSTADDR",
  "PGPORT",
  "PGUSER",
  "PGPASSWORD",
  "PGPASSFILE",
  "PGDATABASE",
  "PGSSLMODE",
  "PGSSLROOTCERT",
  "PGSSLCERT",
  "PGSSLKEY",
  "PGCONNECT_TIMEOUT",
  "PGAPPNAME",
  "PGOPTIONS",
] as const;

/** Returns the connection, or a sentence saying what is wrong. */
export function resolvePgConnection(databaseUrl: string | undefined, env: NodeJS.ProcessEnv): PgConnection | string {
  const out: Record<string, string> = {};
  for (const name of PG_ENV_NAMES) {
    const value = env[name];
    if (value) out[name] = value;
  }
  if (databaseUrl) {
    let url: URL;
    try {
      url = new URL(databaseUrl);
    } catch {
      return "DATABASE_URL is not a URL (expected postgres://USER@HOST:5432/DBNAME, password included or in PGPASSWORD)";
    }
    if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
      return `DATABASE_URL must start with postgres:// or postgresql:// (got ${url.protocol}//)`;
    }
    if (url.hostname) out.PGHOST = decodeURIComponent(url.hostname).replace(/^\[|\]$/g, "");
    if (url.port) out.PGPORT = url.port;
    if (url.username) out.PGUSER = decodeURIComponent(url.username);
    if (url.password) out.PGPASSWORD = decodeURIComponent(url.password);
    const db = decodeURIComponent(url.pathname.replace(/^\//, ""));
    if (db) out.PGDATABASE = db;
    // Not URLSearchParams: it reads "+" as a space, libpq keeps it (RFC 3986 percent-decoding only).
    for (const pair of url.search.replace(/^\?/, "").split("&")) {
      if (!pair) continue;
      const eq = pair.indexOf("=");
      const param = decodeQueryPart(eq < 0 ? pair : pair.slice(0, eq));
      const value = decodeQueryPart(eq < 0 ? "" : pair.slice(eq + 1));
      if (param === undefined || value === undefined) {
        return "DATABASE_URL has a malformed %-escape in its query string (a literal % is written %25)";
      }
      const name = URL_PARAM_TO_ENV[param];
      if (name) out[name] = value;
    }
  }
  const sslProblem = sslModeProblem(out.PGSSLMODE);
  if (sslProblem) return sslProblem;
  if (!out.PGDATABASE) {
    return "no database named: set DATABASE_URL (a postgres:// URL naming the database) or PGDATABASE with PGHOST, PGUSER and PGPASSWORD";
  }
  const display = `${out.PGUSER ?? "(default user)"}@${out.PGHOST ?? "(local socket)"}:${out.PGPORT ?? "5432"}/${out.PGDATABASE}`;
  return { env: out, database: out.PGDATABASE, display, secrets: out.PGPASSWORD ? [out.PGPASSWORD] : [] };
}

function decodeQueryPart(part: string): string | undefined {
  try {
    return decodeURIComponent(part);
  } catch {
    return undefined;
  }
}

/** The same connection for another database on the same server (restore targets, drills). */
export function withDatabase(connection: PgConnection, database: string): PgConnection {
  return {
    ...connection,
    env: { ...connection.env, PGDATABASE: database },
    database,
    display: connection.display.replace(/\/[^/]*$/, `/${database}`),
  };
}

/** The environment for a libpq child: the parent's, minus any other PG* setting, plus ours. */
export function childEnv(connection: PgConnection, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(base)) if (!k.startsWith("PG") && k !== "DATABASE_URL") env[k] = v;
  return { ...env, ...connection.env };
}
