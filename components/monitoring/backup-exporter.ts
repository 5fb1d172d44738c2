/**
 * The opt-in exporter (stack config `exporter`): `edms-backup exporter` as a Deployment and a
 * Service, under its own read-only cloud identity, and, for clusters with the Prometheus Operator,
 * a ServiceMonitor and a PrometheusRule. Specs come from the pure builders in exporter-spec.ts.
 */
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { BackupIdentity, type BackupIdentityArgs } from "../identity/backup-identity.js";
import {
  exporterDeploymentSpec,
  exporterIngressPolicySpec,
  exporterServiceSpec,
  prometheusRule,
  serviceMonitor,
} from "./exporter-spec.js";
import { objectNames, workloadLabels } from "../schedule/naming.js";
import type { RunnerPodInputs } from "../schedule/backup-schedule.js";
import { runnerPod, type StatusSettings } from "../schedule/runner-pod.js";

export interface BackupExporterArgs {
  appName: string;
  namespace: string;
  port: number;
  refreshSeconds: number;
  status: StatusSettings;
  /** The runner pods' shared fields; the exporter gets its own read-only service account. */
  pod: Omit<RunnerPodInputs, "serviceAccountName">;
  /** The identity's settings, as the runner's (the exporter's access is read-only). */
  identity: Omit<BackupIdentityArgs, "serviceAccountName" | "access" | "objectLock" | "cloudwatchNamespace">;
  /** The runner's ConfigMap: the Deployment waits for it. */
  configMap: pulumi.Resource;
  /** A ServiceMonitor and a PrometheusRule (the Prometheus Operator's CRDs must exist). */
  monitoring?: { scrapeInterval: string; labels: Record<string, string> };
}

export class BackupExporter extends pulumi.ComponentResource {
  readonly serviceName: string;
  readonly identity: BackupIdentity;

  constructor(name: string, args: BackupExporterArgs, opts?: pulumi.ComponentResourceOptions) {
    super("edms-backup:exporter:BackupExporter", name, {}, opts);
    const parent = { parent: this };
    const objectName = objectNames(args.appName).exporter;
    const labels = workloadLabels(args.appName, "exporter");
    const namespace = args.namespace;
    this.serviceName = objectName;

    this.identity = new BackupIdentity(
      `${name}-identity`,
      { ...args.identity, serviceAccountName: objectName, access: "read-only", objectLock: false },
      parent,
    );

    const spec = pulumi
      .all([args.pod.image, this.identity.serviceAccount.metadata.name])
      .apply(([image, serviceAccountName]) =>
        exporterDeploymentSpec(
          runnerPod(
            { ...args.pod, image, serviceAccountName },
            { kind: "exporter", status: args.status, refreshSeconds: args.refreshSeconds, port: args.port },
          ),
          labels,
          args.port,
        ),
      );
    new k8s.apps.v1.Deployment(
      `${name}-deployment`,
      {
        metadata: { name: objectName, namespace, labels },
        // kubernetes-models and @pulumi/kubernetes type the same schema differently (see backup-schedule.ts).
        spec: spec as unknown as k8s.types.input.apps.v1.DeploymentSpec,
      },
      { ...parent, dependsOn: [args.configMap] },
    );
    new k8s.core.v1.Service(
      `${name}-service`,
      {
        metadata: { name: objectName, namespace, labels },
        spec: exporterServiceSpec(labels, args.port) as unknown as k8s.types.input.core.v1.ServiceSpec,
      },
      parent,
    );
    new k8s.networking.v1.NetworkPolicy(
      `${name}-ingress`,
      {
        metadata: { name: `${objectName}-ingress`, namespace, labels },
        spec: exporterIngressPolicySpec(
          labels,
          args.port,
        ) as unknown as k8s.types.input.networking.v1.NetworkPolicySpec,
      },
      parent,
    );

    if (args.monitoring) {
      const meta = { name: objectName, namespace, labels: { ...labels, ...args.monitoring.labels } };
      const monitor = serviceMonitor(meta, labels, args.monitoring.scrapeInterval);
      new k8s.apiextensions.CustomResource(
        `${name}-service-monitor`,
        { apiVersion: monitor.apiVersion, kind: monitor.kind, metadata: monitor.metadata, spec: monitor.spec },
        parent,
      );
      const rule = prometheusRule(meta, objectName);
      new k8s.apiextensions.CustomResource(
        `${name}-rules`,
        { apiVersion: rule.apiVersion, kind: rule.kind, metadata: rule.metadata, spec: rule.spec },
        parent,
      );
    }
    this.registerOutputs({ serviceName: this.serviceName });
  }
}
