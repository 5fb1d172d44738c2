/**
 * What a destination holds, as backup sets: `<tier>/<backupId>/...` with or without a manifest.
 * A set without a (valid) manifest is incomplete: listed as such, never restored.
 */
import { text } from "node:stream/consumers";
import { backupIdTime, isBackupId } from "./backup-id.js";
import { isScheduledTier, MANIFEST_OBJECT, SCHEDULED_TIERS, TIERS, tierProse, type Tier } from "../contract.js";
import { RunnerError, errorMessage } from "../errors.js";
import { parseManifest, type Manifest } from "./manifest.js";
import type { ObjectStore, StoredObject } from "../store/object-store.js";

export interface BackupSet {
  tier: Tier;
  backupId: string;
  createdAt: Date;
  objects: StoredObject[];
  /** Sum of the set's object sizes. */
  bytes: number;
  manifest?: Manifest;
  /** Why the set is incomplete (no manifest, unreadable manifest). */
  problem?: string;
}

export type CompleteBackupSet = BackupSet & { manifest: Manifest };

export function isComplete(set: BackupSet): set is CompleteBackupSet {
  return set.manifest !== undefined;
}

export function setKey(tier: Tier, backupId: string): string {
  return `${tier}/${backupId}`;
}

/** The set an object key belongs to (`<tier>/<backupId>/<name>`), or undefined for any other key. */
export function setOfKey(key: string): { tier: Tier; backupId: string } | undefined {
  const [tier, backupId, ...rest] = key.split("/");
  if (!tier || !backupId || rest.length === 0) return undefined;
  if (!(TIERS as readonly string[]).includes(tier) || !isBackupId(backupId)) return undefined;
  return { tier: tier as Tier, backupId };
}

/** Groups object listings into sets; pure, so the grouping rules are tested without a store. */
export function groupIntoSets(objects: readonly StoredObject[]): Map<string, Omit<BackupSet, "manifest" | "problem">> {
  const sets = new Map<string, Omit<BackupSet, "manifest" | "problem">>();
  for (const object of objects) {
    const owner = setOfKey(object.key);
    if (!owner) continue;
    const { tier, backupId } = owner;
    const key = setKey(tier, backupId);
    let set = sets.get(key);
    if (!set) {
      set = { tier, backupId, createdAt: backupIdTime(backupId)!, objects: [], bytes: 0 };
      sets.set(key, set);
    }
    set.objects.push(object);
    set.bytes += object.bytes;
  }
  return sets;
}

export async function readManifest(store: ObjectStore, tier: Tier, backupId: string): Promise<Manifest> {
  const where = `${setKey(tier, backupId)}/${MANIFEST_OBJECT}`;
  const manifest = parseManifest(await text(await store.get(where)), where);
  if (manifest.backupId !== backupId || manifest.tier !== tier) {
    throw new Error(`manifest ${where} describes ${manifest.tier}/${manifest.backupId}, not this set`);
  }
  return manifest;
}

type SetSkeleton = Omit<BackupSet, "manifest" | "problem">;

/**
 * Every set at the destination (optionally of one tier), oldest first, from one listing;
 * `onObject` sees every listed object (status tallies the media store from the same listing).
 */
async function listSkeletons(
  store: ObjectStore,
  tier?: Tier,
  onObject?: (object: StoredObject) => void,
): Promise<SetSkeleton[]> {
  const objects: StoredObject[] = [];
  // A caller that wants every object (onObject) gets the whole destination; otherwise only the
  // tiers' folders are listed, never the media store beside them: finding `latest` listed every
  // content object (50,000 stat calls on file://, 1.5 s of a one-file restore; 10,000 LIST
  // requests at 10 M objects).
  const prefixes = tier ? [`${tier}/`] : onObject ? [""] : TIERS.map((t) => `${t}/`);
  for (const prefix of prefixes)
    for await (const batch of store.listBatches(prefix))
      for (const object of batch) {
        onObject?.(object);
        // Only set objects are kept: content objects (millions, in a media store) are not a set's.
        if (setOfKey(object.key)) objects.push(object);
      }
  return [...groupIntoSets(objects).values()].sort((a, b) =>
    a.backupId < b.backupId ? -1 : a.backupId > b.backupId ? 1 : 0,
  );
}

/** A set with its manifest read, or with the reason it is incomplete. */
async function withManifest(store: ObjectStore, set: SetSkeleton): Promise<BackupSet> {
  if (!set.objects.some((o) => o.key.endsWith(`/${MANIFEST_OBJECT}`))) {
    return { ...set, problem: "no manifest: the run did not finish (or is still running)" };
  }
  try {
    return { ...set, manifest: await readManifest(store, set.tier, set.backupId) };
  } catch (error) {
    return { ...set, problem: errorMessage(error) };
  }
}

/** Every set at the destination (optionally of one tier), oldest first, manifests read. */
export async function listBackupSets(store: ObjectStore, tier?: Tier): Promise<BackupSet[]> {
  const out: BackupSet[] = [];
  for (const set of await listSkeletons(store, tier)) out.push(await withManifest(store, set));
  return out;
}

/**
 * How far ahead of this machine's clock a set may be dated. A few minutes are ordinary skew
 * between hosts; more is a wrong clock or a copied set, which must never become `latest` (it
 * would stay the newest, and look fresh, for as long as the clock is wrong).
 */
export const FUTURE_TOLERANCE_MS = 5 * 60_000;

/** Whether a set is dated more than FUTURE_TOLERANCE_MS after `now` (by its id, and its manifest when read). */
export function isDatedInFuture(set: Pick<BackupSet, "createdAt" | "manifest">, now: Date): boolean {
  const started = set.manifest ? Math.max(set.createdAt.getTime(), Date.parse(set.manifest.startedAt)) : 0;
  return Math.max(set.createdAt.getTime(), started) > now.getTime() + FUTURE_TOLERANCE_MS;
}

