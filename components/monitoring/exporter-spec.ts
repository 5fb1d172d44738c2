/**
 * The exporter's Kubernetes objects as pure builders: a one-replica Deployment around the runner
 * pod (runner-pod.ts: the same hardening, read-only root, no password, no media), a ClusterIP
 * Service, the NetworkPolicy that lets scrapes in (the runner pods' policy allows no ingress at
 * all), and for the Prometheus Operator a ServiceMonitor and a PrometheusRule (prometheus-rules.ts).
 * Typed against kubernetes-models and @kubernetes-models/prometheus-operator.
 */
import type { IDeploymentSpec } from "kubernetes-models/apps/v1/DeploymentSpec";
import type { INetworkPolicySpec } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicySpec";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import type { IServiceSpec } from "kubernetes-models/v1/ServiceSpec";
import type { IPrometheusRule } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule";
import type { IServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor";
import { alertRules } from "./prometheus-rules.js";

export const METRICS_PORT_NAME = "metrics";

/** The runner pod turned into a long-running one: restarted on exit, with its port and probes. */
export function exporterDeploymentSpec(pod: IPodSpec, labels: Record<string, string>, port: number): IDeploymentSpec {
  const [container, ...rest] = pod.containers;
  if (!container || rest.length) throw new Error("the exporter pod has exactly one container");
  // The first reading can take a while on a large bucket; /metrics answers from memory after it.
  const probe = { httpGet: { path: "/metrics", port: METRICS_PORT_NAME }, periodSeconds: 30, timeoutSeconds: 10 };
  return {
    replicas: 1,
    selector: { matchLabels: labels },
    // One reader is enough; two during a rollout are harmless (both only read).
    strategy: { type: "RollingUpdate" },
    template: {
      metadata: { labels },
      spec: {
        ...pod,
        restartPolicy: "Always",
        terminationGracePeriodSeconds: 30,
        containers: [
          {
            ...container,
            ports: [{ name: METRICS_PORT_NAME, containerPort: port, protocol: "TCP" }],
            readinessProbe: { ...probe, initialDelaySeconds: 5 },
            livenessProbe: { ...probe, initialDelaySeconds: 60, failureThreshold: 5 },
          },
        ],
      },
    },
  };
}

export function exporterServiceSpec(selector: Record<string, string>, port: number): IServiceSpec {
  return {
    type: "ClusterIP",
    selector,
    ports: [{ name: METRICS_PORT_NAME, port, targetPort: METRICS_PORT_NAME, protocol: "TCP" }],
  };
}

/**
 * Scrapes on the metrics port from any namespace (where Prometheus runs is the cluster's choice);
 * additive to the runner pods' egress policy, which allows no ingress.
 */
export function exporterIngressPolicySpec(podSelector: Record<string, string>, port: number): INetworkPolicySpec {
  return {
    podSelector: { matchLabels: podSelector },
    policyTypes: ["Ingress"],
    ingress: [{ from: [{ namespaceSelector: {} }], ports: [{ protocol: "TCP", port }] }],
  };
}

export interface MonitoringMetadata {
  name: string;
  namespace: string;
  /** The stack's labels plus those the cluster's Prometheus selects monitors and rules by. */
  labels: Record<string, string>;
}

export function serviceMonitor(
  meta: MonitoringMetadata,
  serviceSelector: Record<string, string>,
  scrapeInterval: string,
): IServiceMonitor {
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "ServiceMonitor",
    metadata: meta,
    spec: {
      selector: { matchLabels: serviceSelector },
      namespaceSelector: { matchNames: [meta.namespace] },
      endpoints: [{ port: METRICS_PORT_NAME, path: "/metrics", interval: scrapeInterval }],
    },
  };
}

/**
 * The alert rules, scoped to this stack's exporter: the ServiceMonitor's targets carry
 * job=<Service name> and namespace=<its namespace>.
 */
export function prometheusRule(meta: MonitoringMetadata, serviceName: string): IPrometheusRule {
  return {
    apiVersion: "monitoring.coreos.com/v1",
    kind: "PrometheusRule",
    metadata: meta,
    spec: alertRules({ selector: { job: serviceName, namespace: meta.namespace } }),
  };
}
