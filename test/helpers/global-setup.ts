// vitest globalSetup: one PostgreSQL cluster, one serving TLS from a private CA, and one
// moto_server for the whole run (starting them per test file would cost ~1-2 s each on 2 cores).
// Tests get their own database (createTestDatabase) and bucket, and reach the shared servers
// through inject("pg"), inject("pgTls") and inject("s3Endpoint").
import type { TestProject } from "vitest/node";
import { startMoto, awsTestEnv, type Moto } from "./moto.js";
import { startPgCluster, type PgCluster, type PgConnectionInfo } from "./pg-cluster.js";
import { startPgTlsCluster, type PgTlsCluster, type PgTlsInfo } from "./pg-tls-cluster.js";

declare module "vitest" {
  export interface ProvidedContext {
    pg: PgConnectionInfo;
    /** A second cluster serving TLS with a certificate from a private CA (pg-tls-cluster.ts). */
    pgTls: PgTlsInfo;
    s3Endpoint: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Dummy credentials for the SDK. Test workers are forked after globalSetup and inherit this
  // environment; tests that need certainty can use awsTestEnv() explicitly.
  Object.assign(process.env, awsTestEnv());

  // Start both at once; if one fails, stop the other so nothing outlives the run.
  const [pgResult, tlsResult, motoResult] = await Promise.allSettled([
    startPgCluster(),
    startPgTlsCluster(),
    startMoto(),
  ]);
  const pg: PgCluster | undefined = pgResult.status === "fulfilled" ? pgResult.value : undefined;
  const pgTls: PgTlsCluster | undefined = tlsResult.status === "fulfilled" ? tlsResult.value : undefined;
  const moto: Moto | undefined = motoResult.status === "fulfilled" ? motoResult.value : undefined;
  const teardown = async (): Promise<void> => {
    await Promise.all([pg?.stop(), pgTls?.stop(), moto?.stop()]);
  };
  if (!pg || !pgTls || !moto) {
    await teardown();
    const reasons = [pgResult, tlsResult, motoResult]
      .filter((r): r is PromiseRejectedResult => r.status === "rejected")
      .map((r) => (r.reason instanceof Error ? r.reason.message : String(r.reason)));
    throw new Error(`test harness could not start:\n- ${reasons.join("\n- ")}`);
  }

  project.provide("pg", {
    host: pg.host,
    port: pg.port,
    user: pg.user,
    password: pg.password,
    binDir: pg.binDir,
  });
  project.provide("pgTls", pgTls.info);
  project.provide("s3Endpoint", moto.endpoint);
  return teardown;
}
