/**
 * Every runner pod the stack renders, side by side: the CronJobs (each tier, adhoc, the drill,
 * status), the first status Job, the exported restore Job and the one-off `kubectl run` pods. They
 * all come from one factory (components/schedule/runner-pod.ts); this holds them to it, so a pod assembled
 * somewhere else, or a field added to one workload only, fails here: the same security context and
 * resources, the same environment source (the runner ConfigMap, contract names only, the same
 * Secret references), and each volume the same by purpose wherever it appears.
 * The prod stack with a database CA bundle, so every kind of volume is rendered.
 */
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { beforeAll, describe, expect, it } from "vitest";
import { AWS_ENV_NAMES, LIBPQ_ENV_NAMES } from "../../components/schedule/runner-env.js";
import { readStackFile } from "../../components/config/stack-file.js";
import { runnerEnvShape } from "../../runner/src/contract.js";
import { at, ofType, REPO_ROOT, runStack, type StackRun } from "./stack-harness.js";

const CA = { secretName: "edms-db-ca", key: "ca.crt" };
let run: StackRun;
let pods: Array<{ what: string; spec: IPodSpec }>;

/** The pod spec inside `kubectl run --overrides='<json>'` (shell-quoted with '\''). */
function overridesPod(command: string): IPodSpec {
  const quoted = /--overrides='((?:[^']|'\\'')*)'$/.exec(command);
  if (!quoted) throw new Error(`no --overrides in ${command}`);
  return (JSON.parse(quoted[1]!.replaceAll(`'\\''`, "'")) as { spec: IPodSpec }).spec;
}

beforeAll(async () => {
  const file = readStackFile(REPO_ROOT, "prod");
  const database = file.config[`${file.project}:database`] as Record<string, unknown>;
  run = await runStack("prod", { database: { ...database, caBundle: CA } });
  const commands = run.outputs.commands as Record<string, string>;
  pods = [
    ...ofType(run, "kubernetes:batch/v1:CronJob").map((c) => ({
      what: `CronJob ${c.name}`,
      spec: at(c.inputs, "spec", "jobTemplate", "spec", "template", "spec") as IPodSpec,
    })),
    ...ofType(run, "kubernetes:batch/v1:Job").map((j) => ({
      what: `Job ${j.name}`,
      spec: at(j.inputs, "spec", "template", "spec") as IPodSpec,
    })),
    ...["startRestore", "startUndoRestore", "startCleanup", "startCleanupNow"].map((name) => ({
      what: `the restore Job (commands.${name})`,
      spec: at(JSON.parse(commands[name]!.split("\n")[1]!), "spec", "template", "spec") as IPodSpec,
    })),
    { what: "commands.listBackups", spec: overridesPod(commands.listBackups!) },
    { what: "commands.status", spec: overridesPod(commands.status!) },
  ];
});

/** JSON with sorted keys: the engine's inputs and the exported manifests order keys differently. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

/** Each pod's value of `pick`, keyed by pod, and the distinct values among them. */
function distinct(pick: (spec: IPodSpec) => unknown): string[] {
  return [...new Set(pods.map((p) => canonical(pick(p.spec))))];
}

const container = (spec: IPodSpec) => spec.containers[0]!;
/** The pods that connect as database.restoreRole: the restore Job's four and the deploy check. */
const restoresAs = (what: string) => what.startsWith("the restore Job") || what === "Job edms-backup-deploy-check-job";

