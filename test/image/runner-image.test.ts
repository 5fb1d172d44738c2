/**
 * `npm run test:image`: the runner image built from the context the Pulumi program generates, and
 * run with podman exactly as the rendered CronJobs run it (args, ConfigMap environment, Secret
 * references, read-only root, uid 10001, no capabilities, no privilege escalation, tmpfs /tmp, the
 * media volume read-only, resource limits), against a real PostgreSQL and moto_server: backup,
 * verify, drill, a restore, and a SIGTERM in the middle of an upload must behave as the README says.
 * Only the database's and the bucket's coordinates are replaced (they point at the test servers),
 * and the cloud's credentials and endpoints are added, as IRSA would add them.
 */
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import postgres from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { buildRunnerImage, type BuiltImage } from "./build.js";
import { podman, podmanEnv, runCommand, type CommandResult } from "./podman.js";
import { podRun, type PodRun } from "./pod-run.js";
import { readStackFile } from "../../components/config/stack-file.js";
import { one, ofType, REPO_ROOT, runStack, type StackRun } from "../components/stack-harness.js";
import { newAgeKey } from "../helpers/age-key.js";
import { run } from "../helpers/exec.js";
import { connectionUrl } from "../helpers/pg-cluster.js";
import { createTestDatabase, tableChecksums, type TestDatabase } from "../helpers/pg-test-db.js";
import { createTestBucket, type TestBucket } from "../helpers/s3-bucket.js";
import { makeMediaTree, mediaTreeDigest } from "../helpers/sample-data.js";
import { stackSecrets } from "../helpers/stack-secrets.js";
import {
  databaseStreamCompression,
  objectName,
  parseMediaReferences,
  STORE_OBJECT_KEY_RE,
  STORE_OBJECTS_PREFIX,
  runnerEnvSchema,
} from "../../runner/src/contract.js";
import { DEFAULT_DUMP_COMPRESSION } from "../../runner/src/settings/settings-table.js";
import { CHUNK_LOCKS_OBJECT } from "../../runner/src/media-store/chunk-locks.js";
import { SEGMENT_LIST_OBJECT, parseSegmentList } from "../../runner/src/media-store/segment-list.js";

const pg = inject("pg");
const s3Endpoint = inject("s3Endpoint");
// apt.postgresql.org is not reachable from the CI machines; EDMS_IMAGE_APT_SOURCE=pgdg tries it.
const APT_SOURCE = process.env.EDMS_IMAGE_APT_SOURCE ?? "debian";
const RUNNER_UID = 10001;

let stack: StackRun;
let image: BuiltImage;
let configMap: Record<string, string>;
let configMapName: string;
let passwordSecret: { name: string; key: string };
let restoreSecret: { name: string; key: string } | undefined;
let identitySecret: { name: string; key: string };
/** The age identity file's contents (what the identity Secret holds). */
let ageIdentity: string;
let db: TestDatabase;
let bucket: TestBucket;
let work: string;
let mediaDir: string;
const cleanups: Array<() => Promise<unknown>> = [];

/** Whether the rendered stack encrypts (it does when the config names recipients), and the dump's object name. */
const isEncrypted = (): boolean => Boolean(configMap.ENCRYPTION_RECIPIENTS);
/** The dump's stream compression as the runner reads the rendered ConfigMap (its default when unset). */
const dumpCompression = () =>
  databaseStreamCompression(runnerEnvSchema.parse(configMap).PG_DUMP_COMPRESSION ?? DEFAULT_DUMP_COMPRESSION);
const dumpObject = (): string => objectName("database", { compression: dumpCompression(), encrypted: isEncrypted() });

function log(line: string): void {
  process.stderr.write(`test:image: ${line}\n`);
}

/** The pod template of a rendered CronJob, by the name of its Pulumi resource. */
function cronJobPod(resource: string): IPodSpec {
  const cronJob = one(stack, "kubernetes:batch/v1:CronJob", resource).inputs as {
    spec: { jobTemplate: { spec: { template: { spec: IPodSpec } } } };
  };
  return cronJob.spec.jobTemplate.spec.template.spec;
}

