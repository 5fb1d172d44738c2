/**
 * A store key chosen by the operator (`pulumi config set --secret mediaStoreKey ...`): the Secret
 * holds exactly that value, still as a Pulumi secret. Its own file, so index.ts is evaluated afresh.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { isPulumiSecret, unwrapSecrets } from "./k8s-validation.js";
import { at, one, runStack, type StackRun } from "./stack-harness.js";

const KEY = "5e2b".repeat(16);
let run: StackRun;
beforeAll(async () => {
  run = await runStack("prod", { mediaStoreKey: KEY });
});

describe("a stack with a configured store key", () => {
  it("puts that key in the Secret, as a Pulumi secret, and nowhere else", () => {
    const secret = one(run, "kubernetes:core/v1:Secret", "edms-backup-store-key-secret").inputs;
    expect(isPulumiSecret(secret.stringData)).toBe(true);
    expect(at(unwrapSecrets(secret), "stringData", "key")).toBe(KEY);
    const others = run.resources.filter((r) => r.type !== "kubernetes:core/v1:Secret");
    expect(JSON.stringify(others.map((r) => r.inputs))).not.toContain(KEY);
    expect(JSON.stringify(run.outputs)).not.toContain(KEY);
  });
});
