/**
 * libpq's TLS rules, restated for the runner's own node-postgres sessions so that they connect
 * exactly where pg_dump, pg_restore and psql (libpq) connect, and refuse exactly where they refuse
 * (PostgreSQL docs, "libpq SSL support"; initialize_SSL in fe-secure-openssl.c):
 *
 * - sslmode (default prefer): disable = plain only; allow = plain, then TLS if the server rejects
 *   the plain connection; prefer = TLS if the server offers it, else (or when TLS fails) plain;
 *   require = TLS only; verify-ca = TLS with the certificate chain verified; verify-full = also
 *   the host name.
 * - The root certificate file is sslrootcert (PGSSLROOTCERT), else ~/.postgresql/root.crt. When it
 *   exists, EVERY TLS connection verifies the chain against it (so require behaves as verify-ca,
 *   and prefer falls back to plain text when verification fails); verify-* without it is an error.
 * - A client certificate is sslcert (PGSSLCERT), else ~/.postgresql/postgresql.crt, used when it
 *   exists, with its key sslkey (PGSSLKEY), else ~/.postgresql/postgresql.key; a key that group
 *   or others can read is refused.
 * - Unix-domain sockets never use TLS.
 *
 * node-postgres knows none of this: given `ssl: undefined` it reads PGSSLMODE itself and treats
 * prefer as "TLS required and verified against the system CAs"; it has no fallback and never
 * reads a CA file. So the runner always hands it an explicit `ssl` (see connect.ts).
 */
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import tls from "node:tls";
import { SSL_MODES, type SslMode } from "../contract.js";

export { SSL_MODES, type SslMode };
/** libpq's default when sslmode is not given. */
export const DEFAULT_SSL_MODE: SslMode = "prefer";

/** What to set, in every place an operator can set it. */
export const ROOT_CERT_HINT =
  "set PGSSLROOTCERT (sslrootcert= in DATABASE_URL; the stack's database.caBundle) to the CA bundle that signed the server's certificate (for RDS: https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem)";

export function isSslMode(value: string): value is SslMode {
  return (SSL_MODES as readonly string[]).includes(value);
}

export function sslModeProblem(value: string | undefined): string | undefined {
  if (value === undefined || isSslMode(value)) return undefined;
  return `sslmode "${value}" (PGSSLMODE or ?sslmode= in DATABASE_URL) must be one of ${SSL_MODES.join(", ")}`;
}

export type Attempt = "plain" | "tls";

/** The connections libpq would try, in order, for a mode and host. */
export function attemptsFor(mode: SslMode, host: string | undefined): Attempt[] {
  // libpq: "Don't request SSL or GSSAPI over Unix sockets". No host = the default socket.
  if (!host || host.startsWith("/")) return ["plain"];
  switch (mode) {
    case "disable":
      return ["plain"];
    case "allow":
      return ["plain", "tls"];
    case "prefer":
      return ["tls", "plain"];
    default:
      return ["tls"];
  }
}

/** The files libpq would use, with the defaults under the home directory. */
export interface TlsFiles {
  rootCert: string;
  /** True when rootCert is the default (~/.postgresql/root.crt), not one the operator named. */
  rootCertIsDefault: boolean;
  cert: string;
  key: string;
}

export function tlsFiles(env: Record<string, string>, home: string): TlsFiles {
  const dir = path.join(home, ".postgresql");
  return {
    rootCert: env.PGSSLROOTCERT || path.join(dir, "root.crt"),
    rootCertIsDefault: !env.PGSSLROOTCERT,
    cert: env.PGSSLCERT || path.join(dir, "postgresql.crt"),
    key: env.PGSSLKEY || path.join(dir, "postgresql.key"),
  };
}

/** TLS options for node-postgres, plus what was used (for messages). */
export interface TlsSetup {
  options: tls.ConnectionOptions;
  /** The CA file the chain is verified against; undefined = no verification (as libpq). */
  verifiedWith?: string;
}

function exists(file: string): boolean {
  try {
    statSync(file);
    return true;
  } catch {
    return false;
  }
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new Error(`could not read ${what} "${file}": ${(error as Error).message}`);
  }
}

/** libpq's key-file check (fe-secure-openssl.c): owner-only, or root-owned and at most 0640. */
function keyPermissionProblem(file: string): string | undefined {
  const st = statSync(file);
  if (!st.isFile()) return `private key file "${file}" is not a regular file`;
  const uid = process.geteuid?.();
  const tooOpen = (st.uid === uid && (st.mode & 0o077) !== 0) || (st.uid === 0 && (st.mode & 0o037) !== 0);
  if (!tooOpen) return undefined;
  return (
    `private key file "${file}" has group or world access; it must have permissions u=rw (0600) or less ` +
    `if owned by the current user, or u=rw,g=r (0640) or less if owned by root`
  );
}

/**
 * The TLS options libpq would use for `mode` when connecting to `host`; throws with libpq's
 * reason (and what to set) when libpq would refuse before the handshake.
 */
export function tlsSetup(mode: SslMode, host: string, files: TlsFiles): TlsSetup {
  const options: tls.ConnectionOptions = {};
  if (exists(files.cert)) {
    options.cert = readText(files.cert, "certificate file");
    if (!exists(files.key)) throw new Error(`certificate present, but not private key file "${files.key}"`);
    const problem = keyPermissionProblem(files.key);
    if (problem) throw new Error(problem);
    options.key = readText(files.key, "private key file");
  }
  let verifiedWith: string | undefined;
  if (exists(files.rootCert)) {
    const pem = readText(files.rootCert, "root certificate file");
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new Error(`could not read root certificate file "${files.rootCert}": it holds no PEM certificate`);
    }
    options.ca = pem;
    verifiedWith = files.rootCert;
  } else if (mode === "verify-ca" || mode === "verify-full") {
    throw new Error(
      `root certificate file "${files.rootCert}" does not exist${files.rootCertIsDefault ? " (libpq's default; PGSSLROOTCERT is not set)" : ""}: ` +
        `sslmode=${mode} verifies the server's certificate; ${ROOT_CERT_HINT}, or use sslmode=require to encrypt without verification`,
    );
  }
  // The chain is verified exactly when libpq verifies it: whenever the root file exists.
  options.rejectUnauthorized = verifiedWith !== undefined;
  options.checkServerIdentity =
    mode === "verify-full"
      ? // Against the host name as given (libpq checks the name, not the address it resolved to).
        (_name, cert) => tls.checkServerIdentity(host, cert)
      : () => undefined;
  return { options, verifiedWith };
}
