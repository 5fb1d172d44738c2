// The Secrets the stack itself creates (the content store's key), as the cluster would hold them:
// name -> key -> value, secret values unwrapped. For the tests that run the rendered pods, which
// add the Secrets the operator creates (database password, age identity) themselves.
// No vitest imports.
import { unwrapSecrets } from "../components/k8s-validation.js";
import { ofType, type StackRun } from "../components/stack-harness.js";

export function stackSecrets(run: StackRun): Record<string, Record<string, string>> {
  return Object.fromEntries(
    ofType(run, "kubernetes:core/v1:Secret").map((secret) => {
      const inputs = unwrapSecrets(secret.inputs) as {
        metadata: { name: string };
        stringData?: Record<string, string>;
        data?: Record<string, string>;
      };
      const decoded = Object.entries(inputs.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString()]);
      return [inputs.metadata.name, { ...Object.fromEntries(decoded), ...inputs.stringData }];
    }),
  );
}
