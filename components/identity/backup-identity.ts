/**
 * The runner's cloud identity and its ServiceAccount: an IAM role assumable only by this
 * namespace's service account (IRSA, or EKS Pod Identity), with the least-privilege runner policy.
 * A Kubernetes provider other than the default comes through the resource options (`providers`).
 */
import * as aws from "@pulumi/aws";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  eksClusterArn,
  irsaTrustPolicy,
  podIdentityTrustPolicy,
  readerPolicy,
  runnerPolicy,
  type PolicyDocument,
} from "./iam-policies.js";

export type IdentityKind = { kind: "irsa"; oidcProviderArn: string } | { kind: "podIdentity"; clusterName: string };

export interface BackupIdentityArgs {
  identity: IdentityKind;
  namespace: string;
  serviceAccountName: string;
  labels: Record<string, string>;
  bucketArn: pulumi.Input<string>;
  keyPrefix: string;
  kmsKeyArn: pulumi.Input<string>;
  objectLock: boolean;
  cloudwatchNamespace?: string;
  runSummaryTopicArn?: pulumi.Input<string>;
  /** `read-only`: the exporter's identity (readerPolicy); default the runner's (runnerPolicy). */
  access?: "runner" | "read-only";
  /** Another role's policy (the content store's gc) instead of the runner's; and what the role is for. */
  policy?: (resolved: { bucketArn: string; kmsKeyArn: string; region: string }) => PolicyDocument;
  purpose?: string;
}

export class BackupIdentity extends pulumi.ComponentResource {
  readonly role: aws.iam.Role;
  readonly serviceAccount: k8s.core.v1.ServiceAccount;

  constructor(name: string, args: BackupIdentityArgs, opts?: pulumi.ComponentResourceOptions) {
    super("edms-backup:identity:BackupIdentity", name, {}, opts);
    const parent = { parent: this };
    const region = aws.getRegionOutput({}, parent).region;

    const assumeRolePolicy = trustPolicy(args, region, parent);

    this.role = new aws.iam.Role(
      `${name}-role`,
      {
        description: `edms-backup ${args.purpose ?? (args.access === "read-only" ? "exporter (read-only)" : "runner")} in ${args.namespace}/${args.serviceAccountName}`,
        assumeRolePolicy,
        maxSessionDuration: 3600,
      },
      parent,
    );
    new aws.iam.RolePolicy(
      `${name}-policy`,
      {
        role: this.role.id,
        policy: pulumi
          .all([args.bucketArn, args.kmsKeyArn, region, args.runSummaryTopicArn])
          .apply(([bucketArn, kmsKeyArn, r, runSummaryTopicArn]) =>
            JSON.stringify(permissions(args, { bucketArn, kmsKeyArn, region: r, runSummaryTopicArn })),
          ),
      },
      parent,
    );

    if (args.identity.kind === "podIdentity") {
      new aws.eks.PodIdentityAssociation(
        `${name}-pod-identity`,
        {
          clusterName: args.identity.clusterName,
          namespace: args.namespace,
          serviceAccount: args.serviceAccountName,
          roleArn: this.role.arn,
          // The trust policy's conditions read the session tags: they must stay on.
          disableSessionTags: false,
        },
        parent,
      );
    }

    this.serviceAccount = new k8s.core.v1.ServiceAccount(
      `${name}-service-account`,
      {
        metadata: {
          name: args.serviceAccountName,
          namespace: args.namespace,
          labels: args.labels,
          ...(args.identity.kind === "irsa" ? { annotations: { "eks.amazonaws.com/role-arn": this.role.arn } } : {}),
        },
      },
      parent,
    );

    this.registerOutputs({ roleArn: this.role.arn, serviceAccountName: args.serviceAccountName });
  }
}

/** Who may assume the role: the service account through IRSA's OIDC provider, or EKS Pod Identity. */
function trustPolicy(
  args: BackupIdentityArgs,
  region: pulumi.Output<string>,
  parent: pulumi.InvokeOutputOptions,
): pulumi.Output<string> {
  if (args.identity.kind === "irsa")
    return pulumi.output(
      JSON.stringify(irsaTrustPolicy(args.identity.oidcProviderArn, args.namespace, args.serviceAccountName)),
    );
  const clusterName = args.identity.clusterName;
  const caller = aws.getCallerIdentityOutput({}, parent);
  return pulumi
    .all([caller.accountId, caller.arn, region])
    .apply(([accountId, arn, r]) =>
      JSON.stringify(
        podIdentityTrustPolicy(eksClusterArn(arn, r, accountId, clusterName), args.namespace, args.serviceAccountName),
      ),
    );
}

/** What the role may do: the given policy, the exporter's read-only one, or the runner's. */
function permissions(
  args: BackupIdentityArgs,
  resolved: { bucketArn: string; kmsKeyArn: string; region: string; runSummaryTopicArn: string | undefined },
): PolicyDocument {
  const { bucketArn, kmsKeyArn, region, runSummaryTopicArn } = resolved;
  if (args.policy) return args.policy({ bucketArn, kmsKeyArn, region });
  if (args.access === "read-only") return readerPolicy({ bucketArn, kmsKeyArn, region, keyPrefix: args.keyPrefix });
  return runnerPolicy({
    bucketArn,
    kmsKeyArn,
    region,
    keyPrefix: args.keyPrefix,
    objectLock: args.objectLock,
    cloudwatchNamespace: args.cloudwatchNamespace,
    runSummaryTopicArn,
  });
}
