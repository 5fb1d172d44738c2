// A live database and media folder (the folder in a parent of its own, so copies beside it are
// this target's only) for the undo and kept-copy tests, and the copy databases a target leaves.
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { connectionUrl, type PgConnectionInfo } from "./pg-cluster.js";
import { sql, tableChecksums, type TestDatabase } from "./pg-test-db.js";
import { mediaTreeDigest } from "./sample-data.js";

export interface UndoTarget {
  db: TestDatabase;
  media: string;
  env: Record<string, string>;
  liveTables: unknown;
  liveMedia: unknown;
}

/** Live contents of its own, restorable from the backups at `dest`. */
export async function undoTarget(
  pg: PgConnectionInfo,
  newDatabase: (prefix: string) => Promise<TestDatabase>,
  prefix: string,
  dest: string,
): Promise<UndoTarget> {
  const db = await newDatabase(prefix);
  await sql(db.url, "create table live (id int primary key); insert into live select generate_series(1, 7)");
  const media = path.join(await mkdtemp(path.join(tmpdir(), `edms-${prefix}-`)), "media");
  await mkdir(media);
  await writeFile(path.join(media, "live.txt"), "live\n");
  return {
    db,
    media,
    env: { BACKUP_DESTINATION: `file://${dest}`, DATABASE_URL: db.url, MEDIA_DIR: media, PG_BIN_DIR: pg.binDir },
    liveTables: await tableChecksums(db.url),
    liveMedia: await mediaTreeDigest(media),
  };
}

/** `db` and every copy database of it on the server (copy names shorten the base). */
export async function databasesOf(pg: PgConnectionInfo, db: TestDatabase): Promise<string[]> {
  const rows = await sql<{ datname: string }>(connectionUrl(pg, "postgres"), "select datname from pg_database");
  return rows
    .map((r) => r.datname)
    .filter((n) => n === db.name || (n.includes("__edms_") && db.name.startsWith(n.split("__edms_")[0]!)));
}

/** A database name as an entry of a file's list of databases to drop (fileDatabases().all). */
export function dropper(pg: PgConnectionInfo, name: string): TestDatabase {
  return {
    name,
    drop: async () => void (await sql(connectionUrl(pg, "postgres"), `drop database if exists "${name}" with (force)`)),
  } as TestDatabase;
}
