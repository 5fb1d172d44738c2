// A live database and media folder with content of their own, to prove what a restore leaves
// behind: restored over, or (after a refusal) exactly as it was.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { sql, tableChecksums, type TestDatabase } from "./pg-test-db.js";
import { mediaTreeDigest } from "./sample-data.js";

export interface LiveTarget {
  db: TestDatabase;
  media: string;
  fingerprint: () => Promise<unknown>;
}

/** `newDatabase` creates (and registers for cleanup) a database named after the prefix. */
export async function makeLiveTarget(
  newDatabase: (prefix: string) => Promise<TestDatabase>,
  prefix = "live",
): Promise<LiveTarget> {
  const db = await newDatabase(prefix);
  await sql(
    db.url,
    "create table keep_me (id int primary key, note text); insert into keep_me values (1, 'live data')",
  );
  const media = await mkdtemp(path.join(tmpdir(), `edms-${prefix}-`));
  await writeFile(path.join(media, "live.txt"), "live media\n");
  return {
    db,
    media,
    fingerprint: async () => ({ tables: await tableChecksums(db.url), media: await mediaTreeDigest(media) }),
  };
}
