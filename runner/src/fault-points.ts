/**
 * Named points inside multi-step operations (the undo's swap) where a test stops the real
 * process, to prove that a failure or a signal at each step loses nothing. Production runs never
 * set EDMS_FAULT_POINT, and then a point costs one property read. Set by test/e2e only:
 *   EDMS_FAULT_POINT=<point>:fail          the step throws ("injected failure at <point>")
 *   EDMS_FAULT_POINT=<point>:pause:<file>  the run writes <file> and waits until it is removed
 *                                          (the test sends SIGTERM or SIGKILL meanwhile)
 * Deliberately outside the env contract: no stack or pod sets it.
 */
import { access, writeFile } from "node:fs/promises";

export async function faultPoint(name: string): Promise<void> {
  const spec = process.env.EDMS_FAULT_POINT;
  if (!spec) return;
  // The file may hold colons; the point's name does not.
  const [point, action] = spec.split(":", 2);
  const file = spec.split(":").slice(2).join(":");
  if (point !== name) return;
  if (action === "fail") throw new Error(`injected failure at ${name}`);
  if (action === "pause" && file) {
    await writeFile(file, `${process.pid}\n`);
    for (;;) {
      const present = await access(file).then(
        () => true,
        () => false,
      );
      if (!present) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}