function quote(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

/**
 * The application the stack describes: the tables and file columns its MEDIA_REFERENCES names
 * (Django FileFields: text holding paths relative to the media folder), each row naming a file
 * that is in the media folder, plus a table of ordinary rows.
 */
async function seedApplication(url: string, references: string): Promise<void> {
  const { columns, problems } = parseMediaReferences(references);
  expect(problems).toEqual([]);
  const files = (await mediaTreeDigest(mediaDir)).filter((e) => e.type === "file").map((e) => e.path);
  const tables = new Map<string, { schema?: string; table: string; columns: string[] }>();
  for (const c of columns) {
    const key = JSON.stringify([c.schema, c.table]);
    const entry = tables.get(key) ?? { schema: c.schema, table: c.table, columns: [] };
    entry.columns.push(c.column);
    tables.set(key, entry);
  }
  const client = new postgres.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query("CREATE TABLE app_event (id bigserial PRIMARY KEY, at timestamptz NOT NULL, note text)");
    await client.query(
      "INSERT INTO app_event (at, note) SELECT now() - i * interval '1 minute', 'event ' || i FROM generate_series(1, 5000) i",
    );
    for (const t of tables.values()) {
      if (t.schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${quote(t.schema)}`);
      const name = t.schema ? `${quote(t.schema)}.${quote(t.table)}` : quote(t.table);
      await client.query(
        `CREATE TABLE ${name} (id serial PRIMARY KEY, ${t.columns.map((c) => `${quote(c)} varchar(255)`).join(", ")})`,
      );
      for (const [i, file] of files.entries()) {
        const values = t.columns.map((_, j) => files[(i + j) % files.length]!);
        await client.query(
          `INSERT INTO ${name} (${t.columns.map(quote).join(", ")}) VALUES (${t.columns.map((_, j) => `$${j + 1}`).join(", ")})`,
          file === undefined ? [] : values,
        );
      }
    }
  } finally {
    await client.end();
  }
}

/** The stack's bucket has Object Lock when it declares a lock configuration (prod does). */
function stackLocksObjects(): boolean {
  return ofType(stack, "aws:s3/bucketObjectLockConfiguration:BucketObjectLockConfiguration").length > 0;
}

interface PodOptions {
  args?: string[];
  database?: string;
  claims?: Record<string, string>;
  bucket?: TestBucket;
  /** Test-only settings (e.g. a small part size), on top of the rendered environment. */
  extraEnv?: Record<string, string>;
}

function podmanRun(pod: IPodSpec, opts: PodOptions = {}): Promise<PodRun> {
  const keyPrefix = new URL(configMap.BACKUP_DESTINATION!).pathname.replace(/^\//, "");
  const target = opts.bucket ?? bucket;
  const name = `edms-image-test-${randomBytes(4).toString("hex")}`;
  return podRun({
    pod,
    image: image.name,
    name,
    args: opts.args,
    configMaps: {
      [configMapName]: {
        ...configMap,
        // The test servers instead of the production ones; everything else as rendered.
        PGHOST: pg.host,
        PGPORT: String(pg.port),
        PGUSER: pg.user,
        PGDATABASE: opts.database ?? db.name,
        BACKUP_DESTINATION: `s3://${target.name}/${keyPrefix}`,
        ...opts.extraEnv,
      },
    },
    secrets: {
      // The Secrets the stack creates itself (the content store's key, mounted by backup pods).
      ...stackSecrets(stack),
      [passwordSecret.name]: { [passwordSecret.key]: pg.password },
      // The restore role's own Secret (database.restoreRole): the role is created in beforeAll.
      ...(restoreSecret ? { [restoreSecret.name]: { [restoreSecret.key]: pg.password } } : {}),
      // The identity the restore drill mounts: the private half of the recipient the stack was given.
      [identitySecret.name]: { [identitySecret.key]: ageIdentity },
    },
    keyVolumesDir: work,
    claims: opts.claims ?? { "edms-media": mediaDir },
    cloudEnv: {
      // What IRSA / Pod Identity provide in the cluster, and the local S3 + CloudWatch endpoint.
      AWS_ACCESS_KEY_ID: "test",
      AWS_SECRET_ACCESS_KEY: "test",
      S3_ENDPOINT: s3Endpoint,
      AWS_ENDPOINT_URL_CLOUDWATCH: s3Endpoint,
      // The run summaries (Pulumi.prod.yaml's runSummary): to moto, never to AWS.
      AWS_ENDPOINT_URL_SNS: s3Endpoint,
    },
  });
}

