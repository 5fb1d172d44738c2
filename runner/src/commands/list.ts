/**
 * `list`: every backup set at a destination, complete or not, as rows for people or stable JSON
 * for programs. Also home of the table helpers (times, aligned columns) that the other read-only
 * commands print with.
 */
import { isDatedInFuture, latestTiers, listBackupSets, newestUsable, type BackupSet } from "../catalog/catalog.js";
import type { Tier, Trigger } from "../contract.js";
import { RunnerError, errorMessage } from "../errors.js";
import { startedAt } from "../catalog/staleness.js";
import type { ObjectStore } from "../store/object-store.js";
import { wrapText } from "../output/fit-width.js";
import { formatBytes, formatDuration } from "../output/format.js";

/** One set as `list --json` prints it; field names are a stable interface for scripts. */
export interface ListEntry {
  backupId: string;
  tier: Tier;
  /** When the run started (ISO): the manifest's startedAt, or the time in the id when there is none. */
  createdAt: string;
  finishedAt: string | null;
  durationSeconds: number | null;
  /** Sum of the sizes of every object in the set (including partial ones of an unfinished run). */
  bytes: number;
  complete: boolean;
  /** Dated more than 5 minutes in the future (a wrong clock, a copied set): never used as `latest`. */
  datedInFuture: boolean;
  /**
   * The set `latest` resolves to (restore, verify, drill): the newest usable scheduled set, or of
   * the listed tier with --tier (catalog.ts's one rule, also status's and prune's).
   */
  latest: boolean;
  /** The newest usable set of its own tier: what `--tier <tier> latest` takes, status judges and prune keeps. */
  newestOfTier: boolean;
  /** Why the set is incomplete; absent when complete. */
  problem?: string;
  trigger: Trigger | null;
  /** warnings: how many pg_dump printed (null for sets of runners that did not record them). */
  database: { bytes: number; tables: number; warnings: number | null } | null;
  media: { bytes: number; files: number } | null;
  /** Referenced media files the archive lacks (MEDIA_REFERENCES); null when not checked. */
  missingMediaFiles: number | null;
  appVersion: string | null;
}

/** Reads every set (optionally of one tier), turning a store failure into one actionable message. */
export async function readBackupSets(store: ObjectStore, tier?: Tier): Promise<BackupSet[]> {
  try {
    return await listBackupSets(store, tier);
  } catch (error) {
    throw new RunnerError(`could not list the backups at ${store.display}: ${errorMessage(error)}`);
  }
}

export function toListEntry(
  set: BackupSet,
  now: Date = new Date(),
  marks: { latest: boolean; newestOfTier: boolean } = { latest: false, newestOfTier: false },
): ListEntry {
  const m = set.manifest;
  const started = startedAt(set);
  const entry: ListEntry = {
    backupId: set.backupId,
    tier: set.tier,
    createdAt: started.toISOString(),
    finishedAt: m ? new Date(m.finishedAt).toISOString() : null,
    durationSeconds: m ? Math.max(0, Math.round((Date.parse(m.finishedAt) - started.getTime()) / 1000)) : null,
    bytes: set.bytes,
    complete: m !== undefined,
    datedInFuture: isDatedInFuture(set, now),
    ...marks,
    trigger: m?.trigger ?? null,
    database: m?.database
      ? { bytes: m.database.bytes, tables: m.database.tableCount, warnings: m.database.warningCount ?? null }
      : null,
    media: m?.media ? { bytes: m.media.bytes, files: m.media.files } : null,
    missingMediaFiles: m?.media?.references?.missing ?? null,
    appVersion: m?.appVersion ?? null,
  };
  if (!m) entry.problem = set.problem ?? "no manifest";
  return entry;
}

/**
 * Newest first: the question people ask of a list is almost always "what is the latest?", so the
 * set `latest` takes (of `tier`, when the list is of one tier) is marked too.
 */
export function listEntries(sets: readonly BackupSet[], now: Date = new Date(), tier?: Tier): ListEntry[] {
  const latest = newestUsable(sets, now, latestTiers(tier));
  const newestOf = new Map<Tier, BackupSet | undefined>();
  for (const set of sets) if (!newestOf.has(set.tier)) newestOf.set(set.tier, newestUsable(sets, now, [set.tier]));
  return sets
    .map((set) => toListEntry(set, now, { latest: set === latest, newestOfTier: newestOf.get(set.tier) === set }))
    .sort((a, b) =>
      a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.backupId < b.backupId ? 1 : -1,
    );
}

