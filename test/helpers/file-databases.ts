// The databases one test file makes on the shared cluster, all dropped after that file's tests
// (WITH (FORCE), see pg-test-db.ts). Test files kept this list and its afterAll by hand.
import { afterAll } from "vitest";
import type { PgConnectionInfo } from "./pg-cluster.js";
import { createTestDatabase, type TestDatabase } from "./pg-test-db.js";

export interface FileDatabases {
  /** Every database made here, and any other the file adds (a restore's target, say). */
  readonly all: TestDatabase[];
  /** A new empty database named after `prefix`. */
  create(prefix: string): Promise<TestDatabase>;
}

/** Call at the top level of a test file (it registers the file's afterAll). */
export function fileDatabases(conn: PgConnectionInfo): FileDatabases {
  const all: TestDatabase[] = [];
  afterAll(async () => {
    await Promise.all(all.map((db) => db.drop()));
  });
  return {
    all,
    async create(prefix) {
      const db = await createTestDatabase(conn, prefix);
      all.push(db);
      return db;
    },
  };
}
