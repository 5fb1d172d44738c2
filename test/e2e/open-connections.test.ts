/**
 * "Open connections" as a restore judges them: a session that is ending (the client sent Terminate,
 * the backend has not exited yet) is still in pg_stat_activity for a moment. A restore started right
 * after the application (or a check) disconnected must not be refused for it; a session that stays
 * still refuses the restore.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { settledConnections } from "../../runner/src/restore/database-staging.js";
import { connectionUrl } from "../helpers/pg-cluster.js";
import { createTestDatabase, type TestDatabase } from "../helpers/pg-test-db.js";

const server = inject("pg");
let db: TestDatabase;
let admin: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase(server, "settle");
  admin = new pg.Client({ connectionString: connectionUrl(server, "postgres") });
  await admin.connect();
});

afterAll(async () => {
  await admin?.end();
  await db?.drop();
});

async function connected(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  return client;
}

describe("open connections, settled", () => {
  it("a session that closes while the restore looks is not counted", async () => {
    const app = await connected();
    // Disconnects after the first look: without settling, the restore would count it and refuse.
    const closing = new Promise<void>((resolve) => setTimeout(() => void app.end().then(resolve), 300));
    expect(await settledConnections(admin, db.name, 3000)).toBe(0);
    await closing;
  });

  it("a session that stays is counted once the wait is over", async () => {
    const app = await connected();
    try {
      expect(await settledConnections(admin, db.name, 500)).toBe(1);
    } finally {
      await app.end();
    }
  });
});
