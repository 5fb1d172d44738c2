/**
 * When the stack was first deployed, stamped once. A tier that was never backed up is not stale
 * before its first scheduled run plus the grace (see neverRanBaseline in runner/src/catalog/staleness.ts),
 * and that has to be counted from the first deployment, not from the latest `pulumi up`.
 *
 * The stamp is a ConfigMap whose data is written at creation and then ignored by every later
 * update (`ignoreChanges: ["data"]`: Pulumi keeps the old input, so the output stays the first
 * value). Why a ConfigMap and not @pulumi/time or a dynamic provider: it needs no extra provider
 * plugin or serialized closure, and operators can read it (`kubectl get configmap
 * <app>-backup-first-deploy -o yaml`). Deleting it (or the namespace) restarts the grace.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { SCHEDULED_TIERS, type ScheduledTier } from "../../runner/src/contract.js";
import { nextRuns } from "../config/schedules.js";

export interface FirstDeployStampArgs {
  objectName: string;
  namespace: string;
  labels: Record<string, string>;
  /** The clock; tests pass a fixed one. */
  now?: () => Date;
}

export const STAMP_KEY = "createdAt";

export class FirstDeployStamp extends pulumi.ComponentResource {
  readonly createdAt: pulumi.Output<string>;

  constructor(name: string, args: FirstDeployStampArgs, opts?: pulumi.ComponentResourceOptions) {
    super("edms-backup:schedule:FirstDeployStamp", name, {}, opts);
    const stamp = new k8s.core.v1.ConfigMap(
      `${name}-stamp`,
      {
        metadata: { name: args.objectName, namespace: args.namespace, labels: args.labels },
        data: { [STAMP_KEY]: (args.now ?? (() => new Date()))().toISOString() },
      },
      { parent: this, ignoreChanges: ["data"] },
    );
    this.createdAt = stamp.data.apply((data) => data[STAMP_KEY]!);
    this.registerOutputs({ createdAt: this.createdAt });
  }
}

/** What runs on a schedule and is judged by "has it succeeded recently": the tiers and the drill. */
export type Watched = ScheduledTier | "drill";

/**
 * STATUS_FIRST_RUNS: each schedule's first run strictly after `createdAt`, in the CronJobs' time
 * zone, e.g. "daily=2026-01-11T18:00:00.000Z,drill=2026-01-17T22:00:00.000Z".
 */
export function firstRunsEnv(schedules: Partial<Record<Watched, string>>, timeZone: string, createdAt: Date): string {
  const order: Watched[] = [...SCHEDULED_TIERS, "drill"];
  return order
    .filter((name) => schedules[name] !== undefined)
    .map((name) => `${name}=${nextRuns(schedules[name]!, timeZone, createdAt, 1)[0]!.toISOString()}`)
    .join(",");
}
