/**
 * `podman run` arguments that reproduce how Kubernetes runs a rendered pod's container: its args,
 * its environment (ConfigMap `envFrom`, `env` values, `secretKeyRef`s), its volumes (emptyDir as a
 * sized tmpfs, a PVC as a host folder, read-only when the pod says so) and its security context
 * (user and groups, read-only root, no capabilities, no privilege escalation). Anything in the pod
 * this translation does not know fails loudly, so a new field in the rendered pod cannot be
 * silently skipped by the image test.
 */
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import path from "node:path";
import { writeKeyVolume } from "./key-volume.js";
import { containerEnv } from "./pod-env.js";

export interface PodRunInputs {
  pod: IPodSpec;
  image: string;
  /** The container name to pick (default: the only one). */
  container?: string;
  /** Replaces the container's args, as `kubectl run --overrides` or a Job from the same spec does. */
  args?: string[];
  configMaps: Record<string, Record<string, string>>;
  secrets: Record<string, Record<string, string>>;
  /** Host folder standing in for each PersistentVolumeClaim, by claim name. */
  claims: Record<string, string>;
  /** Where the files of Secret and ConfigMap volumes are written (a folder per volume), as the kubelet does. */
  keyVolumesDir: string;
  /**
   * Variables the cluster would provide outside the pod spec (the IRSA / Pod Identity credentials,
   * and here the local S3 endpoint), added last.
   */
  cloudEnv?: Record<string, string>;
  name: string;
}

export interface PodRun {
  /** Arguments after `podman`. */
  args: string[];
  /** The container's whole environment, as the pod would see it. */
  env: Record<string, string>;
  /**
   * The values read from Secrets (and cloud credentials): passed by name only (`--env NAME`), so
   * give them to podman's own environment; no secret appears on a command line.
   */
  secretEnv: Record<string, string>;
}

const QUANTITY = /^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/;
const FACTORS: Record<string, number> = {
  "": 1,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: 1024 ** 3,
  Ti: 1024 ** 4,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
};

/** A Kubernetes byte quantity ("1Gi", "512Mi") in bytes. */
export function bytesOf(quantity: string): number {
  const m = QUANTITY.exec(quantity);
  if (!m) throw new Error(`unsupported quantity ${JSON.stringify(quantity)}`);
  return Number(m[1]) * FACTORS[m[2] ?? ""]!;
}

/** A Kubernetes CPU quantity ("2", "250m") in CPUs. */
export function cpusOf(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(m)?$/.exec(quantity);
  if (!m) throw new Error(`unsupported CPU quantity ${JSON.stringify(quantity)}`);
  return m[2] ? Number(m[1]) / 1000 : Number(m[1]);
}

function pickContainer(pod: IPodSpec, name?: string): IContainer {
  const containers = pod.containers;
  if (pod.initContainers?.length) throw new Error("init containers are not translated");
  const found = name ? containers.find((c) => c.name === name) : containers.length === 1 ? containers[0] : undefined;
  if (!found)
    throw new Error(`no container ${name ?? "(the only one)"} in ${containers.map((c) => c.name).join(", ")}`);
  return found;
}

