/**
 * The content store's key (MEDIA_STORE_KEY, issue 22): the per-stack secret that names content
 * objects by a keyed hash, so a bucket listing never reveals a content hash. A Kubernetes Secret
 * the backup pods mount as a file (MEDIA_STORE_KEY_FILE); never in the ConfigMap, never in a pod
 * that does not back up. The value is a Pulumi secret (encrypted in the state).
 *
 * From stack config (`pulumi config set --secret mediaStoreKey ...`) when given; otherwise 32
 * random bytes generated here at the first deployment and kept: later runs generate a different
 * value that `ignoreChanges` discards, so the Secret keeps the first one. (No @pulumi/random: a
 * provider package and its plugin for one value; the Secret itself is the state that keeps it.)
 * Losing or changing the key loses nothing stored: the next backups store every file once more
 * under new names, and gc frees the old objects once no set references them.
 */
import { randomBytes } from "node:crypto";
import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

/** The Secret's key holding the store key. */
export const STORE_KEY_SECRET_KEY = "key";

export interface StoreKeyArgs {
  objectName: string;
  namespace: string;
  labels: Record<string, string>;
  /** From stack config (a Pulumi secret); unset = generate one and keep it. */
  value?: string;
}

export class StoreKey extends pulumi.ComponentResource {
  readonly secretName: string;
  readonly key = STORE_KEY_SECRET_KEY;

  constructor(name: string, args: StoreKeyArgs, opts?: pulumi.ComponentResourceOptions) {
    super("edms-backup:store:StoreKey", name, {}, opts);
    const generated = args.value === undefined;
    const value = args.value ?? randomBytes(32).toString("hex");
    const secret = new k8s.core.v1.Secret(
      `${name}-secret`,
      {
        metadata: { name: args.objectName, namespace: args.namespace, labels: args.labels },
        type: "Opaque",
        stringData: { [STORE_KEY_SECRET_KEY]: pulumi.secret(value) },
      },
      // A configured key is applied as given; a generated one is kept as first created.
      { parent: this, ignoreChanges: generated ? ["stringData", "data"] : [] },
    );
    this.secretName = args.objectName;
    this.registerOutputs({ secretName: secret.metadata.name });
  }
}