/** ISO time to the second, which is all a backup id carries anyway. */
export function formatTime(iso: string): string {
  return iso.replace(/\.\d{3}Z$/, "Z");
}

/** Left-aligned columns separated by two spaces; the last column is not padded. */
export function alignColumns(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) => row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0))).join("  "))
    .join("\n");
}

function contents(entry: ListEntry): string {
  const parts: string[] = [];
  if (entry.database)
    parts.push(
      `db ${entry.database.tables} tables${entry.database.warnings ? ` (${entry.database.warnings} pg_dump WARNING(S))` : ""}`,
    );
  if (entry.media)
    parts.push(
      `media ${entry.media.files} files${entry.missingMediaFiles ? ` (${entry.missingMediaFiles} referenced MISSING)` : ""}`,
    );
  return parts.length ? parts.join(", ") : "-";
}

/** The state cell: complete or why not, `latest`, a wrong date. */
function stateCell(e: ListEntry): string {
  return `${e.complete ? "complete" : `INCOMPLETE: ${e.problem ?? "no manifest"}`}${e.latest ? ", latest" : ""}${e.datedInFuture ? ", DATED IN THE FUTURE" : ""}`;
}

/** What the narrow table keeps of CONTENTS: only what needs a look (warnings, missing files). */
function contentWarnings(e: ListEntry): string {
  return [
    e.database?.warnings ? `${e.database.warnings} WARNINGS` : "",
    e.missingMediaFiles ? `${e.missingMediaFiles} MISSING` : "",
  ]
    .filter(Boolean)
    .join(", ");
}

/**
 * The table, fitted to `width` (a terminal's columns, see output/fit-width.ts) when given. The full
 * table is ~130 columns; when it does not fit, STARTED (the id is the start time, in UTC) and
 * CONTENTS (but its warnings, which join STATE) are left out, any row still too wide is cut with
 * "…", and the prose below is broken between words. `list --json` always has everything.
 */
export function renderListTable(entries: readonly ListEntry[], destination: string, width?: number): string {
  if (entries.length === 0) return `no backups at ${destination}`;
  const complete = entries.filter((e) => e.complete).length;
  const total = entries.reduce((sum, e) => sum + e.bytes, 0);
  const notes = [
    `${entries.length} backup set${entries.length === 1 ? "" : "s"} (${complete} complete, ${entries.length - complete} incomplete), ` +
      `${formatBytes(total)} at ${destination}, newest first`,
  ];
  const future = entries.filter((e) => e.datedInFuture).length;
  if (future)
    notes.push(
      `WARNING: ${future} set${future === 1 ? " is" : "s are"} dated more than 5 minutes in the future (a wrong clock or a copied set) and never used as latest`,
    );
  const duration = (e: ListEntry) => (e.durationSeconds === null ? "-" : formatDuration(e.durationSeconds));
  const full = alignColumns([
    ["BACKUP ID", "TIER", "STARTED (UTC)", "SIZE", "DURATION", "CONTENTS", "STATE"],
    ...entries.map((e) => [
      e.backupId,
      e.tier,
      formatTime(e.createdAt),
      formatBytes(e.bytes),
      duration(e),
      contents(e),
      stateCell(e),
    ]),
  ]);
  if (!width || full.split("\n").every((line) => line.length <= width)) return [full, ...notes].join("\n");
  const narrow = alignColumns([
    ["BACKUP ID", "TIER", "SIZE", "DURATION", "STATE"],
    ...entries.map((e) => [
      e.backupId,
      e.tier,
      formatBytes(e.bytes),
      duration(e),
      [stateCell(e), contentWarnings(e)].filter(Boolean).join(", "),
    ]),
  ])
    .split("\n")
    .map((line) => (line.length <= width ? line : `${line.slice(0, Math.max(1, width - 1))}…`))
    .join("\n");
  notes.push(
    `(STARTED and CONTENTS left out to fit ${width} columns; N MISSING: referenced media files the set lacks, N WARNINGS: pg_dump's; list --json has every field)`,
  );
  return [narrow, wrapText(notes.join("\n"), width)].join("\n");
}
