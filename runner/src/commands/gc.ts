/**
 * `gc`: frees content objects (MEDIA_FORMAT=store) that no set references any more. One run:
 * list the store into a compact catalog, write a lease, mark into the catalog (gc-mark.ts);
 * listed objects unreferenced now become candidates (first seen now, or when the previous run's
 * record first saw them); a candidate first seen at least the grace ago by an earlier run is
 * deleted, unless a re-mark finds it referenced or it is under Object Lock retention or a legal
 * hold (never sent a delete). Deletes happen only inside a lease (gc-lease.ts: why no backup then
 * loses an object); the record written last tells the next run and `status` what happened.
 * `--dry-run` writes nothing, no lease, and deletes nothing.
 */
import { performance } from "node:perf_hooks";
import type { Readable } from "node:stream";
import { newMillisecondId } from "../catalog/backup-id.js";
import { RunnerError } from "../errors.js";
import { faultPoint } from "../fault-points.js";
import { formatBytes } from "../output/format.js";
import type { Logger } from "../output/logger.js";
import { GC_LEASES_PREFIX, gcLeaseTiming } from "../media-store/gc-lease.js";
import { markReferences, newMarkState, type MarkState } from "../media-store/gc-mark.js";
import { readNewestGcRecord, writeGcRecord, type GcRecord } from "../media-store/gc-record.js";
import { ObjectCatalog } from "../media-store/object-catalog.js";
import { UnfinishedWrites } from "../media-store/gc-unfinished.js";
import type { ChildSource } from "../stages/child-source.js";
import type { ObjectStore } from "../store/object-store.js";

export interface GcOptions {
  graceHours: number;
  dryRun: boolean;
  log: Logger;
  /** Decrypts encrypted indexes of sets written before object lists (the age identity). */
  decrypt?: (input: Readable) => ChildSource;
  now?: () => Date;
}

type Candidate = GcRecord["candidates"][number];

export interface GcReport extends Omit<GcRecord, "edmsGcRecord"> {
  destination: string;
  dryRun: boolean;
  /** Dry run: the candidates this run would delete (due, not referenced; locks not looked at). */
  wouldDelete: Candidate[];
  /** Where the record went (not on a dry run). */
  recordKey?: string;
  /** Unfinished writes older than the grace (gc-unfinished.ts): removed, or on a dry run to be. */
  unfinished: { objects: number; bytes: number };
}

/** Owns the lease: written before each mark; deletes only while the newest is fresh. */
class Lease {
  private startedAt = 0;
  private readonly leaseMs = gcLeaseTiming().leaseMs;

  constructor(
    private readonly store: ObjectStore,
    private readonly runId: string,
  ) {}

  /** Writes a new lease, then marks (so the mark sees every list stored before the lease). */
  async renew(mark: () => Promise<void>): Promise<void> {
    this.startedAt = performance.now();
    const at = new Date();
    await this.store.putSmall(
      `${GC_LEASES_PREFIX}${newMillisecondId(at)}.json`,
      `${JSON.stringify({ runId: this.runId, at: at.toISOString() })}\n`,
      { contentType: "application/json" },
    );
    await mark();
  }

  get fresh(): boolean {
    return performance.now() - this.startedAt < this.leaseMs;
  }
}

function refuseOnBlockers(state: MarkState): void {
  if (state.blockers.length)
    throw new RunnerError(
      `gc deleted nothing: it cannot tell which content objects ${state.blockers.length === 1 ? "a set uses" : `${state.blockers.length} sets use`}: ${state.blockers.join("; ")}`,
    );
}

