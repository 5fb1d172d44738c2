/**
 * Validates generated Kubernetes objects against the Kubernetes 1.33 OpenAPI schema
 * (kubernetes-models). It catches wrong types, bad enums, missing fields and bad quantities; unknown
 * fields are caught by the builders' types instead.
 */
import { PrometheusRule, ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { specialSigKey } from "@pulumi/pulumi/runtime/rpc.js";
import { Deployment } from "kubernetes-models/apps/v1";
import { CronJob, Job } from "kubernetes-models/batch/v1";
import { ConfigMap, Secret, Service, ServiceAccount } from "kubernetes-models/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";

type Validator = (object: Record<string, unknown>) => void;

const validators: Record<string, Validator> = {
  "kubernetes:batch/v1:CronJob": (o) =>
    new CronJob(o as unknown as ConstructorParameters<typeof CronJob>[0]).validate(),
  "kubernetes:batch/v1:Job": (o) => new Job(o as unknown as ConstructorParameters<typeof Job>[0]).validate(),
  "kubernetes:core/v1:ConfigMap": (o) =>
    new ConfigMap(o as unknown as ConstructorParameters<typeof ConfigMap>[0]).validate(),
  "kubernetes:core/v1:Secret": (o) => new Secret(o as unknown as ConstructorParameters<typeof Secret>[0]).validate(),
  "kubernetes:core/v1:ServiceAccount": (o) =>
    new ServiceAccount(o as unknown as ConstructorParameters<typeof ServiceAccount>[0]).validate(),
  "kubernetes:apps/v1:Deployment": (o) =>
    new Deployment(o as unknown as ConstructorParameters<typeof Deployment>[0]).validate(),
  "kubernetes:core/v1:Service": (o) => new Service(o as unknown as ConstructorParameters<typeof Service>[0]).validate(),
  // The Prometheus Operator's CRDs (@kubernetes-models/prometheus-operator), as Pulumi CustomResources.
  "kubernetes:monitoring.coreos.com/v1:ServiceMonitor": (o) =>
    new ServiceMonitor(o as unknown as ConstructorParameters<typeof ServiceMonitor>[0]).validate(),
  "kubernetes:monitoring.coreos.com/v1:PrometheusRule": (o) =>
    new PrometheusRule(o as unknown as ConstructorParameters<typeof PrometheusRule>[0]).validate(),
  "kubernetes:networking.k8s.io/v1:NetworkPolicy": (o) =>
    new NetworkPolicy(o as unknown as ConstructorParameters<typeof NetworkPolicy>[0]).validate(),
};

/** Pulumi's marker of a secret value in recorded inputs: `{ [specialSigKey]: <secret sig>, value }`. */
const SECRET_SIG = specialSigKey;

/** The inputs as the cluster receives them: secret values unwrapped. */
export function unwrapSecrets(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(unwrapSecrets);
  if (value === null || typeof value !== "object") return value;
  const record = value as Record<string, unknown>;
  if (SECRET_SIG in record) return unwrapSecrets(record.value);
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, unwrapSecrets(v)]));
}

/** True when `value` was registered as a Pulumi secret (encrypted in the state). */
export function isPulumiSecret(value: unknown): boolean {
  return value !== null && typeof value === "object" && SECRET_SIG in value;
}

/** Throws when `type` has no validator, so a new kind of object cannot slip through unvalidated. */
export function validateKubernetesObject(type: string, object: Record<string, unknown>): void {
  const validate = validators[type];
  if (!validate) throw new Error(`no schema validator for ${type}`);
  validate(unwrapSecrets(object) as Record<string, unknown>);
}