interface PodResult extends CommandResult {
  logs: Array<Record<string, unknown>>;
}

function parseLogs(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function runPod(pod: IPodSpec, opts: PodOptions = {}): Promise<PodResult> {
  const { args, secretEnv } = await podmanRun(pod, opts);
  const r = await runCommand("podman", args, { env: { ...podmanEnv(), ...secretEnv } });
  return { ...r, logs: parseLogs(r.stdout) };
}

/** The pod of the restore Job in the stack's `commands.startRestore` (its manifest is the heredoc's one line). */
function restoreJobPod(): IPodSpec {
  const command = (stack.outputs.commands as Record<string, string>).startRestore;
  if (!command) throw new Error("the stack exports no startRestore command");
  const manifest = command
    .split("\n")[1]!
    .replaceAll("$JOB", "edms-backup-restore-test")
    .replaceAll("$BACKUP_ID", "latest");
  return (JSON.parse(manifest) as { spec: { template: { spec: IPodSpec } } }).spec.template.spec;
}

/** A folder the runner (uid 10001) can read, as a media volume's files are for its group. */
async function readableDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(work, prefix));
  await chmod(dir, 0o755);
  return dir;
}

beforeAll(async () => {
  work = await mkdtemp(path.join(tmpdir(), "edms-image-"));
  await chmod(work, 0o755);
  cleanups.push(() => rm(work, { recursive: true, force: true }));
  // The stack as `pulumi up` renders it, with the apt source this machine can reach, and its
  // encryption to a recipient made here (the drill and restores need the identity).
  const key = await newAgeKey(work);
  ageIdentity = await readFile(key.file, "utf8");
  const file = readStackFile(REPO_ROOT, "prod");
  const encryption = file.config[`${file.project}:encryption`] as
    { identitySecret?: { name: string; key: string } } | undefined;
  if (!encryption?.identitySecret) throw new Error("Pulumi.prod.yaml no longer names an encryption identity Secret");
  identitySecret = encryption.identitySecret;
  stack = await runStack("prod", {
    imageAptSource: APT_SOURCE,
    encryption: { ...encryption, recipients: [key.recipient] },
  });
  const built = one(stack, "docker:index/image:Image", "edms-backup-runner-image").inputs as {
    imageName: string;
    build: { context: string; args: Record<string, string>; platform: string };
  };
  const rendered = one(stack, "kubernetes:core/v1:ConfigMap", "edms-backup-schedule-config").inputs as {
    metadata: { name: string };
    data: Record<string, string>;
  };
  configMap = rendered.data;
  configMapName = rendered.metadata.name;
  const database = stack.config["edms-backup:database"] as {
    secretName: string;
    passwordKey: string;
    restoreRole?: { user: string; secretName: string; passwordKey?: string };
  };
  passwordSecret = { name: database.secretName, key: database.passwordKey };
  if (database.restoreRole) {
    const role = database.restoreRole;
    restoreSecret = { name: role.secretName, key: role.passwordKey ?? "password" };
    // The restore Job connects as the restore role (its PGUSER is set in the Job's env, over the
    // ConfigMap). Here it is a superuser of the test server: this test is about the image under the
    // pod's restrictions; what a non-superuser owner role can restore is test/e2e/restore-role and
    // rendered-pods' business.
    const { sql } = await import("../helpers/pg-test-db.js");
    const admin = connectionUrl(pg, "postgres");
    const name = postgres.escapeIdentifier(role.user);
    await sql(admin, `DROP ROLE IF EXISTS ${name}`);
    await sql(admin, `CREATE ROLE ${name} LOGIN SUPERUSER PASSWORD ${postgres.escapeLiteral(pg.password)}`);
    // (The test cluster goes with the run; a role still owning something is no reason to fail.)
    cleanups.push(() => sql(admin, `DROP ROLE IF EXISTS ${name}`).catch(() => undefined));
  }
  const contextDir = path.join(REPO_ROOT, built.build.context);
  expect((await readdir(contextDir)).sort()).toEqual(["Dockerfile", "edms-backup.cjs"]);
  image = await buildRunnerImage({
    contextDir,
    tag: built.imageName.split(":").pop()!,
    args: built.build.args,
    platform: built.build.platform,
    log,
  });
  log(
    `image ${image.name} (${built.build.args.PG_APT_SOURCE}): ${(image.sizeBytes / 1e6).toFixed(1)} MB, built in ${image.seconds} s`,
  );

  mediaDir = await readableDir("media-");
  await makeMediaTree(mediaDir, { bigFileMiB: 3 });
  // mkdtemp and the tree's folders are private to root; the media volume is readable by the pod.
  await run("chmod", ["-R", "a+rX", mediaDir]);
  db = await createTestDatabase(pg, "image");
  cleanups.push(() => db.drop());
  await seedApplication(db.url, configMap.MEDIA_REFERENCES ?? "");
  bucket = await createTestBucket(s3Endpoint, { objectLock: stackLocksObjects() });
}, 900_000);

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch((e: unknown) => log(`cleanup: ${String(e)}`));
});

