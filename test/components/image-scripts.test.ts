/**
 * The pure parts of `npm run test:image`: which Debian mirror the offline base image is made from
 * (read from this machine's apt sources, never written into the repository), and how a rendered
 * pod becomes a `podman run` (anything it cannot reproduce must fail, not be skipped).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { afterAll, describe, expect, it } from "vitest";
import { debianMirror, parseDeb822, parseOneLine, readAptSources } from "../image/apt-mirror.js";
import { bytesOf, cpusOf, podRun, type PodRunInputs } from "../image/pod-run.js";
import { AGE_IDENTITY_DIR, podSpec } from "../../components/schedule/pod-spec.js";

describe("the Debian mirror for the base image", () => {
  const deb822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian/
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main
`;

  it("takes the main suite's mirror from deb822 sources, not the security one", () => {
    expect(debianMirror(parseDeb822(deb822), "bookworm")).toBe("http://mirror.example/debian");
    expect(debianMirror(parseDeb822(deb822), "trixie")).toBeUndefined();
  });

  it("skips disabled stanzas, deb-src and non-main components; reads one-line sources with options", () => {
    const disabled = `Types: deb\nURIs: http://off.example/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n\n${deb822}`;
    expect(debianMirror(parseDeb822(disabled), "bookworm")).toBe("http://mirror.example/debian");
    const src = `Types: deb-src\nURIs: http://src.example/debian\nSuites: bookworm\nComponents: main\n`;
    expect(debianMirror(parseDeb822(src), "bookworm")).toBeUndefined();
    const lines = [
      "# deb http://commented.example/debian bookworm main",
      "deb-src http://src.example/debian bookworm main",
      "deb http://contrib.example/debian bookworm contrib",
      "deb [signed-by=/usr/share/keyrings/x.gpg arch=amd64] https://one.example/debian bookworm main non-free # note",
    ].join("\n");
    expect(parseOneLine(lines)).toEqual([
      { uri: "http://contrib.example/debian", suites: ["bookworm"], components: ["contrib"] },
      { uri: "https://one.example/debian", suites: ["bookworm"], components: ["main", "non-free"] },
    ]);
    expect(debianMirror(parseOneLine(lines), "bookworm")).toBe("https://one.example/debian");
  });

  it("reads only the files apt reads (sources.list, *.list, *.sources)", () => {
    const root = mkdtempSync(path.join(tmpdir(), "edms-apt-"));
    try {
      mkdirSync(path.join(root, "sources.list.d"));
      writeFileSync(
        path.join(root, "sources.list.d", "a.list.disabled"),
        "deb http://disabled.example/d bookworm main\n",
      );
      writeFileSync(path.join(root, "sources.list.d", "b.sources"), deb822);
      expect(debianMirror(readAptSources(root), "bookworm")).toBe("http://mirror.example/debian");
      writeFileSync(path.join(root, "sources.list"), "deb http://first.example/debian bookworm main\n");
      expect(debianMirror(readAptSources(root), "bookworm")).toBe("http://first.example/debian");
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("a rendered pod as a podman run", () => {
  const pod = podSpec({
    image: "registry/edms@sha256:" + "a".repeat(64),
    args: ["backup", "--tier", "daily"],
    env: { BACKUP_TIER: "daily" },
    serviceAccountName: "edms-backup",
    configMapName: "edms-backup",
    passwordSecret: { name: "edms-db", key: "password" },
    secretEnv: [{ name: "HEALTHCHECK_URL", secretName: "notify", key: "hc", optional: true }],
    media: { pvcName: "edms-media", mountPath: "/media", subPath: "files" },
    resources: { requests: { cpu: "250m", memory: "512Mi" }, limits: { cpu: "1500m", memory: "1Gi" } },
    tmpSizeLimit: "1Gi",
    runAsUser: 10001,
    runAsGroup: 10002,
    supplementalGroups: [33],
    ageIdentity: { secretName: "edms-age", key: "key.txt" },
  });
  const keyVolumesDir = mkdtempSync(path.join(tmpdir(), "edms-pod-run-"));
  afterAll(() => rmSync(keyVolumesDir, { recursive: true, force: true }));
  const inputs: PodRunInputs = {
    pod,
    image: "localhost/runner:x",
    name: "t",
    configMaps: { "edms-backup": { PGHOST: "db", BACKUP_TIER: "from-configmap", LOG_FORMAT: "json" } },
    secrets: {
      "edms-db": { password: "s3cr3t $(touch /x) 'q'" },
      "edms-age": { "key.txt": "AGE-SECRET-KEY-1TEST\n", other: "not selected" },
    },
    claims: { "edms-media": "/srv/media/" },
    cloudEnv: { AWS_ACCESS_KEY_ID: "key" },
    keyVolumesDir,
  };

  it("reproduces the pod's user, groups, read-only root, capabilities, limits, mounts and environment", async () => {
    const { args, env, secretEnv } = await podRun(inputs);
    const line = args.join(" ");
    expect(line).toContain("--user 10001:10002 --group-add 33");
    expect(line).toContain("--read-only --read-only-tmpfs=false");
    expect(line).toContain("--security-opt no-new-privileges --cap-drop=ALL");
    expect(line).toContain("--memory=1073741824 --cpus=1.5");
    expect(line).toContain("--tmpfs /tmp:rw,exec,nosuid,nodev,mode=1777,size=1073741824");
    expect(line).toContain("--volume /srv/media/files:/media:ro");
    expect(args.slice(-4)).toEqual(["localhost/runner:x", "backup", "--tier", "daily"]);
    // env wins over envFrom, as in Kubernetes; an optional Secret that is missing leaves it unset.
    expect(env.BACKUP_TIER).toBe("daily");
    expect(env.HOME).toBe("/tmp");
    expect(env).not.toHaveProperty("HEALTHCHECK_URL");
    // Secrets go by name only.
    expect(secretEnv).toEqual({ PGPASSWORD: "s3cr3t $(touch /x) 'q'", AWS_ACCESS_KEY_ID: "key" });
    expect(line).not.toContain("s3cr3t");
    expect(args).toContain("PGPASSWORD");
    expect(args).toContain("PGHOST=db");
  });

  it("writes a Secret volume's selected keys as the kubelet does (item path, defaultMode) and mounts it read-only", async () => {
    const { args } = await podRun(inputs);
    const folder = path.join(keyVolumesDir, "t-age-identity");
    expect(args.join(" ")).toContain(`--volume ${folder}:${AGE_IDENTITY_DIR}:ro`);
    expect(readFileSync(path.join(folder, "identity"), "utf8")).toBe("AGE-SECRET-KEY-1TEST\n");
    expect(statSync(path.join(folder, "identity")).mode & 0o777).toBe(0o444);
    expect(() => statSync(path.join(folder, "other"))).toThrow(/ENOENT/);
  });

  it("takes the args a Job from the same spec is given", async () => {
    const { args } = await podRun({ ...inputs, args: ["verify", "latest"] });
    expect(args.slice(-3)).toEqual(["localhost/runner:x", "verify", "latest"]);
  });

  const change = (f: (p: IPodSpec) => IPodSpec): PodRunInputs => ({ ...inputs, pod: f(structuredClone(pod)) });
  it.each<[string, PodRunInputs, RegExp]>([
    ["a missing required Secret", { ...inputs, secrets: {} }, /Secret edms-db key password is missing/],
    ["a missing ConfigMap", { ...inputs, configMaps: {} }, /ConfigMap edms-backup is missing/],
    [
      "a missing identity Secret",
      { ...inputs, secrets: { "edms-db": inputs.secrets["edms-db"]! } },
      /Secret edms-age is not a test object/,
    ],
    ["a PVC without a host folder", { ...inputs, claims: {} }, /no host folder for PVC edms-media/],
    [
      "a hostPath volume",
      change((p) => ({
        ...p,
        volumes: p.volumes!.map((v) => (v.name === "tmp" ? { name: "tmp", hostPath: { path: "/x" } } : v)),
      })),
      /only emptyDir, persistentVolumeClaim, Secret and ConfigMap/,
    ],
    [
      "an env var from a field",
      change((p) => {
        p.containers[0]!.env!.push({ name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } });
        return p;
      }),
      /env NODE: only value, secretKeyRef and configMapKeyRef/,
    ],
    [
      "root with runAsNonRoot",
      change((p) => ({ ...p, securityContext: { ...p.securityContext, runAsUser: 0 } })),
      /runAsNonRoot with runAsUser 0/,
    ],
    [
      "a command override",
      change((p) => {
        p.containers[0]!.command = ["sh"];
        return p;
      }),
      /command override/,
    ],
  ])("refuses %s rather than run something else", async (_label, bad, message) => {
    await expect(podRun(bad)).rejects.toThrow(message);
  });

  it("reads Kubernetes quantities exactly", () => {
    expect(bytesOf("1Gi")).toBe(1073741824);
    expect(bytesOf("512Mi")).toBe(536870912);
    expect(bytesOf("20G")).toBe(20e9);
    expect(cpusOf("250m")).toBe(0.25);
    expect(cpusOf("2")).toBe(2);
    for (const bad of ["1.5Gi", "1gb", "", "-1Mi"]) expect(() => bytesOf(bad), bad).toThrow(/unsupported quantity/);
  });
});
