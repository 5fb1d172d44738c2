/**
 * Recipients are checked with the age binary itself before a byte is streamed: the contract's
 * pattern catches typos and the post-quantum kind, age catches a bad bech32 checksum, and a
 * missing age binary is found before pg_dump starts rather than halfway through.
 */
import { Readable } from "node:stream";
import { newestCompleteSets } from "../catalog/catalog.js";
import { TIERS } from "../contract.js";
import { ConfigError, errorMessage } from "../errors.js";
import type { ObjectStore } from "../store/object-store.js";
import { settingLabel } from "../settings/settings-table.js";
import { encryptStream } from "../stages/age-encrypt.js";

export async function checkRecipients(recipients: readonly string[]): Promise<void> {
  const probe = encryptStream(Readable.from([]), recipients);
  try {
    probe.stream.resume();
    await probe.exited;
  } catch (error) {
    throw new ConfigError([`${settingLabel("ENCRYPTION_RECIPIENTS")}: age refused them: ${errorMessage(error)}`]);
  }
}

/**
 * A run without recipients into a destination whose newest complete set is encrypted (a laptop
 * that forgot ENCRYPTION_RECIPIENTS, a ConfigMap that lost them) would put a plaintext database
 * beside encrypted ones: bad input, unless ALLOW_PLAINTEXT says it is meant. One listing and a
 * few manifest reads (catalog.ts), before anything is written.
 */
export async function refusePlaintextBesideEncrypted(
  store: ObjectStore,
  recipients: readonly string[] | undefined,
  allowPlaintext: boolean | undefined,
): Promise<void> {
  if (recipients || allowPlaintext) return;
  // One listing per tier prefix (never the whole destination: a media store's objects live beside them).
  const perTier = await Promise.all(TIERS.map(async (tier) => (await newestCompleteSets(store, tier))[0]));
  const newest = perTier.filter((set) => set !== undefined).sort((a, b) => (a.backupId < b.backupId ? 1 : -1))[0];
  const theirs = newest?.manifest.encryption?.recipients;
  if (!newest || !theirs) return;
  throw new ConfigError([
    `${settingLabel("ENCRYPTION_RECIPIENTS")}: not set, but the newest backup at ${store.display} (${newest.tier}/${newest.backupId}) ` +
      `is encrypted (to ${theirs.join(", ")}); this run would store the database and media in plaintext. ` +
      `Set ENCRYPTION_RECIPIENTS=${theirs.join(",")} (or --encrypt-to), or pass --allow-plaintext (ALLOW_PLAINTEXT=true) to store it unencrypted on purpose`,
  ]);
}

/** The recipients of a comma-separated ENCRYPTION_RECIPIENTS value (already validated). */
export function splitRecipients(value: string | undefined): string[] | undefined {
  return value ? value.split(",").map((r) => r.trim()) : undefined;
}