describe("the runner image under the pod's restrictions", () => {
  it("runs every CronJob with the restrictions Kubernetes applies", async () => {
    for (const cronJob of ofType(stack, "kubernetes:batch/v1:CronJob")) {
      const { args } = await podmanRun(cronJobPod(cronJob.name));
      const line = args.join(" ");
      for (const flag of [
        "--read-only --read-only-tmpfs=false",
        `--user ${RUNNER_UID}:${RUNNER_UID}`,
        "--cap-drop=ALL",
        "--security-opt no-new-privileges",
        "--tmpfs /tmp:rw,exec,nosuid,nodev,mode=1777,size=1073741824",
        "--network host",
        "--memory=1073741824",
      ]) {
        expect(line, cronJob.name).toContain(flag);
      }
      const mounts = cronJobPod(cronJob.name).containers[0]!.volumeMounts ?? [];
      if (mounts.some((m) => m.name === "media")) {
        expect(line, cronJob.name).toContain(`--volume ${mediaDir}:/media:ro`);
      }
      // The password reaches podman by name only, never on its command line.
      expect(line).not.toContain(pg.password);
    }
  });

  it("the image runs as uid 10001 with the runner as entrypoint and its PostgreSQL client", async () => {
    const config = JSON.parse(await podman(["image", "inspect", image.name, "--format", "{{json .Config}}"])) as {
      User: string;
      Entrypoint: string[];
      Env: string[];
    };
    expect(config.User).toBe(`${RUNNER_UID}:${RUNNER_UID}`);
    expect(config.Entrypoint).toEqual(["node", "/app/edms-backup.cjs"]);
    expect(config.Env).toContain("PG_BIN_DIR=/usr/lib/postgresql/15/bin");
    // The build secret (a proxy CA) was mounted for one RUN only: nothing of it is in the image
    // (buildah may leave the empty mount point /run/secrets behind; no file may be in it).
    const leftovers = await runCommand(
      "podman",
      [
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "sh",
        image.name,
        "-c",
        "find /run/secrets /tmp -mindepth 1; ls -d /tmp/build-ca.pem",
      ],
      { env: podmanEnv() },
    );
    expect(leftovers.stdout).toBe("");
    expect(leftovers.stderr).toMatch(/build-ca.pem.*No such file/);
  });

  it("backup: the daily CronJob stores a complete set and exits 0", async () => {
    const r = await runPod(cronJobPod("edms-backup-schedule-daily"));
    expect(r.code, r.stderr).toBe(0);
    const keys = await bucket.keys();
    const encrypted = isEncrypted();
    expect(encrypted, "the prod stack encrypts").toBe(true);
    expect(keys.filter((k) => k.endsWith("manifest.json"))).toHaveLength(1);
    // With the content store (the default, which the prod stack keeps), the media are content objects under
    // the store's prefix, and the set holds its segment list (the index, object list and stat cache
    // are chunks among the content objects) and, under Object Lock, the chunks' sealed lock dates,
    // instead of a tar.
    const store = configMap.MEDIA_FORMAT === "store";
    const isContent = (k: string) => k.startsWith(`edms/${STORE_OBJECTS_PREFIX}`);
    const setKeys = keys.filter((k) => !isContent(k));
    expect(setKeys.every((k) => k.startsWith("edms/daily/"))).toBe(true);
    expect(setKeys.map((k) => path.basename(k)).sort()).toEqual(
      [
        dumpObject(),
        objectName("manifest"),
        ...(store
          ? [SEGMENT_LIST_OBJECT, ...(stackLocksObjects() ? [CHUNK_LOCKS_OBJECT] : [])]
          : [objectName("media", { compression: "zstd", encrypted })]),
        ...(encrypted ? [objectName("names", { encrypted })] : []),
      ].sort(),
    );
    const content = keys.filter(isContent);
    expect(content.length > 0).toBe(store);
    // Files' contents and index chunks are age-encrypted; a segment's stat chunk is sealed with the
    // store key and its object-list chunk holds only content object keys (segment-list.ts).
    const segmentsKey = setKeys.find((k) => k.endsWith(`/${SEGMENT_LIST_OBJECT}`));
    const segments = segmentsKey
      ? parseSegmentList(
          (await bucket.get(segmentsKey)).toString(),
          segmentsKey,
          path.basename(path.dirname(segmentsKey)),
        )
      : [];
    const notAge = new Set(segments.flatMap((s) => [s.stat.key, s.objects.key]));
    for (const s of segments)
      for (const line of (await bucket.get(`edms/${s.objects.key}`)).toString().split("\n").filter(Boolean))
        expect(line, s.objects.key).toMatch(STORE_OBJECT_KEY_RE);
    for (const k of content) {
      const key = k.slice("edms/".length);
      expect(STORE_OBJECT_KEY_RE.exec(key)?.groups?.age, k).toBe(notAge.has(key) ? undefined : ".age");
    }
    expect(await bucket.unfinishedUploads()).toEqual([]);
    // One JSON line per event (LOG_FORMAT from the ConfigMap), never the password.
    expect(r.logs.length).toBeGreaterThan(0);
    expect(r.stdout + r.stderr).not.toContain(pg.password);
    const manifest = JSON.parse((await bucket.get(keys.find((k) => k.endsWith("manifest.json"))!)).toString()) as {
      tier: string;
      trigger: string;
    };
    expect(manifest).toMatchObject({ tier: "daily", trigger: "schedule" });
  });

  it("verify: re-reads the newest daily set and exits 0", async () => {
    const r = await runPod(cronJobPod("edms-backup-schedule-daily"), {
      args: ["verify", "latest", "--tier", "daily"],
    });
    expect(r.code, r.stderr).toBe(0);
  });

  it("drill: the restore-drill CronJob restores into scratch copies and exits 0", async () => {
    const r = await runPod(cronJobPod("edms-backup-schedule-restore-drill"));
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.logs.some((l) => /drill/i.test(String(l.msg)) && /pass/i.test(JSON.stringify(l)))).toBe(true);
  });

  it("restore: into a new database and the media volume mounted read-write, identical to the source", async () => {
    const target = `${db.name}_restored`.slice(0, 63);
    cleanups.push(async () => {
      const { sql } = await import("../helpers/pg-test-db.js");
      await sql(connectionUrl(pg, "postgres"), `DROP DATABASE IF EXISTS "${target}" WITH (FORCE)`);
    });
    // The restore Job's media volume: read-write, owned by the runner's user (the volume is the
    // application's; see docs/RUNBOOK.md), holding something the restore replaces.
    const restoredMedia = await readableDir("restored-");
    await mkdir(path.join(restoredMedia, "stale"));
    await run("chown", ["-R", `${RUNNER_UID}:${RUNNER_UID}`, restoredMedia]);
    // The restore Job the stack exports (commands.startRestore): media read-write, the age identity.
    const r = await runPod(restoreJobPod(), {
      args: ["restore", "latest", "--tier", "daily", "--yes", "--target-db", target],
      claims: { "edms-media": restoredMedia },
    });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(await tableChecksums(connectionUrl(pg, target))).toEqual(await tableChecksums(db.url));
    // The volume is a mount point, so what the restore replaced is kept inside it, for
    // undo-restore: one `.edms-previous-<run>` folder holding exactly the old contents.
    const restored = await mediaTreeDigest(restoredMedia);
    const kept = (e: { path: string }) => e.path.startsWith(".edms-previous-");
    expect(restored.filter((e) => !kept(e))).toEqual(await mediaTreeDigest(mediaDir));
    expect(restored.filter(kept).map((e) => e.path.replace(/^\.edms-previous-[^/]+/, "<kept>"))).toEqual([
      "<kept>",
      "<kept>/stale",
    ]);
  });

  it("SIGTERM mid-upload: exit 143, no manifest, no unfinished multipart upload", async () => {
    const big = await createTestDatabase(pg, "image_sigterm");
    cleanups.push(() => big.drop());
    // ~150 MB uncompressed: long enough to interrupt mid-stream.
    const init = await run(path.join(pg.binDir, "pgbench"), ["-i", "-s", "10", "-q", big.name], {
      env: { ...process.env, ...big.env },
    });
    expect(init.code, init.stderr).toBe(0);
    await seedApplication(big.url, configMap.MEDIA_REFERENCES ?? "");
    const target = await createTestBucket(s3Endpoint, { objectLock: stackLocksObjects() });
    const { args, secretEnv } = await podmanRun(cronJobPod("edms-backup-schedule-adhoc"), {
      database: big.name,
      bucket: target,
      extraEnv: { PG_DUMP_COMPRESSION: "none", S3_PART_SIZE_MIB: "5" },
    });
    const name = args[args.indexOf("--name") + 1]!;
    // PG_DUMP_COMPRESSION=none: no stream stage, so no compression suffix.
    const dump = objectName("database", { encrypted: isEncrypted() });
    const running = runCommand("podman", args, { env: { ...podmanEnv(), ...secretEnv } });
    let exited = false;
    void running.then(() => (exited = true));
    let uploading = false;
    for (let i = 0; i < 1200 && !exited && !uploading; i++) {
      uploading = (await target.unfinishedUploads()).some((k) => k.endsWith(dump));
      if (!uploading) await new Promise((r) => setTimeout(r, 50));
    }
    expect(uploading, "the dump never started uploading").toBe(true);
    // What the kubelet does when a Job is deleted or the node drains: SIGTERM to the container.
    await podman(["kill", "--signal", "TERM", name]);
    const r = await running;
    expect(r.code, r.stderr).toBe(143);
    expect(r.stderr).toMatch(/SIGTERM/);
    const keys = await target.keys();
    expect(keys.filter((k) => k.endsWith("manifest.json"))).toEqual([]);
    expect(keys.filter((k) => k.endsWith(dump))).toEqual([]);
    expect(await target.unfinishedUploads()).toEqual([]);
  });
});
