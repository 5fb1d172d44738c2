/**
 * The drill's reference check: the columns the backup checked, read from the restored scratch
 * database, against the files of the restored scratch folder. A path missing there that the
 * backup did not record as missing means the set lost a document between backup and restore.
 */

import { parseMediaReferences } from "../contract.js";
import type { MediaReferencesEntry } from "../catalog/manifest.js";
import { connectPg } from "../pg/connect.js";
import { withDatabase, type PgConnection } from "../pg/connection.js";
import { inspectDirectory } from "../archive/directory-walk.js";
import { compareReferences, newlyMissing, PathSet } from "./media-paths.js";
import { readReferencedPaths, resolveReferenceColumns } from "./reference-columns.js";

export interface DrillReferenceCheck {
  name: "references";
  ok: boolean;
  detail: string;
}

/**
 * `files`: the restored folder (walked), or the regular files a set's index lists (a drill that
 * restored only a sample of a store-format set; each object's existence and size were checked).
 */
export async function checkRestoredReferences(
  recorded: MediaReferencesEntry,
  connection: PgConnection,
  database: string,
  files: string | PathSet,
): Promise<DrillReferenceCheck> {
  if (!recorded.columns || !recorded.missingPaths)
    throw new Error("the set's reference names were not decrypted before the drill (unlockSet)");
  const named = { ...recorded, columns: recorded.columns, missingPaths: recorded.missingPaths };
  const client = await connectPg(withDatabase(connection, database));
  const referenced = new PathSet();
  try {
    const wanted = parseMediaReferences(named.columns.join(","));
    const { columns, problems } = await resolveReferenceColumns(client, wanted.columns);
    if (wanted.problems.length || problems.length)
      return {
        name: "references",
        ok: false,
        detail: `the restored database lacks reference columns the backup checked: ${[...wanted.problems, ...problems].join("; ")}`,
      };
    await readReferencedPaths(client, columns, referenced);
  } finally {
    await client.end().catch(() => undefined);
  }
  let present = files;
  if (typeof present === "string") {
    const walked = new PathSet();
    await inspectDirectory(present, { onFile: (name) => walked.add(name) });
    present = walked;
  }
  const found = compareReferences(referenced, present);
  const lost = newlyMissing(named, found.allMissing);
  const counts =
    (typeof files === "string" ? "" : "against the set's index (a sample drill): ") +
    `${found.referenced} referenced, ${found.missing} missing (${recorded.missing} recorded at backup), ` +
    `${found.unreferenced} unreferenced`;
  if (lost.count === 0) return { name: "references", ok: true, detail: counts };
  return {
    name: "references",
    ok: false,
    detail: `${lost.count} referenced media file(s) missing that the backup did not record as missing: ${lost.paths.slice(0, 10).join(", ")}; ${counts}`,
  };
}
