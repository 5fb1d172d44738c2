/**
 * Kubernetes object names and labels, derived from the application name in one place so the
 * CronJobs, the NetworkPolicy selector and the operator commands can never disagree.
 */
import { TIERS, type Tier } from "../../runner/src/contract.js";

export const TIER_LABEL = "backup.edms.io/tier";

/**
 * What a pod of this stack does; the drill restores into a scratch database, `status` publishes
 * the ages the alarms watch, `restore` is an operator's restore Job, `gc` the content store's gc.
 */
export type Workload = Tier | "restore-drill" | "runner" | "status" | "restore" | "exporter" | "gc" | "deploy-check";

export function objectNames(appName: string) {
  return {
    serviceAccount: `${appName}-backup`,
    configMap: `${appName}-backup-runner`,
    networkPolicy: `${appName}-backup-egress`,
    cronJob: (tier: Tier) => `${appName}-backup-${tier}`,
    drillCronJob: `${appName}-restore-drill`,
    statusCronJob: `${appName}-backup-status`,
    /** The one status run at the first deployment, before the alarms exist (see BackupSchedule). */
    firstStatusJob: `${appName}-backup-status-first`,
    firstDeployStamp: `${appName}-backup-first-deploy`,
    restoreJob: `${appName}-restore`,
    /** The exported operator commands, as a ConfigMap in the namespace (kubectl-only operation). */
    commandsConfigMap: `${appName}-backup-commands`,
    /** The exporter's Deployment, Service, ServiceMonitor, PrometheusRule and ServiceAccount. */
    exporter: `${appName}-backup-exporter`,
    /** The content store's gc: its CronJob and its own service account (the only one that may delete). */
    gcCronJob: `${appName}-backup-gc`,
    gcServiceAccount: `${appName}-backup-gc`,
    storeKeySecret: `${appName}-backup-store-key`,
    /** The Job `pulumi up` runs and waits for: keys and the restore role proven (deploy-check.ts). */
    deployCheckJob: `${appName}-backup-deploy-check`,
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
  const isBackup = (TIERS as readonly string[]).includes(workload);
  const component = isBackup ? "backup" : workload;
  const labels: Record<string, string> = { ...commonLabels(appName), "app.kubernetes.io/component": component };
  if (isBackup) labels[TIER_LABEL] = workload;
  return labels;
}
