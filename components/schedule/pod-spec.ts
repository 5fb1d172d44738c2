/**
 * The runner pod: Pod Security "restricted" plus a read-only root filesystem, the media volume
 * read-only, the password only through a secretKeyRef, and requests and limits. Typed against the
 * Kubernetes 1.33 schema (kubernetes-models, type-only) so an unknown field fails the type check.
 */
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import type { IEnvVar } from "kubernetes-models/v1/EnvVar";
import { DATABASE_CA_DIR, DATABASE_CA_FILE, type RunnerEnv, type RunnerEnvName } from "../../runner/src/contract.js";
import { PASSWORD_ENV } from "./runner-env.js";

export const CONTAINER_NAME = "runner";
export const TMP_DIR = "/tmp";

export interface MediaMount {
  pvcName: string;
  mountPath: string;
  subPath?: string;
  /** Backups only read the media; a restore Job writes it. Default true. */
  readOnly?: boolean;
  /**
   * Labels of the application pod that mounts a ReadWriteOnce volume. A second pod can only mount
   * such a volume on the same node, so the backup pod must be scheduled next to it.
   */
  colocateWith?: Record<string, string>;
}

/** The database's CA bundle: one key of an existing ConfigMap or Secret (stack config database.caBundle). */
export type DatabaseCa = { configMapName: string; key: string } | { secretName: string; key: string };

export interface Resources {
  requests: { cpu: string; memory: string };
  limits: { cpu: string; memory: string };
}

export interface PodSettings {
  image: string;
  args: string[];
  /** Per-workload runner variables; shared ones come from the ConfigMap. */
  env: RunnerEnv;
  serviceAccountName: string;
  configMapName: string;
  /** The database password's Secret; unset for pods that never connect (the status CronJob). */
  passwordSecret?: { name: string; key: string };
  /**
   * The role to connect as, when it is not the ConfigMap's PGUSER (the restore Job's own role);
   * its password comes from `passwordSecret`.
   */
  databaseUser?: string;
  /**
   * Runner variables read from a Secret (URLs that carry tokens). `optional`: the pod starts even
   * when the Secret or the key does not exist, and the variable is then simply unset.
   */
  secretEnv?: SecretEnv[];
  media?: MediaMount;
  /** Mounted read-only at DATABASE_CA_DIR in every pod; the ConfigMap's PGSSLROOTCERT names the file. */
  databaseCa?: DatabaseCa;
  resources: Resources;
  tmpSizeLimit: string;
  /** A separate emptyDir for work that needs room (the drill's temporary media copy). */
  scratch?: { mountPath: string; sizeLimit: string };
  runAsUser: number;
  runAsGroup: number;
  supplementalGroups: number[];
  /**
   * The age identity (private key) for encrypted sets, mounted from its Secret as a file and named
   * by AGE_IDENTITY_FILE. Only pods that decrypt get it: the drill and the restore Job.
   */
  ageIdentity?: { secretName: string; key: string };
  /**
   * The content store's key (MEDIA_STORE_KEY), mounted from its Secret as a file and named by
   * MEDIA_STORE_KEY_FILE. Only backup pods get it: it names new objects, nothing reads with it.
   */
  storeKey?: { secretName: string; key: string };
}

/** Where the age identity's Secret is mounted, and the file AGE_IDENTITY_FILE names. */
export const AGE_IDENTITY_DIR = "/run/secrets/edms-age";
export const AGE_IDENTITY_FILE = `${AGE_IDENTITY_DIR}/identity`;
/** Where the store key's Secret is mounted, and the file MEDIA_STORE_KEY_FILE names. */
export const STORE_KEY_DIR = "/run/secrets/edms-store-key";
export const STORE_KEY_FILE = `${STORE_KEY_DIR}/key`;

export interface SecretEnv {
  name: RunnerEnvName;
  secretName: string;
  key: string;
  optional: boolean;
}

function envVars(env: RunnerEnv): IEnvVar[] {
  return Object.entries(env)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => ({ name, value }));
}

