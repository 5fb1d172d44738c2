// A PostgreSQL cluster serving TLS with a certificate from a private CA made at test time, the way
// RDS, CloudNativePG and Bitnami servers usually are, plus the files a client may be handed:
// the right CA, an unrelated CA, a client certificate. Roles exercise libpq's fallbacks:
// `tls_only` is refused without TLS (sslmode=allow must retry with TLS), `plain_only` is refused
// over TLS (sslmode=prefer must retry without), `cert_user` authenticates by client certificate.
// No vitest imports.
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startPgCluster, type PgCluster, type PgConnectionInfo } from "./pg-cluster.js";
import { sql } from "./pg-test-db.js";
import { makeTestCa } from "./tls-ca.js";

/** The server certificate names `localhost` only: verify-full to 127.0.0.1 must fail. */
export const TLS_SERVER_NAME = "localhost";
export const TLS_ROLES = { tlsOnly: "tls_only", plainOnly: "plain_only", certUser: "cert_user" } as const;

export interface PgTlsInfo extends PgConnectionInfo {
  /** The CA that signed the server's certificate. */
  caFile: string;
  /** A CA that signed nothing this server uses: verification against it must fail. */
  otherCaFile: string;
  /** A client certificate and key for `cert_user`, signed by `caFile`. */
  clientCertFile: string;
  clientKeyFile: string;
  /** Connections are logged here with "SSL enabled (...)" when they used TLS. */
  logFile: string;
}

export interface PgTlsCluster {
  info: PgTlsInfo;
  cluster: PgCluster;
  stop(): Promise<void>;
}

export async function startPgTlsCluster(): Promise<PgTlsCluster> {
  const dir = await mkdtemp(join(tmpdir(), "edms-tls-"));
  // Readable by the runner's uid in the rendered-pod test (the files are copied from here).
  await chmod(dir, 0o755);
  const ca = await makeTestCa(dir, "test-ca");
  const other = await makeTestCa(dir, "other-ca");
  const server = await ca.issue("server", `/CN=${TLS_SERVER_NAME}`, `DNS:${TLS_SERVER_NAME}`);
  const client = await ca.issue("client", `/CN=${TLS_ROLES.certUser}`);
  const cluster = await startPgCluster({
    tls: { certFile: server.certFile, keyFile: server.keyFile, caFile: ca.certFile },
    logConnections: true,
    hbaFirst: [
      `hostnossl all ${TLS_ROLES.tlsOnly} 127.0.0.1/32 reject`,
      `hostssl all ${TLS_ROLES.plainOnly} 127.0.0.1/32 reject`,
      `hostssl all ${TLS_ROLES.certUser} 127.0.0.1/32 cert`,
    ],
  });
  try {
    await sql(
      cluster.url(),
      [TLS_ROLES.tlsOnly, TLS_ROLES.plainOnly]
        .map((role) => `create role ${role} login password '${cluster.password}'`)
        .concat(`create role ${TLS_ROLES.certUser} login`)
        .join("; "),
    );
  } catch (error) {
    await cluster.stop();
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    info: {
      host: cluster.host,
      port: cluster.port,
      user: cluster.user,
      password: cluster.password,
      binDir: cluster.binDir,
      caFile: ca.certFile,
      otherCaFile: other.certFile,
      clientCertFile: client.certFile,
      clientKeyFile: client.keyFile,
      logFile: cluster.logFile,
    },
    cluster,
    async stop() {
      await cluster.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