export async function runGc(store: ObjectStore, options: GcOptions): Promise<GcReport> {
  const now = options.now ?? (() => new Date());
  const started = now();
  const runId = newMillisecondId(started);
  const log = options.log.child({ stage: "gc", runId });
  if (!store.delete) throw new RunnerError(`gc cannot delete at ${store.display}`);
  const previous = await readNewestGcRecord(store);
  const firstSeen = new Map((previous?.record.candidates ?? []).map((c) => [c.key, c.firstSeen]));
  // Listed before the lease: the listing (10,000 requests at 10 M objects) does not eat into the
  // lease, and an object stored after it is simply not judged by this run.
  const unfinished = new UnfinishedWrites(started, options.graceHours * 3_600_000);
  const state = newMarkState(await ObjectCatalog.fromListing(store, unfinished.note));
  const mark = async () => {
    await markReferences(store, state, { decrypt: options.decrypt, log });
    refuseOnBlockers(state);
  };
  const lease = new Lease(store, runId);
  if (options.dryRun) await mark();
  else await lease.renew(mark);
  await faultPoint("gc.marked");

  const graceMs = options.graceHours * 3_600_000;
  const startedAt = started.toISOString(); // one string shared by every new candidate
  const unreferenced: Candidate[] = [];
  const listed = { objects: 0, bytes: 0 };
  for (const o of state.catalog.entries()) {
    listed.objects += 1;
    listed.bytes += o.bytes;
    if (!o.used) unreferenced.push({ key: o.key, bytes: o.bytes, firstSeen: firstSeen.get(o.key) ?? startedAt });
  }
  // Due: seen unreferenced by an earlier run, at least the grace ago (never the run that first saw it).
  const due = unreferenced.filter(
    (c) => firstSeen.has(c.key) && started.getTime() - Date.parse(c.firstSeen) >= graceMs,
  );
  const base = {
    runId,
    startedAt,
    graceHours: options.graceHours,
    store: { objects: listed.objects, bytes: listed.bytes, referenced: listed.objects - unreferenced.length },
  };
  if (options.dryRun)
    return {
      ...base,
      destination: store.display,
      dryRun: true,
      finishedAt: now().toISOString(),
      sets: { marked: state.marked, unmarked: state.tar + state.waiting },
      deleted: { objects: 0, bytes: 0 },
      locked: [],
      candidates: unreferenced,
      wouldDelete: due,
      unfinished: unfinished.summary,
    };

  await faultPoint("gc.before-delete");
  const { deleted, deletedBytes, locked } = await deleteDue(store, due, { lease, mark, state, now });
  if (locked.length)
    log.warn(
      { locked: locked.length },
      `${locked.length} unreferenced content object${locked.length === 1 ? " is" : "s are"} under Object Lock: left alone until ${locked.length === 1 ? "its" : "their"} retention ends`,
    );
  await unfinished.remove(store);
  await faultPoint("gc.before-record");
  const record: GcRecord = {
    edmsGcRecord: 1,
    ...base,
    finishedAt: now().toISOString(),
    sets: { marked: state.marked, unmarked: state.tar + state.waiting },
    deleted: { objects: deleted.size, bytes: deletedBytes },
    locked,
    candidates: unreferenced.filter((c) => !deleted.has(c.key) && !state.catalog.isUsed(c.key)),
  };
  const recordKey = await writeGcRecord(store, record);
  log.info(
    { deleted: record.deleted, candidates: record.candidates.length, recordKey },
    `gc deleted ${deleted.size} content objects (${formatBytes(deletedBytes)})`,
  );
  const { edmsGcRecord: _version, ...fields } = record;
  const { summary } = unfinished;
  return { ...fields, destination: store.display, dryRun: false, wouldDelete: [], recordKey, unfinished: summary };
}

/**
 * Deletes the due candidates, each only while the lease is fresh (else a new lease and a re-mark
 * first), still unreferenced, and not under Object Lock retention or a legal hold (never sent a
 * delete: reported instead).
 */
async function deleteDue(
  store: ObjectStore,
  due: readonly Candidate[],
  ctx: { lease: Lease; mark: () => Promise<void>; state: MarkState; now: () => Date },
): Promise<{ deleted: Set<string>; deletedBytes: number; locked: GcRecord["locked"] }> {
  const { lease, mark, state, now } = ctx;
  const deleted = new Set<string>();
  const locked: GcRecord["locked"] = [];
  let deletedBytes = 0;
  for (let i = 0; i < due.length;) {
    const c = due[i]!;
    if (!lease.fresh) {
      await lease.renew(mark);
      if (!lease.fresh)
        throw new RunnerError(
          `gc stopped after ${deleted.size} deletes: marking the sets took longer than its lease, so it could not delete safely; run it again`,
        );
      continue; // the same candidate, judged against the new mark
    }
    i += 1;
    if (state.catalog.isUsed(c.key)) continue;
    const head = await store.head(c.key);
    if (!head) continue; // gone already (a gc killed after its delete, or by hand)
    if (head.legalHold || (head.lock && head.lock.retainUntil.getTime() > now().getTime())) {
      locked.push({
        key: c.key,
        ...(head.lock ? { retainUntil: head.lock.retainUntil.toISOString() } : {}),
        ...(head.legalHold ? { legalHold: true } : {}),
      });
      continue;
    }
    if (!lease.fresh) {
      i -= 1;
      continue;
    }
    await store.delete!([c.key]);
    deleted.add(c.key);
    deletedBytes += head.bytes;
    if (deleted.size === 1) await faultPoint("gc.deleted-one");
  }
  return { deleted, deletedBytes, locked };
}

/** The report as a few lines for a terminal. */
export function renderGcReport(r: GcReport): string {
  const lines: string[] = [];
  if (r.dryRun) {
    lines.push(
      r.wouldDelete.length
        ? `would delete ${r.wouldDelete.length} content objects (${formatBytes(r.wouldDelete.reduce((a, c) => a + c.bytes, 0))}):`
        : "would delete nothing",
    );
    for (const c of r.wouldDelete) lines.push(`  ${c.key}  ${formatBytes(c.bytes)}  unreferenced since ${c.firstSeen}`);
  } else {
    lines.push(`deleted ${r.deleted.objects} content objects (${formatBytes(r.deleted.bytes)})`);
    for (const l of r.locked)
      lines.push(
        `  left under Object Lock: ${l.key}${l.retainUntil ? ` until ${l.retainUntil}` : ""}${l.legalHold ? " (legal hold)" : ""}`,
      );
  }
  if (r.unfinished.objects)
    lines.push(
      `${r.dryRun ? "would remove" : "removed"} ${r.unfinished.objects} unfinished writes left by killed runs (${formatBytes(r.unfinished.bytes)})`,
    );
  const pending = r.candidates.length - r.wouldDelete.length;
  lines.push(
    `${r.store.objects} objects in the store (${formatBytes(r.store.bytes)}), ${r.store.referenced} referenced by ${r.sets.marked} sets; ` +
      `${pending} unreferenced waiting for the ${r.graceHours} h grace${r.locked.length ? `, ${r.locked.length} locked` : ""}` +
      (r.dryRun ? " (dry run: nothing was changed)" : ""),
  );
  return lines.join("\n");
}
