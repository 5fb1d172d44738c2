/**
 * Runs the real index.ts under Pulumi's mocks with a stack's config from Pulumi.<stack>.yaml
 * (optionally changed), records every resource registered and every provider function called.
 * Import this, then call `runStack` from `beforeAll`: index.ts must load after the mocks are set.
 */
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks.js";
import { asPulumiConfig, readStackFile } from "../../components/config/stack-file.js";
import { ALLOW_EXAMPLE_ENV } from "../../components/config/example-values.js";

// The tests render the repository's Pulumi.prod.yaml, example values and all, on purpose; a real
// `pulumi up` refuses them (components/config/example-values.ts, test/components/example-config.test.ts).
process.env[ALLOW_EXAMPLE_ENV] ??= "allow";

export const ACCOUNT = "123456789012";
export const REGION = "ap-southeast-1";
export const FAKE_DIGEST = `sha256:${"ab12".repeat(16)}`;
export const REPO_ROOT = path.resolve(__dirname, "../..");

export interface Recorded {
  type: string;
  name: string;
  custom: boolean;
  /** The provider reference the engine would receive (`urn::id`); unset = the default provider. */
  provider?: string;
  // Inputs as the engine would receive them: plain JSON after every Output resolved.
  inputs: Record<string, unknown>;
}

export interface StackRun {
  resources: Recorded[];
  /** Every URN registered, as the engine forms it (the parent chain in the type), in order. */
  urns: string[];
  calls: string[];
  outputs: Record<string, unknown>;
  config: Record<string, unknown>;
}

function state(type: string, name: string, inputs: Record<string, unknown>): Record<string, unknown> {
  switch (type) {
    case "aws:s3/bucket:Bucket": {
      const bucket = `${String(inputs.bucketPrefix ?? name)}20260111abcdef`;
      return { ...inputs, bucket, arn: `arn:aws:s3:::${bucket}` };
    }
    case "aws:kms/key:Key":
      return {
        ...inputs,
        arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`,
        keyId: "11111111-2222-3333-4444-555555555555",
      };
    case "aws:ecr/repository:Repository":
      return {
        ...inputs,
        name,
        registryId: ACCOUNT,
        repositoryUrl: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com/${name}`,
      };
    case "docker:index/image:Image": {
      const imageName = String(inputs.imageName);
      return { ...inputs, repoDigest: `${imageName.split(":")[0]}@${FAKE_DIGEST}` };
    }
    case "aws:sns/topic:Topic":
      return { ...inputs, arn: `arn:aws:sns:${REGION}:${ACCOUNT}:${String(inputs.namePrefix ?? name)}20260111abcdef` };
    case "aws:iam/role:Role":
      return { ...inputs, arn: `arn:aws:iam::${ACCOUNT}:role/${name}`, name };
    default:
      return { ...inputs };
  }
}

/** `changes` replaces top-level `edms-backup:` keys; `undefined` removes a key. */
export async function runStack(stack: string, changes: Record<string, unknown> = {}): Promise<StackRun> {
  const file = readStackFile(REPO_ROOT, stack);
  const config: Record<string, unknown> = { ...file.config };
  for (const [key, value] of Object.entries(changes)) {
    const full = `${file.project}:${key}`;
    if (value === undefined) delete config[full];
    else config[full] = value;
  }
  const resources: Recorded[] = [];
  const calls: string[] = [];
  const urns: string[] = [];
  recordUrns(urns);
  pulumi.runtime.setAllConfig(asPulumiConfig(config), file.secretKeys);
  await pulumi.runtime.setMocks(
    {
      newResource(args) {
        resources.push({
          type: args.type,
          name: args.name,
          custom: args.custom ?? true,
          provider: args.provider,
          inputs: args.inputs as Record<string, unknown>,
        });
        return { id: `${args.name}-id`, state: state(args.type, args.name, args.inputs as Record<string, unknown>) };
      },
      call(args) {
        calls.push(args.token);
        switch (args.token) {
          case "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            return {
              userName: "AWS",
              password: "ecr-token",
              proxyEndpoint: `https://${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`,
              authorizationToken: "QVdTOmVjci10b2tlbg==",
              expiresAt: "2026-01-12T00:00:00Z",
              id: REGION,
              region: REGION,
            };
          case "aws:index/getRegion:getRegion":
            return {
              name: REGION,
              region: REGION,
              id: REGION,
              description: "Asia Pacific (Singapore)",
              endpoint: `ec2.${REGION}.amazonaws.com`,
            };
          case "aws:index/getCallerIdentity:getCallerIdentity":
            return {
              accountId: ACCOUNT,
              arn: `arn:aws:iam::${ACCOUNT}:user/deployer`,
              userId: "AIDAEXAMPLE",
              id: ACCOUNT,
            };
          default:
            throw new Error(`unexpected provider function call ${args.token}`);
        }
      },
    },
    file.project,
    stack,
    false,
  );
  const program = (await import("../../index.js")) as Record<string, unknown>;
  const outputs: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(program)) {
    outputs[name] = pulumi.Output.isInstance(value)
      ? await new Promise((resolve) => (value as pulumi.Output<unknown>).apply(resolve))
      : value;
  }
  // Registrations finish asynchronously; wait until no new resource shows up.
  for (let seen = -1; seen !== resources.length;) {
    seen = resources.length;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { resources, urns, calls, outputs, config };
}

/**
 * The mock monitor names a child by its parent's last type only (`parent$child`); the engine
 * qualifies it by the whole chain (`grandparent$parent$child`), which is what a renamed or
 * re-parented component changes. Forming URNs as the engine does, from the parent's own URN,
 * makes the recorded URNs the ones `pulumi up` would compare.
 */
function recordUrns(into: string[]): void {
  const monitor = MockMonitor.prototype as unknown as { newUrn(parent: string, type: string, name: string): string };
  monitor.newUrn = (parent, type, name) => {
    const qualified = parent ? `${parent.split("::")[2]}$${type}` : type;
    const urn = `urn:pulumi:${pulumi.getStack()}::${pulumi.getProject()}::${qualified}::${name}`;
    into.push(urn);
    return urn;
  };
}

/** Navigates recorded (plain JSON) inputs without `any`. */
export function at(value: unknown, ...path: Array<string | number>): unknown {
  let current = value;
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

export function ofType(run: StackRun, type: string): Recorded[] {
  return run.resources.filter((r) => r.type === type);
}

export function one(run: StackRun, type: string, name: string): Recorded {
  const found = run.resources.find((r) => r.type === type && r.name === name);
  if (!found)
    throw new Error(`no ${type} named ${name}; have ${run.resources.map((r) => `${r.type} ${r.name}`).join(", ")}`);
  return found;
}
