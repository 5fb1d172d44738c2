/**
 * The manifest's `media.references` from a finished comparison. The one place that decides what
 * of the check is written where: the counts always, the missing paths (names of documents) only
 * here, so a manifest that must not name files can move them in one step.
 */
import type { MediaReferencesEntry } from "../catalog/manifest.js";
import { compareReferences, type PathSet } from "./media-paths.js";
import { columnNames, type ResolvedColumn } from "./reference-columns.js";

export function referencesEntry(
  columns: readonly ResolvedColumn[],
  referenced: PathSet,
  archived: PathSet,
): MediaReferencesEntry {
  const check = compareReferences(referenced, archived);
  return {
    columns: columnNames(columns),
    referenced: check.referenced,
    missing: check.missing,
    missingPaths: check.missingPaths,
    unreferenced: check.unreferenced,
  };
}
