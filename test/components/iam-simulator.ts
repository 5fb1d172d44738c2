/**
 * Evaluates IAM documents the way AWS does, with @cloud-copilot/iam-simulate: identity policy +
 * resource policy (bucket policy, KMS key policy, role trust policy) + request context keys, per
 * action. It knows each action's resource types and condition keys (from AWS's service
 * authorization reference), so a condition on a key an action does not carry is never met, as in
 * AWS (the s3:prefix on s3:ListBucketMultipartUploads trap).
 *
 * Licence: iam-simulate and iam-policy are AGPL-3.0-or-later. They are devDependencies used only
 * by these tests: they never reach the runner bundle (esbuild bundles runner/src only), the image,
 * or an `npm ci --omit=dev` install of the Pulumi program, and we do not modify or offer them as a
 * network service, so the AGPL's conditions (which attach to distributing or serving the program
 * itself) do not reach this MIT package. We accept that; a user who redistributes the test tree
 * with node_modules must keep their licence texts, as with any dependency. Hand-writing an
 * evaluator instead would test our own beliefs about IAM, which is what these tests exist to avoid.
 */
import { createValidatedPolicy, validateTrustPolicy } from "@cloud-copilot/iam-policy";
import { runSimulation, runUnsafeSimulation, type Simulation } from "@cloud-copilot/iam-simulate";
import type { PolicyDocument } from "../../components/identity/iam-policies.js";

export type Decision = "Allowed" | "ExplicitlyDenied" | "ImplicitlyDenied";

export interface AwsCall {
  /** The IAM action the call is authorized as (HeadObject is s3:GetObject, UploadPart s3:PutObject). */
  action: string;
  resource: string;
  context: Record<string, string | string[]>;
}

export interface Documents {
  identityPolicy?: PolicyDocument;
  resourcePolicy?: PolicyDocument;
}

/** The decision AWS would make for `principal` calling `call`, or throws on an invalid request. */
export async function decide(principal: string, account: string, call: AwsCall, docs: Documents): Promise<Decision> {
  const simulation: Simulation = {
    request: {
      principal,
      action: call.action,
      resource: { resource: call.resource, accountId: account },
      contextVariables: call.context,
    },
    identityPolicies: docs.identityPolicy ? [{ name: "runner", policy: docs.identityPolicy }] : [],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: docs.resourcePolicy,
  };
  const result = await runSimulation(simulation, {});
  if (result.resultType === "error") {
    throw new Error(`invalid simulation of ${call.action}: ${JSON.stringify(result.errors)}`);
  }
  return result.overallResult as Decision;
}

/**
 * IRSA's trust conditions are named after the cluster's own OIDC issuer (`<issuer>:sub`), a key
 * family the evaluator's action data does not list, so its validating entry point would drop them
 * as unknown keys. This runs the same engine without that key filter (the trust policy itself is
 * still validated as a trust policy).
 */
export function decideWebIdentity(
  providerArn: string,
  roleArn: string,
  account: string,
  context: Record<string, string>,
  trust: PolicyDocument,
): Decision {
  const errors = validateTrustPolicy(trust);
  if (errors.length > 0) throw new Error(`invalid trust policy: ${JSON.stringify(errors)}`);
  const result = runUnsafeSimulation(
    {
      request: {
        principal: providerArn,
        action: "sts:AssumeRoleWithWebIdentity",
        resource: { resource: roleArn, accountId: account },
        contextVariables: context,
      },
      identityPolicies: [],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      resourcePolicy: createValidatedPolicy(trust, validateTrustPolicy, { name: "trust" }),
    },
    {},
  );
  return result;
}