describe("every runner pod the stack renders", () => {
  it("is found: seven CronJobs (gc too), the first status Job, the deploy check, the restore, undo and two cleanup Jobs and two one-off commands", () => {
    expect(pods).toHaveLength(15);
    for (const p of pods) expect(p.spec.containers, p.what).toHaveLength(1);
  });

  it("has the same pod settings, security context, image, resources and container security", () => {
    const { containers: _c, volumes: _v, affinity: _a, ...podLevel } = pods[0]!.spec;
    expect(Object.keys(podLevel).sort()).toEqual([
      "enableServiceLinks",
      "restartPolicy",
      "securityContext",
      "serviceAccountName",
      "terminationGracePeriodSeconds",
    ]);
    // The service account too, but for gc's own (the only identity that may delete: content objects).
    expect(
      distinct(({ containers: _c, volumes: _v, affinity: _a, serviceAccountName, ...rest }) => ({
        ...rest,
        serviceAccountName: serviceAccountName === "edms-backup-gc" ? "edms-backup" : serviceAccountName,
      })),
    ).toHaveLength(1);
    expect(pods.filter((p) => p.spec.serviceAccountName === "edms-backup-gc").map((p) => p.what)).toEqual([
      "CronJob edms-backup-gc-cron",
    ]);
    expect(
      distinct((spec) => {
        const { args: _args, env: _env, volumeMounts: _mounts, ...rest } = container(spec);
        return rest;
      }),
    ).toHaveLength(1);
  });

  it("reads its settings from the runner ConfigMap and names only contract, libpq and AWS variables", () => {
    const runnerConfigMaps = ofType(run, "kubernetes:core/v1:ConfigMap").filter(
      (c) => at(c.inputs, "data", "PGSSLMODE") !== undefined,
    );
    expect(runnerConfigMaps).toHaveLength(1);
    const configMapName = at(runnerConfigMaps[0]!.inputs, "metadata", "name");
    const allowed = new Set<string>([...Object.keys(runnerEnvShape), ...LIBPQ_ENV_NAMES, ...AWS_ENV_NAMES, "HOME"]);
    const secretRefs = new Map<string, string>();
    for (const p of pods) {
      const c = container(p.spec);
      expect(c.envFrom, p.what).toEqual([{ configMapRef: { name: configMapName } }]);
      const env = c.env ?? [];
      expect(env.at(-1), p.what).toEqual({ name: "HOME", value: "/tmp" });
      for (const e of env) {
        expect(allowed.has(e.name), `${p.what}: ${e.name}`).toBe(true);
        expect(
          env.filter((other) => other.name === e.name),
          `${p.what}: ${e.name} twice`,
        ).toHaveLength(1);
        if (e.value !== undefined) continue;
        // A variable from a Secret is the same reference in every pod that has it, but for the
        // healthcheck URL's key: one per workload (healthcheckUrlKey), and the restore Job's
        // password: its own role's Secret (database.restoreRole), checked below.
        const secretKeyRef = e.valueFrom?.secretKeyRef;
        if (e.name === "PGPASSWORD" && restoresAs(p.what)) continue;
        if (e.name === "HEALTHCHECK_URL")
          expect(secretKeyRef?.key, p.what).toMatch(/^healthcheck-url-(daily|weekly|monthly|adhoc|drill)$/);
        const ref = canonical(e.name === "HEALTHCHECK_URL" ? { ...secretKeyRef, key: "-" } : e.valueFrom);
        expect(secretRefs.get(e.name) ?? ref, `${p.what}: ${e.name}`).toBe(ref);
        secretRefs.set(e.name, ref);
      }
      // The password is never a literal value.
      expect(env.find((e) => e.name === "PGPASSWORD")?.value, p.what).toBeUndefined();
    }
    expect([...secretRefs.keys()].sort()).toEqual(["HEALTHCHECK_URL", "NOTIFY_WEBHOOK_URL", "PGPASSWORD"]);
  });

  it("the restore Job (and the deploy check that proves it) alone connect as the restore role, with its own Secret", () => {
    expect(pods.filter((p) => restoresAs(p.what)).length).toBe(5);
    for (const p of pods) {
      const env = container(p.spec).env ?? [];
      const user = env.find((e) => e.name === "PGUSER");
      const password = env.find((e) => e.name === "PGPASSWORD")?.valueFrom?.secretKeyRef;
      if (restoresAs(p.what)) {
        expect(user).toEqual({ name: "PGUSER", value: "edms" });
        expect(password).toEqual({ name: "edms-db-owner", key: "password" });
      } else {
        // Everything else is the backup role of the ConfigMap (edms_backup) and the edms-db Secret.
        expect(user, p.what).toBeUndefined();
        if (password) expect(password, p.what).toEqual({ name: "edms-db", key: "password" });
      }
    }
  });

  it("the operator's `status` judges staleness as the status CronJob does (drill included)", () => {
    const statusEnv = (what: string) =>
      (container(pods.find((p) => p.what === what)!.spec).env ?? []).filter((e) => e.name.startsWith("STATUS_"));
    const cronJob = statusEnv("CronJob edms-backup-schedule-status");
    expect(cronJob.map((e) => e.name)).toContain("STATUS_DRILL_MAX_AGE_HOURS");
    expect(statusEnv("commands.status")).toEqual(cronJob);
  });

  it("mounts each volume the same way wherever it appears: tmp and the CA bundle in every pod", () => {
    const volumes = new Map<string, string>();
    const mounts = new Map<string, string>();
    for (const p of pods) {
      const c = container(p.spec);
      const podVolumes = p.spec.volumes ?? [];
      const podMounts = c.volumeMounts ?? [];
      expect(podMounts.map((m) => m.name).sort(), p.what).toEqual(podVolumes.map((v) => v.name).sort());
      expect(
        podMounts.map((m) => m.name),
        p.what,
      ).toEqual(expect.arrayContaining(["tmp", "database-ca"]));
      for (const v of podVolumes) {
        // Only the media volume's access differs: read-write for the restore Job alone.
        const normalized =
          v.name === "media" ? { ...v, persistentVolumeClaim: { ...v.persistentVolumeClaim!, readOnly: "-" } } : v;
        const json = canonical(normalized);
        expect(volumes.get(v.name) ?? json, `${p.what}: volume ${v.name}`).toBe(json);
        volumes.set(v.name, json);
      }
      for (const m of podMounts) {
        const json = canonical({ ...m, readOnly: m.name === "media" ? "-" : m.readOnly });
        expect(mounts.get(m.name) ?? json, `${p.what}: mount ${m.name}`).toBe(json);
        mounts.set(m.name, json);
        if (m.name === "media") expect(m.readOnly, p.what).toBe(!p.what.startsWith("the restore Job") ? true : false);
      }
    }
    expect([...volumes.keys()].sort()).toEqual(["age-identity", "database-ca", "media", "scratch", "store-key", "tmp"]);
  });

  it("is placed next to the application pod exactly when it mounts the media volume read-only", () => {
    for (const p of pods) {
      const media = container(p.spec).volumeMounts?.find((m) => m.name === "media");
      expect(p.spec.affinity !== undefined, p.what).toBe(media?.readOnly === true);
    }
  });
});
