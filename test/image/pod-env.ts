/**
 * A rendered container's environment as the kubelet builds it: `envFrom` first (ConfigMaps and
 * Secrets, with their prefix), then `env` in order (later entries win; `$(VAR)` in a value sees
 * the entries before it), `secretKeyRef`/`configMapKeyRef` filled from the given objects, optional
 * references that are missing left unset. Shared by the rendered-pod test (a host process) and the
 * image test (podman): both stand in for the same kubelet behaviour. Anything else throws, so a
 * new kind of reference in the rendered pods cannot be silently skipped.
 */
import type { IContainer } from "kubernetes-models/v1/Container";

export interface EnvObjects {
  configMaps: Record<string, Record<string, string>>;
  secrets: Record<string, Record<string, string>>;
}

export interface ContainerEnv {
  env: Record<string, string>;
  /** Names whose value came from a Secret: podman passes them by name only, never on a command line. */
  fromSecrets: Set<string>;
}

/** Kubernetes' $(VAR) expansion in env values and args: defined names only, $$ escapes. */
export function expandVars(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name?: string) => {
    if (match === "$$") return "$";
    return name !== undefined && env[name] !== undefined ? env[name] : match;
  });
}

export function containerEnv(container: Pick<IContainer, "env" | "envFrom">, objects: EnvObjects): ContainerEnv {
  const env: Record<string, string> = {};
  const fromSecrets = new Set<string>();
  for (const from of container.envFrom ?? []) {
    const ref = from.configMapRef ?? from.secretRef;
    if (!ref || (from.configMapRef && from.secretRef))
      throw new Error("envFrom: only one configMapRef or secretRef per entry is translated");
    const kind = from.configMapRef ? "ConfigMap" : "Secret";
    const data = (from.configMapRef ? objects.configMaps : objects.secrets)[ref.name ?? ""];
    if (!data) {
      if (ref.optional) continue;
      throw new Error(`${kind} ${ref.name} is missing: the pod would not start`);
    }
    for (const [key, value] of Object.entries(data)) {
      const name = (from.prefix ?? "") + key;
      env[name] = value;
      if (from.secretRef) fromSecrets.add(name);
      else fromSecrets.delete(name);
    }
  }
  for (const e of container.env ?? []) {
    if (e.value !== undefined) {
      env[e.name] = expandVars(e.value, env);
      fromSecrets.delete(e.name);
      continue;
    }
    const secretRef = e.valueFrom?.secretKeyRef;
    const ref = secretRef ?? e.valueFrom?.configMapKeyRef;
    if (!ref || Object.keys(e.valueFrom ?? {}).length !== 1)
      throw new Error(`env ${e.name}: only value, secretKeyRef and configMapKeyRef are translated`);
    const kind = secretRef ? "Secret" : "ConfigMap";
    const value = (secretRef ? objects.secrets : objects.configMaps)[ref.name ?? ""]?.[ref.key];
    if (value === undefined) {
      if (ref.optional) continue;
      throw new Error(`env ${e.name}: ${kind} ${ref.name} key ${ref.key} is missing: the pod would not start`);
    }
    env[e.name] = value;
    if (secretRef) fromSecrets.add(e.name);
    else fromSecrets.delete(e.name);
  }
  return { env, fromSecrets };
}
