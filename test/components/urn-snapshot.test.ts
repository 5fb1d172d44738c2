// Every URN the prod stack registers, committed: a refactor that renames a resource or moves it
// under another parent would make the next `pulumi up` replace it (a new bucket, a new role), and
// fails here first. A deliberate change updates the file (`npx vitest run -u` on this test) in the
// same commit, with an alias in the code for anything that already exists in a deployed stack.
import { beforeAll, describe, expect, it } from "vitest";
import { runStack, type StackRun } from "./stack-harness.js";

let prod: StackRun;

beforeAll(async () => {
  prod = await runStack("prod");
});

describe("the prod stack's URNs", () => {
  it("are exactly the committed ones", async () => {
    expect(prod.urns.length).toBeGreaterThan(0);
    expect(new Set(prod.urns).size).toBe(prod.urns.length);
    await expect([...prod.urns].sort().join("\n") + "\n").toMatchFileSnapshot("./__snapshots__/prod-urns.txt");
  });
});
