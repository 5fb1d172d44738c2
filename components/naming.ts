/**
 * Kubernetes object names and labels, derived from the application name in one place so the
 * CronJobs, the NetworkPolicy selector and the operator commands can never disagree.
 */
import type { Tier } from "../runner/src/contract.js";

export const TIER_LABEL = "backup.edms.io/tier";

/** What a pod of this stack does; the drill restores into a scratch database. */
export type Workload = Tier | "restore-drill" | "runner";

export function objectNames(appName: string) {
  return {
    serviceAccount: `${appName}-backup`,
    configMap: `${appName}-backup-runner`,
    networkPolicy: `${appName}-backup-egress`,
    cronJob: (tier: Tier) => `${appName}-backup-${tier}`,
    drillCronJob: `${appName}-restore-drill`,
  };
}

/** Labels shared by every object of the stack (recommended app.kubernetes.io/* set). */
export function commonLabels(appName: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "edms-backup",
    "app.kubernetes.io/instance": `${appName}-backup`,
    "app.kubernetes.io/part-of": appName,
    "app.kubernetes.io/managed-by": "pulumi",
  };
}

/** The subset that selects this stack's runner pods (the NetworkPolicy's podSelector). */
export function runnerSelector(appName: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "edms-backup",
    "app.kubernetes.io/instance": `${appName}-backup`,
  };
}

export function workloadLabels(appName: string, workload: Workload): Record<string, string> {
  const component = workload === "restore-drill" ? "restore-drill" : workload === "runner" ? "runner" : "backup";
  const labels: Record<string, string> = { ...commonLabels(appName), "app.kubernetes.io/component": component };
  if (workload !== "restore-drill" && workload !== "runner") labels[TIER_LABEL] = workload;
  return labels;
}