/**
 * THE rule for "the newest set" of some tiers, one for `list` (which it marks), `status` (whose
 * freshness it judges), `prune` (which it never deletes), `latest` (which restore, verify and drill
 * take) and the drill's rotation: a complete set, not dated in the future, newest by its id (the
 * start time to the second, then the id's random suffix). A set dated in the future is never the
 * newest: it would stay "newest" for as long as the clock is wrong, and let prune delete the sets
 * that `latest` can actually use.
 */
export function isUsable(set: BackupSet, now: Date): set is CompleteBackupSet {
  return isComplete(set) && !isDatedInFuture(set, now);
}

/** The newest usable set (see isUsable) of the given tiers, or undefined. */
export function newestUsable(
  sets: readonly BackupSet[],
  now: Date,
  tiers: readonly Tier[],
): CompleteBackupSet | undefined {
  let newest: CompleteBackupSet | undefined;
  for (const set of sets)
    if (tiers.includes(set.tier) && isUsable(set, now) && (!newest || set.backupId > newest.backupId)) newest = set;
  return newest;
}

/**
 * The tiers `latest` picks from: the given one, or else the scheduled tiers only. An ad-hoc set
 * is what an operator takes by hand, often of a broken state just before a restore; it is restored
 * by its id or with `--tier adhoc`, never as a plain `latest`.
 */
export function latestTiers(tier?: Tier): readonly Tier[] {
  return tier ? [tier] : SCHEDULED_TIERS;
}

export interface NewestSets {
  /** The newest usable set of each tier (newestUsable), newest first. */
  newest: CompleteBackupSet[];
  /** Sets dated in the future (complete or not), never chosen as the newest. */
  future: BackupSet[];
}

/**
 * The newest usable set of each tier (of `tier` only, when given), newest tier first, and the
 * sets dated in the future. Reads manifests from the newest set backwards and stops at the first
 * usable one, so a destination with hundreds of sets costs one listing and a few reads, not one
 * read per set; the choice is newestUsable's over the sets read (the property test checks both agree).
 */
export async function newestAndFutureSets(
  store: ObjectStore,
  tier?: Tier,
  now: Date = new Date(),
  onObject?: (object: StoredObject) => void,
): Promise<NewestSets> {
  const skeletons = await listSkeletons(store, tier, onObject);
  const found: CompleteBackupSet[] = [];
  const future: BackupSet[] = skeletons.filter((s) => isDatedInFuture(s, now));
  for (const t of tier ? [tier] : TIERS) {
    const ofTier = skeletons.filter((s) => s.tier === t && !isDatedInFuture(s, now));
    for (let i = ofTier.length - 1; i >= 0; i--) {
      const set = await withManifest(store, ofTier[i]!);
      // The id's time passed; a manifest whose own start time is in the future is skipped too.
      if (isDatedInFuture(set, now)) future.push(set);
      const newest = newestUsable([set], now, [t]);
      if (newest) {
        found.push(newest);
        break;
      }
    }
  }
  return { newest: found.sort((a, b) => (a.backupId < b.backupId ? 1 : a.backupId > b.backupId ? -1 : 0)), future };
}

/** The newest usable set of each tier (see newestAndFutureSets). */
export async function newestCompleteSets(store: ObjectStore, tier?: Tier, now?: Date): Promise<CompleteBackupSet[]> {
  return (await newestAndFutureSets(store, tier, now)).newest;
}

/** Nothing to restore or drill: where was looked, in which tiers (none = all), and what to run. */
export function noCompleteBackup(store: ObjectStore, tiers: readonly Tier[]): string {
  const which = tiers.length ? ` of tier ${tiers.join(", ")}` : "";
  return `no complete backup${which} at ${store.display}; run \`edms-backup list\` to see what is there`;
}

/**
 * Resolves `latest` or a backup id to a complete set. An id names one set whatever its tier;
 * `latest` is the newest usable set of latestTiers(tier): of `tier` when given, else of the
 * scheduled tiers (never an ad-hoc set unless asked for with --tier adhoc).
 */
export async function resolveBackup(
  store: ObjectStore,
  ref: string,
  tier?: Tier,
  now: Date = new Date(),
): Promise<CompleteBackupSet> {
  if (ref === "latest") {
    const newestPerTier = await newestCompleteSets(store, tier, now);
    const newest = newestUsable(newestPerTier, now, latestTiers(tier));
    if (newest) return newest;
    const unscheduled = tier ? undefined : newestPerTier.find((s) => !isScheduledTier(s.tier));
    throw new RunnerError(
      noCompleteBackup(store, latestTiers(tier)) +
        (unscheduled
          ? `; \`latest\` never picks an ${tierProse(unscheduled.tier)} set: restore ${unscheduled.tier}/${unscheduled.backupId} by its id, or pass --tier ${unscheduled.tier}`
          : ""),
    );
  }
  if (!isBackupId(ref))
    throw new RunnerError(`"${ref}" is not a backup id (like 20260111T144748Z-3f9a) or "latest"`, 2);
  const match = (await listSkeletons(store, tier)).find((s) => s.backupId === ref);
  if (!match) throw new RunnerError(`backup ${ref} was not found at ${store.display}${tier ? ` (tier ${tier})` : ""}`);
  const set = await withManifest(store, match);
  if (!isComplete(set))
    throw new RunnerError(`backup ${set.tier}/${ref} is incomplete (${set.problem}); refusing to use it`);
  return set;
}
