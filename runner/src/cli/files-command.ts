/**
 * `files <backup>`: the entries of a store-format set, read from its media index as a stream
 * (never held whole): one line each, or one JSON object a line with --json; `--path` keeps an exact
 * name or everything below a folder. An encrypted set needs its identity (the index is encrypted).
 */
import type { Command } from "commander";
import { resolveBackup, setKey } from "../catalog/catalog.js";
import type { Tier } from "../contract.js";
import { ConfigError, RunnerError } from "../errors.js";
import { quoteName } from "../archive/entry-name.js";
import { decryptionFor } from "../encryption/names.js";
import { readIndex } from "../media-store/store-reader.js";
import type { IndexEntry } from "../media-store/media-index.js";
import { LinePrefilter } from "../media-store/line-prefilter.js";
import { PathSelection, parseSelectionPaths } from "../media-store/path-selection.js";
import { addDestinationOptions, openContext, tierOption, withUnlockedSet, type DestinationFlags } from "./shared.js";
import { identityFromEnv } from "./verify-command.js";

interface FilesFlags extends DestinationFlags {
  tier?: Tier;
  json?: boolean;
  path?: string[];
}

function line(e: IndexEntry, json: boolean): string {
  const mtime = new Date(Number(e.mtimeNs / 1_000_000n)).toISOString();
  if (json)
    return JSON.stringify({
      path: e.name.toString("base64"),
      printable: quoteName(e.name),
      type: e.type,
      mode: e.mode.toString(8).padStart(4, "0"),
      size: e.size,
      mtime,
      sha256: e.sha256,
      target: e.target === undefined ? undefined : quoteName(e.target),
    });
  const arrow = e.target === undefined ? "" : ` -> ${quoteName(e.target)}`;
  return `${e.type.padEnd(8)} ${e.mode.toString(8).padStart(4, "0")} ${String(e.size ?? "").padStart(12)} ${mtime} ${quoteName(e.name)}${arrow}`;
}

async function filesAction(ref: string, flags: FilesFlags): Promise<void> {
  const identity = identityFromEnv();
  const { store } = openContext(flags, {}, { logToStderr: true, secrets: identity ? [identity.secret] : [] });
  const set = await resolveBackup(store, ref, flags.tier);
  const media = set.manifest.media;
  if (media?.format !== "store")
    throw new RunnerError(
      `backup ${set.tier}/${set.backupId} ${media ? "keeps its media in one tar archive: list it with tar -t (see docs/RUNBOOK.md)" : "has no media"}`,
      2,
    );
  const parsed = parseSelectionPaths(flags.path ?? []);
  if ("problems" in parsed) throw new ConfigError(parsed.problems);
  const selection = parsed.paths.length ? new PathSelection(parsed.paths) : undefined;
  await withUnlockedSet(store, set, identity, async (unlocked, open) => {
    const ctx = {
      store,
      setPrefix: setKey(unlocked.tier, unlocked.backupId),
      backupId: unlocked.backupId,
      decrypt: decryptionFor(unlocked.manifest, open),
    };
    let out = "";
    // Only lines that may be selected are parsed (LinePrefilter; selects() then decides).
    const prefilter = selection && new LinePrefilter(selection.paths);
    for await (const e of readIndex(ctx, media, prefilter && ((line) => prefilter.mayNeed(line)))) {
      if (e.name.length === 0) continue;
      if (selection && !selection.selects(e.name)) continue;
      out += `${line(e, Boolean(flags.json))}\n`;
      if (out.length > 64 * 1024) {
        if (!process.stdout.write(out)) await new Promise((r) => process.stdout.once("drain", r));
        out = "";
      }
    }
    process.stdout.write(out);
    const unmatched = selection?.unmatched() ?? [];
    if (unmatched.length)
      throw new RunnerError(
        `--path ${unmatched.join(", ")}: nothing in backup ${unlocked.tier}/${unlocked.backupId} has this name or lies below it (names are bytes and case-sensitive; list a folder with --path FOLDER, or everything without --path)`,
        2,
      );
  });
}

export function registerFilesCommand(program: Command): void {
  addDestinationOptions(
    program
      .command("files")
      .description("list the entries of a store-format backup set (from its media index)")
      .argument("<backup>", "backup id or 'latest'")
      .addOption(tierOption("tier to pick 'latest' from")),
  )
    .option(
      "--path <path...>",
      "only this name, or everything below this folder (repeatable; a name that is not UTF-8: quoted as this command prints it, e.g. '\"docs/caf\\351.pdf\"')",
    )
    .option("--json", "one JSON object per line (path as base64 of its bytes)")
    .action((ref: string, flags: FilesFlags) => filesAction(ref, flags));
}
