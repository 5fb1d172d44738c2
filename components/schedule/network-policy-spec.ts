/**
 * Egress for runner pods: the database, cluster DNS and HTTPS (S3, STS, KMS, webhooks), nothing
 * else; no ingress at all. Pod Identity credentials come from the node-local EKS Pod Identity
 * Agent, so that address is allowed only when Pod Identity is in use.
 */
import type { INetworkPolicySpec } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicySpec";
import type { INetworkPolicyEgressRule } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicyEgressRule";

/** The EKS Pod Identity Agent's link-local address and port. */
export const POD_IDENTITY_AGENT = { cidr: "169.254.170.23/32", port: 80 } as const;

export interface NetworkPolicySettings {
  podSelector: Record<string, string>;
  database: { port: number; cidr?: string; podSelector?: Record<string, string> };
  podIdentityAgent: boolean;
}

export function networkPolicySpec(s: NetworkPolicySettings): INetworkPolicySpec {
  const { cidr, podSelector, port } = s.database;
  if (!cidr && !podSelector) throw new Error("the database needs a cidr or a podSelector");
  const databasePeers = [
    ...(cidr ? [{ ipBlock: { cidr } }] : []),
    ...(podSelector ? [{ podSelector: { matchLabels: podSelector } }] : []),
  ];
  const egress: INetworkPolicyEgressRule[] = [
    { to: databasePeers, ports: [{ protocol: "TCP", port }] },
    {
      to: [
        {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
          podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
        },
      ],
      ports: [
        { protocol: "UDP", port: 53 },
        { protocol: "TCP", port: 53 },
      ],
    },
    // AWS endpoints have no stable addresses; HTTPS to anywhere is the narrowest portable rule.
    { to: [{ ipBlock: { cidr: "0.0.0.0/0" } }], ports: [{ protocol: "TCP", port: 443 }] },
  ];
  if (s.podIdentityAgent) {
    egress.push({
      to: [{ ipBlock: { cidr: POD_IDENTITY_AGENT.cidr } }],
      ports: [{ protocol: "TCP", port: POD_IDENTITY_AGENT.port }],
    });
  }
  return {
    podSelector: { matchLabels: s.podSelector },
    policyTypes: ["Ingress", "Egress"],
    ingress: [],
    egress,
  };
}