/** The pod's volumes and the container's mounts: scratch space, the CA, key files, the media. */
function podVolumes(s: PodSettings) {
  const volumes: NonNullable<IPodSpec["volumes"]> = [{ name: "tmp", emptyDir: { sizeLimit: s.tmpSizeLimit } }];
  const mounts: Array<{ name: string; mountPath: string; readOnly?: boolean; subPath?: string }> = [
    { name: "tmp", mountPath: TMP_DIR },
  ];
  if (s.scratch) {
    volumes.push({ name: "scratch", emptyDir: { sizeLimit: s.scratch.sizeLimit } });
    mounts.push({ name: "scratch", mountPath: s.scratch.mountPath });
  }
  if (s.databaseCa) {
    // Only the one key, under a fixed name: the key is the operator's, the path is the contract's.
    const items = [{ key: s.databaseCa.key, path: DATABASE_CA_FILE }];
    volumes.push(
      "configMapName" in s.databaseCa
        ? { name: "database-ca", configMap: { name: s.databaseCa.configMapName, items, defaultMode: 0o444 } }
        : { name: "database-ca", secret: { secretName: s.databaseCa.secretName, items, defaultMode: 0o444 } },
    );
    mounts.push({ name: "database-ca", mountPath: DATABASE_CA_DIR, readOnly: true });
  }
  // One key of a Secret as a file, readable by the runner's non-root user (no fsGroup, see below);
  // the pod has no other container.
  const secretFile = (name: string, ref: { secretName: string; key: string }, dir: string, file: string) => {
    volumes.push({
      name,
      secret: { secretName: ref.secretName, items: [{ key: ref.key, path: file }], defaultMode: 0o444 },
    });
    mounts.push({ name, mountPath: dir, readOnly: true });
  };
  if (s.ageIdentity) secretFile("age-identity", s.ageIdentity, AGE_IDENTITY_DIR, "identity");
  if (s.storeKey) secretFile("store-key", s.storeKey, STORE_KEY_DIR, "key");
  if (s.media) {
    const readOnly = s.media.readOnly ?? true;
    volumes.push({ name: "media", persistentVolumeClaim: { claimName: s.media.pvcName, readOnly } });
    mounts.push({
      name: "media",
      mountPath: s.media.mountPath,
      readOnly,
      ...(s.media.subPath ? { subPath: s.media.subPath } : {}),
    });
  }
  return { volumes, mounts };
}

/** The container's own variables: the stack's settings, the mounted files' paths, secrets by reference. */
function containerEnv(s: PodSettings): IEnvVar[] {
  return [
    ...envVars({
      ...s.env,
      ...(s.ageIdentity ? { AGE_IDENTITY_FILE } : {}),
      ...(s.storeKey ? { MEDIA_STORE_KEY_FILE: STORE_KEY_FILE } : {}),
    }),
    ...(s.secretEnv ?? []).map((e) => ({
      name: e.name,
      valueFrom: { secretKeyRef: { name: e.secretName, key: e.key, optional: e.optional } },
    })),
    // A container's env wins over its envFrom: the restore Job's role replaces the ConfigMap's.
    ...(s.databaseUser ? [{ name: "PGUSER", value: s.databaseUser }] : []),
    ...(s.passwordSecret
      ? [
          {
            name: PASSWORD_ENV,
            valueFrom: { secretKeyRef: { name: s.passwordSecret.name, key: s.passwordSecret.key } },
          },
        ]
      : []),
    // Node and the AWS SDK look for a home directory; the root filesystem is read-only.
    { name: "HOME", value: TMP_DIR },
  ];
}

export function podSpec(s: PodSettings): IPodSpec {
  if (s.runAsUser === 0) throw new Error("the runner must not run as root (runAsUser 0)");
  const { volumes, mounts } = podVolumes(s);
  const spec: IPodSpec = {
    restartPolicy: "Never",
    serviceAccountName: s.serviceAccountName,
    // Service links would add dozens of unrelated variables to the runner's environment.
    enableServiceLinks: false,
    // Gives the runner time to abort its multipart uploads after SIGTERM.
    terminationGracePeriodSeconds: 120,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: s.runAsUser,
      runAsGroup: s.runAsGroup,
      seccompProfile: { type: "RuntimeDefault" },
      // No fsGroup: it would make the kubelet change ownership of the application's media volume.
      ...(s.supplementalGroups.length > 0 ? { supplementalGroups: s.supplementalGroups } : {}),
    },
    containers: [
      {
        name: CONTAINER_NAME,
        image: s.image,
        imagePullPolicy: "IfNotPresent",
        args: s.args,
        envFrom: [{ configMapRef: { name: s.configMapName } }],
        env: containerEnv(s),
        resources: {
          requests: { cpu: s.resources.requests.cpu, memory: s.resources.requests.memory },
          limits: { cpu: s.resources.limits.cpu, memory: s.resources.limits.memory },
        },
        securityContext: {
          runAsNonRoot: true,
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          privileged: false,
          capabilities: { drop: ["ALL"] },
        },
        volumeMounts: mounts,
      },
    ],
    volumes,
  };
  if (s.media?.colocateWith) {
    spec.affinity = {
      podAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: [
          { labelSelector: { matchLabels: s.media.colocateWith }, topologyKey: "kubernetes.io/hostname" },
        ],
      },
    };
  }
  return spec;
}
