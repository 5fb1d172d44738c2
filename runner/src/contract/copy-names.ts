/**
 * Names the runner gives what it creates beside a media folder or a database (staging and previous
 * copies), and what a backup therefore leaves out. Part of the runner contract (../contract.ts):
 * zod only.
 */

/**
 * Names the runner gives to what it creates beside or inside a media folder and beside a
 * database: staging copies (a restore or drill still being written) and previous copies (what a
 * restore replaced, kept until its commit; the undo feature keeps them longer). Defined once here
 * so backups exclude exactly these names from the archive, the sweep of stale staging copies
 * touches nothing else, and `status` lists what remains.
 *
 * A run id is a backup-id-shaped stamp, `20261127T114200Z-3f9a2c`: it sorts by time and tells
 * when the run started. Folders: `.edms-staging-<runId>` inside a folder (a mount point, a drill's
 * scratch parent), `.<base>.edms-staging-<runId>` beside the folder `<base>`; previous copies the
 * same with `edms-previous`. Databases: `<db>__edms_staging_<runId>`, `<db>__edms_previous_<runId>`
 * (`<db>` shortened so the name fits PostgreSQL's 63 bytes).
 */
export const RUN_ID_PATTERN = "[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}";
export const STAGING_MARK = "edms-staging";
export const PREVIOUS_MARK = "edms-previous";
export type CopyKind = "staging" | "previous";
const MARKS: Record<CopyKind, string> = { staging: STAGING_MARK, previous: PREVIOUS_MARK };

/** `.edms-staging-<runId>` (inside a folder) or `.<base>.edms-staging-<runId>` (beside `base`). */
export function copyFolderName(kind: CopyKind, runId: string, besideBase?: string): string {
  return `${besideBase === undefined ? "" : `.${besideBase}`}.${MARKS[kind]}-${runId}`;
}

/** Matches folder names of `kind`; groups: base (beside only, else undefined) and runId. */
export const COPY_FOLDER_RE: Readonly<Record<CopyKind, RegExp>> = {
  staging: new RegExp(`^(?:\\.(?<base>.+))?\\.${STAGING_MARK}-(?<runId>${RUN_ID_PATTERN})$`, "s"),
  previous: new RegExp(`^(?:\\.(?<base>.+))?\\.${PREVIOUS_MARK}-(?<runId>${RUN_ID_PATTERN})$`, "s"),
};

/** `<db>__edms_staging_<runId>`, with `<db>` cut (at a character boundary) to fit 63 bytes. */
export function copyDatabaseName(kind: CopyKind, database: string, runId: string): string {
  const suffix = `__${MARKS[kind].replace("-", "_")}_${runId}`;
  let base = database;
  while (new TextEncoder().encode(base + suffix).length > 63) base = Array.from(base).slice(0, -1).join("");
  return `${base}${suffix}`;
}

/** Matches database names of `kind`; groups: base (possibly shortened) and runId. */
export const COPY_DATABASE_RE: Readonly<Record<CopyKind, RegExp>> = {
  staging: new RegExp(`^(?<base>.*)__edms_staging_(?<runId>${RUN_ID_PATTERN})$`, "s"),
  previous: new RegExp(`^(?<base>.*)__edms_previous_(?<runId>${RUN_ID_PATTERN})$`, "s"),
};

/** A run's holder file beside each folder it creates (restore/run-copies.ts): `<folder>.holder`. */
export const COPY_HOLDER_SUFFIX = ".holder";

/** RUN_ID_PATTERN as a tar (fnmatch) glob: every character class spelled out, no `*`. */
const RUN_ID_GLOB = `${"[0-9]".repeat(8)}T${"[0-9]".repeat(6)}Z-${"[0-9a-f]".repeat(6)}`;

/** Exactly the names the runner gives its own copies inside a folder, and their holder files. */
const OWN_COPY_RE = new RegExp(
  `^\\.(${STAGING_MARK}|${PREVIOUS_MARK})-${RUN_ID_PATTERN}(${COPY_HOLDER_SUFFIX.replace(".", "\\.")})?$`,
);

/**
 * GNU tar options that keep the runner's own copies inside a media folder (a staging or previous
 * copy when the folder is a mount point, and their holder files) out of its archive: recognised
 * exactly (mark, run id, optional holder suffix), so a user's `.edms-previous-notes.txt` is
 * archived. Anchored at the archive's top level (`./`): a similar name deeper in the tree is too.
 */
export const ARCHIVE_EXCLUDE_ARGS: readonly string[] = [
  "--anchored",
  ...[STAGING_MARK, PREVIOUS_MARK].flatMap((mark) => [
    `--exclude=./.${mark}-${RUN_ID_GLOB}`,
    `--exclude=./.${mark}-${RUN_ID_GLOB}${COPY_HOLDER_SUFFIX}`,
  ]),
  "--no-anchored",
];

/** The same exclusion for a walk of the media folder: a top-level name (bytes) tar leaves out. */
export function excludedFromArchive(topLevelName: Uint8Array): boolean {
  if (topLevelName.length > 64) return false;
  return OWN_COPY_RE.test(String.fromCharCode(...topLevelName));
}

/**
 * A top-level name that looks like one of the runner's (`.edms-...`) but is not exactly one: it is
 * archived like any other file, and the backup says so, since an older runner left it out.
 */
export function looksLikeRunnerCopy(topLevelName: Uint8Array): boolean {
  return !excludedFromArchive(topLevelName) && String.fromCharCode(...topLevelName.subarray(0, 6)) === ".edms-";
}

/** Databases a restore never replaces: the server's templates (CREATE DATABASE copies them). */
export const PROTECTED_DATABASES = ["template0", "template1"] as const;

/** Hours a restore keeps what it replaced when KEEP_PREVIOUS_HOURS is unset. */
export const DEFAULT_KEEP_PREVIOUS_HOURS = 24;