export async function podRun(i: PodRunInputs): Promise<PodRun> {
  const c = pickContainer(i.pod, i.container);
  const args = ["run", "--rm", "--name", i.name, "--pull=never", "--network", "host"];
  // Environment, in Kubernetes' order (envFrom, then env), as the rendered-pod test builds it too.
  const { env, fromSecrets: secret } = containerEnv(c, i);
  for (const [name, value] of Object.entries(i.cloudEnv ?? {})) {
    env[name] = value;
    secret.add(name);
  }

  // Security context: the container's settings override the pod's.
  const podSc = i.pod.securityContext ?? {};
  const sc = c.securityContext ?? {};
  const user = sc.runAsUser ?? podSc.runAsUser;
  const group = sc.runAsGroup ?? podSc.runAsGroup;
  if (user === undefined) throw new Error("no runAsUser: the image's USER would decide");
  if ((sc.runAsNonRoot ?? podSc.runAsNonRoot) && user === 0) throw new Error("runAsNonRoot with runAsUser 0");
  args.push("--user", group === undefined ? String(user) : `${user}:${group}`);
  for (const g of podSc.supplementalGroups ?? []) args.push("--group-add", String(g));
  if (podSc.fsGroup !== undefined) throw new Error("fsGroup is not translated");
  if (sc.readOnlyRootFilesystem) {
    // Kubernetes mounts no tmpfs the pod did not ask for; podman's --read-only would add some.
    args.push("--read-only", "--read-only-tmpfs=false");
  }
  if (sc.privileged) throw new Error("privileged containers are not translated");
  if (sc.allowPrivilegeEscalation === false) args.push("--security-opt", "no-new-privileges");
  for (const cap of sc.capabilities?.drop ?? []) args.push(`--cap-drop=${cap}`);
  for (const cap of sc.capabilities?.add ?? []) args.push(`--cap-add=${cap}`);
  const seccomp = sc.seccompProfile?.type ?? podSc.seccompProfile?.type;
  // podman's default seccomp profile is the runtime default.
  if (seccomp && seccomp !== "RuntimeDefault") throw new Error(`seccomp profile ${seccomp} is not translated`);

  // Resources: the limits are what the kernel enforces.
  const limits = c.resources?.limits ?? {};
  if (limits.memory !== undefined) args.push(`--memory=${bytesOf(String(limits.memory))}`);
  if (limits.cpu !== undefined) args.push(`--cpus=${cpusOf(String(limits.cpu))}`);

  // Volumes.
  const volumes = new Map((i.pod.volumes ?? []).map((v) => [v.name, v]));
  for (const m of c.volumeMounts ?? []) {
    const v = volumes.get(m.name);
    if (!v) throw new Error(`volumeMount ${m.name} has no volume`);
    if (v.emptyDir) {
      if (m.subPath) throw new Error(`emptyDir ${m.name} with subPath is not translated`);
      // An emptyDir is writable by anyone in the pod (mode 0777), empty at start, and sized.
      const size = v.emptyDir.sizeLimit === undefined ? "" : `,size=${bytesOf(String(v.emptyDir.sizeLimit))}`;
      args.push("--tmpfs", `${m.mountPath}:rw,exec,nosuid,nodev,mode=1777${size}`);
    } else if (v.persistentVolumeClaim) {
      const host = i.claims[v.persistentVolumeClaim.claimName];
      if (!host) throw new Error(`no host folder for PVC ${v.persistentVolumeClaim.claimName}`);
      const readOnly = m.readOnly || v.persistentVolumeClaim.readOnly;
      const source = m.subPath ? `${host.replace(/\/+$/, "")}/${m.subPath}` : host;
      args.push("--volume", `${source}:${m.mountPath}:${readOnly ? "ro" : "rw"}`);
    } else if (v.secret || v.configMap) {
      if (m.subPath) throw new Error(`${m.name} with subPath is not translated`);
      const kind = v.secret ? "Secret" : "ConfigMap";
      const source = v.secret
        ? { ...v.secret, name: v.secret.secretName ?? "" }
        : { ...v.configMap!, name: v.configMap!.name ?? "" };
      const folder = path.join(i.keyVolumesDir, `${i.name}-${m.name}`);
      await writeKeyVolume(kind, source, (kind === "Secret" ? i.secrets : i.configMaps)[source.name], folder);
      // The kubelet mounts Secret and ConfigMap volumes read-only, whatever the mount says.
      args.push("--volume", `${folder}:${m.mountPath}:ro`);
    } else {
      throw new Error(`volume ${m.name}: only emptyDir, persistentVolumeClaim, Secret and ConfigMap are translated`);
    }
  }

  if (c.command?.length) throw new Error("a command override is not translated (the image's entrypoint runs)");
  if (c.workingDir) args.push("--workdir", c.workingDir);
  const secretEnv: Record<string, string> = {};
  for (const name of Object.keys(env).sort()) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new Error(`env name ${JSON.stringify(name)} is not portable`);
    if (secret.has(name)) {
      args.push("--env", name);
      secretEnv[name] = env[name]!;
    } else {
      args.push("--env", `${name}=${env[name]}`);
    }
  }
  args.push(i.image, ...(i.args ?? c.args ?? []));
  return { args, env, secretEnv };
}
