/**
 * Pods run as rendered. The stack Pulumi.prod.yaml describes is rendered under mocks, and every
 * CronJob it declares (each tier, adhoc, the drill, status) is run with exactly its container's
 * args and environment: ConfigMap envFrom, env, secretKeyRefs filled from test Secrets, volume
 * mounts as folders, as the pod's runAsUser; the bundled runner against a PostgreSQL without TLS
 * and one with TLS from a private CA, and moto for S3, CloudWatch and SNS (the run summaries).
 *
 * libpq is the oracle: `psql`, run as the same user with the same environment, decides whether a
 * pod can connect, and the runner must then connect and succeed, or else fail with a clear message
 * (and use TLS exactly when psql does). Nothing here restates what a mode should do.
 *
 * What differs from a cluster, and only this:
 * - the stack config points `database` at the test server (host localhost, a loopback forwarder's
 *   port, so one rendering serves both servers) and names a CA bundle Secret (`caBundle`), whose
 *   contents the test varies (the CA that signed the server, or an unrelated one);
 * - the other sslmodes: the ConfigMap's PGSSLMODE set to each mode, which is exactly what the stack
 *   renders for that `sslMode` (asserted below against the stack's own builder);
 * - added to every pod's environment: S3_ENDPOINT, AWS_ENDPOINT_URL_CLOUDWATCH and _SNS (moto), AWS
 *   credentials (what IRSA injects), and the image's PATH and PG_BIN_DIR.
 */
import { CloudWatchClient, ListMetricsCommand } from "@aws-sdk/client-cloudwatch";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { configMapData } from "../../components/schedule/runner-env.js";
import { readStackFile } from "../../components/config/stack-file.js";
import {
  parseMediaReferences,
  SSL_MODES,
  STORE_OBJECT_KEY_RE,
  STORE_OBJECTS_PREFIX,
  type SslMode,
} from "../../runner/src/contract.js";
import { at, ofType, REPO_ROOT, runStack, type Recorded, type StackRun } from "../components/stack-harness.js";
import { newAgeKey, type AgeKeyPair } from "../helpers/age-key.js";
import { run as exec } from "../helpers/exec.js";
import { connectionUrl, type PgConnectionInfo } from "../helpers/pg-cluster.js";
import { sql } from "../helpers/pg-test-db.js";
import { asPodUser, preparePod, type ClusterObjects, type PreparedPod } from "../helpers/rendered-pod.js";
import { BUNDLE } from "../helpers/runner-cli.js";
import { testS3Client } from "../helpers/s3-bucket.js";
import { chunkKeysOf } from "../helpers/segment-lists.js";
import { createTestTopic, type TestTopic } from "../helpers/sns-topic.js";
import { stackSecrets } from "../helpers/stack-secrets.js";
import { startForwarder, type Forwarder } from "../helpers/tcp-forwarder.js";

const plainServer = inject("pg");
const tlsServer = inject("pgTls");
const s3Endpoint = inject("s3Endpoint");

const CA_SECRET = { secretName: "edms-db-ca", key: "ca.crt" };
const SSL_QUERY = "select coalesce((select ssl::text from pg_stat_ssl where pid = pg_backend_pid()), 'false')";

let stack: StackRun;
let forwarder: Forwarder;
let root: string;
let bundle: string;
let media: string;
let prodDatabase: Record<string, unknown>;
/** The stack's encryption with a recipient made here, and the identity its Secret then holds. */
let encryption: { identitySecret: { name: string; key: string } };
let ageKey: AgeKeyPair;
/** The stack's run-summary topic, made on moto under the ARN the stack renders. */
let runSummary: TestTopic;
const password = randomBytes(12).toString("hex");
/** A file of the test media volume, relative to its root: what the application's rows name. */
const MEDIA_FILE = "documents/2026/scan 1.pdf";

/** The restore role of the stack's config (database.restoreRole): the application's owner role. */
function restoreRole(): { user: string; secretName: string; passwordKey?: string } {
  const role = (prodDatabase as { restoreRole?: { user: string; secretName: string; passwordKey?: string } })
    .restoreRole;
  if (!role) throw new Error("Pulumi.prod.yaml no longer names database.restoreRole");
  return role;
}

/**
 * Per server: the application's roles and database as docs/DEPLOY.md ("Database roles") creates
 * them: the owner role (the restore role) owns the database and its tables; the backup role
 * only reads (pg_read_all_data) and may create the drill's scratch database.
 */
async function prepareServer(server: PgConnectionInfo): Promise<void> {
  const db = prodDatabase as { name: string; user: string };
  const [name, user, owner] = [db.name, db.user, restoreRole().user].map((n) => pg.escapeIdentifier(n));
  // One statement per call: DROP/CREATE DATABASE cannot run in a multi-statement (transaction) block.
  for (const statement of [
    `drop database if exists ${name} with (force)`,
    `drop role if exists ${user}`,
    `drop role if exists ${owner}`,
    `create role ${owner} login createdb password '${password}'`,
    `create database ${name} owner ${owner}`,
    `create role ${user} login createdb password '${password}'`,
    `grant pg_read_all_data to ${user}`,
  ])
    await sql(connectionUrl(server), statement);
  const app = connectionUrl({ ...server, user: restoreRole().user, password }, db.name);
  await sql(
    app,
    "create table documents (id serial primary key, title text not null); " +
      "insert into documents (title) select 'doc ' || g from generate_series(1, 50) g",
  );
  // The columns the stack tells the runner to check against the media (MEDIA_REFERENCES): the
  // application's tables as the stack describes them, each row naming a file of the media volume.
  const references = Object.values(configMaps())
    .map((data) => data.MEDIA_REFERENCES)
    .find(Boolean);
  const { columns, problems } = parseMediaReferences(references ?? "");
  if (problems.length) throw new Error(`MEDIA_REFERENCES the test cannot read: ${problems.join("; ")}`);
  const tables = new Map<string, string[]>();
  for (const c of columns) {
    const table = [c.schema, c.table]
      .filter((n): n is string => n !== undefined)
      .map(pg.escapeIdentifier)
      .join(".");
    tables.set(table, [...(tables.get(table) ?? []), pg.escapeIdentifier(c.column)]);
  }
  for (const [table, cols] of tables) {
    const schema = /^(".*?")\./.exec(table)?.[1];
    if (schema) await sql(app, `create schema if not exists ${schema}`);
    await sql(app, `create table if not exists ${table} (${cols.map((c) => `${c} text`).join(", ")})`);
    await sql(app, `insert into ${table} values (${cols.map(() => "$1").join(", ")})`, [MEDIA_FILE]);
  }
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), "edms-pods-"));
  await chmod(root, 0o755);
  forwarder = await startForwarder();
  const file = readStackFile(REPO_ROOT, "prod");
  prodDatabase = file.config[`${file.project}:database`] as Record<string, unknown>;
  // The stack's own encryption config, with a recipient whose identity the test has: the drill
  // pod mounts the identity Secret, so the pods can only be run with a key pair made here.
  ageKey = await newAgeKey(root);
  const prodEncryption = file.config[`${file.project}:encryption`] as typeof encryption | undefined;
  if (!prodEncryption?.identitySecret)
    throw new Error("Pulumi.prod.yaml no longer names an encryption identity Secret");
  encryption = { ...prodEncryption, recipients: [ageKey.recipient] } as typeof encryption;
  stack = await runStack("prod", {
    database: { ...prodDatabase, host: "localhost", port: forwarder.port, caBundle: CA_SECRET },
    encryption,
  });
  // The bundle as the image holds it: one file, readable by the pod's user.
  const dir = path.join(root, "app");
  await mkdir(dir);
  bundle = path.join(dir, "edms-backup.cjs");
  await copyFile(BUNDLE, bundle);
  await chmod(bundle, 0o644);
  // The media volume: files the runner's user can read but not change (mounted read-only).
  media = path.join(root, "media-volume");
  await mkdir(path.join(media, "documents", "2026"), { recursive: true });
  await writeFile(path.join(media, MEDIA_FILE), randomBytes(64 * 1024));
  await writeFile(path.join(media, "résumé.txt"), "hello\n");
  await Promise.all([prepareServer(plainServer), prepareServer(tlsServer)]);
  await testS3Client(s3Endpoint).send(
    new CreateBucketCommand({ Bucket: String(stack.outputs.bucketName), ObjectLockEnabledForBucket: true }),
  );
  runSummary = await createTestTopic(s3Endpoint, String(stack.outputs.runSummaryTopicArn));
});

afterAll(async () => {
  await forwarder?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

/**
 * Runs an exported Job command (commands.startRestore, ...) exactly as an operator pastes it, in
 * `sh` with `vars` set and a `kubectl` that keeps the manifest it is handed; then runs that Job's
 * pod as rendered on the plain server, with a copy of the media volume its user owns (read-write).
 */
async function runExportedJob(name: string, vars: Record<string, string>): Promise<Outcome> {
  forwarder.setTarget(plainServer.port);
  const podRoot = await mkdtemp(path.join(root, "pod-"));
  await chmod(podRoot, 0o755);
  const bin = path.join(podRoot, "bin");
  await mkdir(bin);
  await writeFile(
    path.join(bin, "kubectl"),
    `#!/bin/sh\necho "$@" > "${podRoot}/kubectl-args"\ncat > "${podRoot}/job.json"\n`,
    {
      mode: 0o755,
    },
  );
  const command = (stack.outputs.commands as Record<string, string>)[name];
  if (!command) throw new Error(`the stack exports no ${name}`);
  const shell = await exec("sh", ["-c", command], {
    env: { PATH: `${bin}:${process.env.PATH}`, ...vars },
    timeoutMs: 30_000,
  });
  if (shell.code !== 0) throw new Error(`${name}: sh exited ${shell.code}: ${shell.stderr}`);
  expect(await readFile(path.join(podRoot, "kubectl-args"), "utf8")).toMatch(/^--namespace \S+ create -f -\n$/);
  const job = JSON.parse(await readFile(path.join(podRoot, "job.json"), "utf8")) as Record<string, unknown>;
  const spec = at(job, "spec", "template", "spec");
  // One read-write copy for the restore, the undo and the cleanup: the undo needs what the restore kept.
  const volume = path.join(root, "media-rw", "media");
  if (!(await stat(volume).catch(() => undefined))) {
    await mkdir(path.dirname(volume));
    await exec("cp", ["-a", media, volume]);
    const uid = Number(at(spec, "securityContext", "runAsUser"));
    await exec("chown", ["-R", `${uid}:${uid}`, path.dirname(volume)]);
  }
  const claim = String((stack.config["edms-backup:media"] as { pvcName: string }).pvcName);
  const objects = await objectsFor(prodDatabase.sslMode as SslMode, "right");
  const pod = await preparePod(spec, { ...objects, claims: { [claim]: volume } }, podRoot);
  expect(pod.env.PGUSER, name).toBe(restoreRole().user);
  return inPod(pod, [process.execPath, bundle, ...pod.args]);
}

/** Every CronJob the stack renders. */
function renderedCronJobs(): Recorded[] {
  return ofType(stack, "kubernetes:batch/v1:CronJob");
}

/**
 * The CronJobs run here: all of them but the content store's gc, whose runner command has not
 * landed yet (STORE_GC_COMMAND is in the contract, the command is not): it would exit 2.
 */
function cronJobs(): Recorded[] {
  return renderedCronJobs().filter((c) => !isGc(c));
}
function isGc(r: Recorded): boolean {
  return at(r.inputs, "spec", "jobTemplate", "spec", "template", "spec", "containers", 0, "args", 0) === "gc";
}
function objectName(r: Recorded): string {
  return String(at(r.inputs, "metadata", "name"));
}
function configMaps(): Record<string, Record<string, string>> {
  return Object.fromEntries(
    ofType(stack, "kubernetes:core/v1:ConfigMap").map((c) => [
      objectName(c),
      at(c.inputs, "data") as Record<string, string>,
    ]),
  );
}

/** The runner's settings ConfigMap (the stack renders others, e.g. the first-deploy stamp). */
function runnerConfig(): Record<string, string> {
  const found = Object.values(configMaps()).filter((data) => data.PGSSLMODE !== undefined);
  if (found.length !== 1) throw new Error(`expected one ConfigMap with PGSSLMODE, found ${found.length}`);
  return found[0]!;
}

type ServerName = "plain" | "tls";
type CaChoice = "right" | "other";

/** The cluster's objects for one condition: the rendered ConfigMaps (PGSSLMODE as given) and the test Secrets. */
async function objectsFor(mode: SslMode, ca: CaChoice): Promise<ClusterObjects> {
  const maps = configMaps();
  for (const data of Object.values(maps)) if (data.PGSSLMODE) data.PGSSLMODE = mode;
  const db = prodDatabase as { secretName: string; passwordKey?: string };
  return {
    configMaps: maps,
    secrets: {
      // The Secrets the stack creates itself: the content store's key, which the backup pods mount.
      ...stackSecrets(stack),
      [db.secretName]: { [db.passwordKey ?? "password"]: password },
      [restoreRole().secretName]: { [restoreRole().passwordKey ?? "password"]: password },
      [CA_SECRET.secretName]: {
        [CA_SECRET.key]: await readFile(ca === "right" ? tlsServer.caFile : tlsServer.otherCaFile, "utf8"),
      },
      [encryption.identitySecret.name]: { [encryption.identitySecret.key]: await readFile(ageKey.file, "utf8") },
      // The notifications Secret is left out: its references are optional, the pods run without it.
    },
    claims: { [String((stack.config[`edms-backup:media`] as { pvcName: string }).pvcName)]: media },
  };
}

/** What the test adds to every pod (see the header): endpoints, credentials, the image's ENV. */
function deviations(): Record<string, string> {
  return {
    S3_ENDPOINT: s3Endpoint,
    AWS_ENDPOINT_URL_CLOUDWATCH: s3Endpoint,
    AWS_ENDPOINT_URL_SNS: s3Endpoint,
    AWS_ACCESS_KEY_ID: "test",
    AWS_SECRET_ACCESS_KEY: "test",
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    PATH: process.env.PATH!,
    PG_BIN_DIR: plainServer.binDir,
  };
}

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

async function inPod(pod: PreparedPod, command: string[]): Promise<Outcome> {
  const { file, args } = asPodUser(pod, command);
  const r = await exec(file, args, {
    env: { ...pod.env, ...deviations() },
    // The image's WORKDIR.
    cwd: pod.mapPath("/tmp"),
    timeoutMs: 120_000,
  });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

async function psqlInPod(pod: PreparedPod): Promise<{ connected: boolean; ssl: boolean; message: string }> {
  const r = await inPod(pod, [path.join(plainServer.binDir, "psql"), "-X", "-A", "-t", "-w", "-c", SSL_QUERY]);
  return { connected: r.code === 0, ssl: r.stdout.trim() === "true", message: r.stderr.trim() };
}

/** The runner's own sessions in the TLS server's log since `offset`: true = TLS, per connection. */
async function runnerSessionsSince(offset: number): Promise<boolean[]> {
  const log = (await readFile(tlsServer.logFile, "utf8")).slice(offset);
  const user = String((prodDatabase as { user: string }).user);
  return log
    .split("\n")
    .filter((l) => l.includes(`connection authorized: user=${user} `) && l.includes("application_name=edms-backup"))
    .map((l) => l.includes("SSL enabled"));
}

async function runWorkload(
  cronJob: Recorded,
  server: ServerName,
  mode: SslMode,
  ca: CaChoice,
): Promise<{ pod: PreparedPod; result: Outcome }> {
  forwarder.setTarget(server === "tls" ? tlsServer.port : plainServer.port);
  const podRoot = await mkdtemp(path.join(root, "pod-"));
  await chmod(podRoot, 0o755);
  const spec = at(cronJob.inputs, "spec", "jobTemplate", "spec", "template", "spec");
  const pod = await preparePod(spec, await objectsFor(mode, ca), podRoot);
  const result = await inPod(pod, [process.execPath, bundle, ...pod.args]);
  return { pod, result };
}

function connects(cronJob: Recorded): boolean {
  // Pods without the password never open a database session (status reads the bucket only).
  const env = at(cronJob.inputs, "spec", "jobTemplate", "spec", "template", "spec", "containers", 0, "env") as Array<{
    name: string;
  }>;
  return env.some((e) => e.name === "PGPASSWORD");
}

/** What decides how a pod reaches the database: its command, libpq environment, mounts and user. */
function connectionFingerprint(cronJob: Recorded): string {
  const spec = at(cronJob.inputs, "spec", "jobTemplate", "spec", "template", "spec");
  const container = at(spec, "containers", 0) as {
    args: string[];
    env: Array<{ name: string }>;
    volumeMounts: unknown;
  };
  return JSON.stringify({
    command: container.args[0],
    env: container.env.filter((e) => e.name.startsWith("PG") || e.name === "HOME" || e.name === "DATABASE_URL"),
    envFrom: at(container, "envFrom"),
    mounts: container.volumeMounts,
    security: [at(spec, "securityContext"), at(container, "securityContext")],
  });
}

function byRunOrder(a: Recorded, b: Recorded): number {
  // Backups first (the drill restores the newest daily, status reports them all), then drill, status.
  const rank = (r: Recorded) =>
    String(at(r.inputs, "spec", "jobTemplate", "spec", "template", "spec", "containers", 0, "args", 0)) === "backup"
      ? 0
      : objectName(r).includes("drill")
        ? 1
        : 2;
  return rank(a) - rank(b);
}

describe("every rendered CronJob runs as rendered, and connects exactly where libpq does", () => {
  it("renders what these tests assume: seven CronJobs, the CA bundle mounted, PGSSLMODE the only mode switch", () => {
    expect(renderedCronJobs().map(objectName).sort()).toEqual([
      "edms-backup-adhoc",
      "edms-backup-daily",
      "edms-backup-gc",
      "edms-backup-monthly",
      "edms-backup-status",
      "edms-backup-weekly",
      "edms-restore-drill",
    ]);
    expect(runnerConfig().PGSSLMODE).toBe(prodDatabase.sslMode);
    // Another sslMode renders the same ConfigMap but for PGSSLMODE (the stack's own builder).
    const settings = (mode: string) => ({
      appName: "edms",
      bucketName: "b",
      keyPrefix: "edms",
      region: "r",
      logLevel: "info" as const,
      database: { host: "h", port: 1, name: "n", user: "u", sslMode: mode, caBundle: true },
    });
    for (const mode of SSL_MODES) {
      const { PGSSLMODE, ...rest } = configMapData(settings(mode));
      expect(PGSSLMODE).toBe(mode);
      const { PGSSLMODE: _prod, ...prodRest } = configMapData(settings(String(prodDatabase.sslMode)));
      expect(rest).toEqual(prodRest);
    }
  });

  const conditions: Array<{ server: ServerName; ca: CaChoice; mode: SslMode }> = [];
  // The stack's own mode first (every CronJob runs there), then every other mode.
  const ordered = [...SSL_MODES].sort((a, b) => Number(b === "prefer") - Number(a === "prefer"));
  for (const mode of ordered) {
    conditions.push({ server: "plain", ca: "right", mode });
    for (const ca of ["right", "other"] as const) conditions.push({ server: "tls", ca, mode });
  }

  it.each(conditions.map((c) => [`${c.server} server, ${c.ca} CA bundle, sslmode=${c.mode}`, c] as const))(
    "%s",
    async (_name, { server, ca, mode }) => {
      // Every CronJob under the stack's own mode. Under every other mode, one pod per distinct
      // (command, database environment, mounts): the four backup CronJobs differ only in their
      // tier, so one of them stands for all; any pod that starts to differ is run on its own.
      // Pods that never connect (no password: status) run under the stack's mode only.
      const stackMode = mode === prodDatabase.sslMode;
      const seen = new Set<string>();
      const jobs = [...cronJobs()].sort(byRunOrder).filter((c) => {
        if (stackMode) return true;
        if (!connects(c)) return false;
        const key = connectionFingerprint(c);
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
      for (const cronJob of jobs) {
        const logOffset = server === "tls" ? (await stat(tlsServer.logFile)).size : 0;
        const { pod, result } = await runWorkload(cronJob, server, mode, ca);
        const context = `${objectName(cronJob)}: exit ${result.code}\nstdout:\n${result.stdout.slice(-3000)}\nstderr:\n${result.stderr}`;
        if (process.getuid?.() === 0) expect(pod.uid).not.toBe(0);
        if (!connects(cronJob)) {
          expect(result.code, context).toBe(0);
          continue;
        }
        const libpq = await psqlInPod(pod);
        if (libpq.connected) {
          expect(result.code, `psql connected (ssl=${libpq.ssl}) but the runner did not:\n${context}`).toBe(0);
          if (server === "tls") {
            const sessions = await runnerSessionsSince(logOffset);
            expect(sessions.length, context).toBeGreaterThan(0);
            // The runner's own sessions use TLS exactly when libpq's does.
            expect(
              sessions.every((ssl) => ssl === libpq.ssl),
              `psql ssl=${libpq.ssl}; runner sessions ${JSON.stringify(sessions)}`,
            ).toBe(true);
          }
        } else {
          expect(result.code, `psql refused (${libpq.message}) but the runner:\n${context}`).toBe(1);
          expect(result.stderr, context).toMatch(/could not connect to the database \S+ \(sslmode=/);
          if (/certificate verify failed/.test(libpq.message)) {
            expect(result.stderr).toContain(pod.mapPath("/etc/edms-backup/database-ca/root.crt"));
            expect(result.stderr).toContain("set PGSSLROOTCERT");
          }
        }
      }
    },
  );

  it("each backup CronJob and the drill mailed a run summary to the stack's topic, without the password", async () => {
    const published = await runSummary.published();
    const succeeded = (subject: string | null) =>
      /^\[(ok|warning)\] edms (\w+) backup \S+ succeeded/.exec(subject ?? "")?.[2];
    const tiers = published.map((p) => succeeded(p.subject)).filter((tier) => tier !== undefined);
    expect(new Set(tiers)).toEqual(new Set(["daily", "weekly", "monthly", "adhoc"]));
    // The drill runs as the backup role, which (docs/DEPLOY.md "Database roles") is no superuser and
    // owns nothing: its restore logs the warnings of such a restore, so the drill passes "[warning]".
    expect(
      published.some((p) => /^\[(ok|warning)\] edms restore drill of \w+\/\S+ passed$/.test(p.subject ?? "")),
    ).toBe(true);
    for (const p of published) expect(JSON.stringify(p)).not.toContain(password);
  });

  it("the exported restore Job restores as the restore role: the application keeps owning its tables", async () => {
    forwarder.setTarget(plainServer.port);
    const db = prodDatabase as { name: string; user: string };
    const owner = connectionUrl({ ...plainServer, user: restoreRole().user, password }, db.name);
    const before = await sql<{ n: string }>(owner, "select count(*)::text as n from documents");
    await sql(owner, "delete from documents where id > 10");
    const result = await runExportedJob("startRestore", {});
    expect(result.code, `${result.stdout.slice(-3000)}\n${result.stderr}`).toBe(0);
    expect(await sql<{ n: string }>(owner, "select count(*)::text as n from documents")).toEqual(before);
    // Owned by the application's role, not by the backup role: the application can write them.
    const owners = await sql<{ o: string }>(
      owner,
      "select distinct tableowner as o from pg_tables where schemaname = 'public'",
    );
    expect(owners).toEqual([{ o: restoreRole().user }]);
    // (Rolled back, with an explicit id: the undo below refuses when the restored copy changed.)
    await sql(
      owner,
      "begin; insert into documents (id, title) values (1000000, 'written after the restore'); rollback",
    );
  });

  it("the exported undo Job puts back what the restore replaced; the cleanup Job drops the kept copies", async () => {
    const db = prodDatabase as { name: string };
    const owner = connectionUrl({ ...plainServer, user: restoreRole().user, password }, db.name);
    const undo = await runExportedJob("startUndoRestore", {});
    expect(undo.code, `${undo.stdout.slice(-3000)}\n${undo.stderr}`).toBe(0);
    // The state before the restore: the rows deleted then are gone again.
    expect(await sql<{ n: string }>(owner, "select count(*)::text as n from documents")).toEqual([{ n: "10" }]);
    const kept = () =>
      sql<{ datname: string }>(connectionUrl(plainServer), "select datname from pg_database where datname like $1", [
        `${db.name}\\_\\_edms\\_previous\\_%`,
      ]);
    expect((await kept()).length).toBeGreaterThan(0);
    const cleanup = await runExportedJob("startCleanupNow", {});
    expect(cleanup.code, `${cleanup.stdout.slice(-3000)}\n${cleanup.stderr}`).toBe(0);
    expect(await kept()).toEqual([]);
  });

  it("the deploy check Job, run as rendered, passes with the stack's Secrets and fails naming the recipients with another key", async () => {
    const job = ofType(stack, "kubernetes:batch/v1:Job").find((j) => objectName(j).endsWith("-deploy-check"));
    if (!job) throw new Error("the stack renders no deploy check Job");
    forwarder.setTarget(plainServer.port);
    const spec = at(job.inputs, "spec", "template", "spec");
    const runCheck = async (objects: ClusterObjects) => {
      const podRoot = await mkdtemp(path.join(root, "pod-"));
      await chmod(podRoot, 0o755);
      const pod = await preparePod(spec, objects, podRoot);
      if (process.getuid?.() === 0) expect(pod.uid).not.toBe(0);
      // It connects as the restore role, exactly as the restore Job does.
      expect(pod.env.PGUSER).toBe(restoreRole().user);
      return inPod(pod, [process.execPath, bundle, ...pod.args]);
    };
    const objects = await objectsFor(prodDatabase.sslMode as SslMode, "right");
    const passed = await runCheck(objects);
    expect(passed.code, `${passed.stdout}\n${passed.stderr}`).toBe(0);
    expect(passed.stdout).toContain(`public key ${ageKey.recipient}`);
    // Someone else's key in the identity Secret: the deploy fails, naming the recipients.
    const other = await newAgeKey(await mkdtemp(path.join(root, "other-key-")), "other");
    const wrong = await runCheck({
      ...objects,
      secrets: {
        ...objects.secrets,
        [encryption.identitySecret.name]: { [encryption.identitySecret.key]: await readFile(other.file, "utf8") },
      },
    });
    expect(wrong.code, `${wrong.stdout}\n${wrong.stderr}`).toBe(1);
    const failed = wrong.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as { check?: string; level?: string; msg?: string })
      .filter((l) => l.level === "error");
    expect(failed.map((l) => l.check)).toEqual(["identity"]);
    expect(failed[0]!.msg).toContain(ageKey.recipient);
    expect(wrong.stdout + wrong.stderr).not.toContain(password);
  });

  it("the backups wrote the media into the content store (mediaFormat store), with the mounted store key", async () => {
    expect(runnerConfig().MEDIA_FORMAT).toBe("store");
    // A backup without a readable MEDIA_STORE_KEY_FILE fails (exit 1 above); here, what it left.
    const prefix = new URL(runnerConfig().BACKUP_DESTINATION!).pathname.slice(1);
    const s3 = testS3Client(s3Endpoint);
    const Bucket = String(stack.outputs.bucketName);
    const listed = await s3.send(new ListObjectsV2Command({ Bucket, Prefix: `${prefix}/` }));
    const all = (listed.Contents ?? []).map((o) => o.Key!.slice(prefix.length + 1));
    // The sets' metadata chunks (named by their segment lists) are content objects too: left out.
    const chunks = new Set<string>();
    for (const list of all.filter((k) => k.endsWith("/media-segments.txt"))) {
      const body = await s3.send(new GetObjectCommand({ Bucket, Key: `${prefix}/${list}` }));
      for (const k of chunkKeysOf(await body.Body!.transformToString())) chunks.add(k);
    }
    expect(chunks.size).toBeGreaterThan(0);
    const keys = all.filter((k) => k.startsWith(STORE_OBJECTS_PREFIX) && !chunks.has(k));
    // The volume's two files, encrypted to the stack's recipient (.age), each stored once.
    expect(keys).toHaveLength(2);
    for (const key of keys) expect(STORE_OBJECT_KEY_RE.exec(key)?.groups?.age, key).toBe(".age");
  });

  it("status published each tier's newest-backup age to CloudWatch", async () => {
    const cloudwatch = new CloudWatchClient({
      endpoint: s3Endpoint,
      // The pods' region (the ConfigMap's AWS_REGION): moto keeps metrics per region.
      region: runnerConfig().AWS_REGION,
      credentials: { accessKeyId: "test", secretAccessKey: "test" },
    });
    const namespace = String(stack.config["edms-backup:cloudwatchNamespace"]);
    const metrics = await cloudwatch.send(
      new ListMetricsCommand({ Namespace: namespace, MetricName: "NewestBackupAgeSeconds" }),
    );
    const app = String(stack.config["edms-backup:appName"]);
    const tiers = new Set(
      (metrics.Metrics ?? [])
        .filter((m) => m.Dimensions?.some((d) => d.Name === "App" && d.Value === app))
        .map((m) => m.Dimensions?.find((d) => d.Name === "Tier")?.Value),
    );
    expect([...tiers].sort()).toEqual(["daily", "monthly", "weekly"]);
  });

  it("the exporter Deployment's pod, run as rendered, serves what the bucket holds and stops on SIGTERM", async () => {
    const deployment = ofType(stack, "kubernetes:apps/v1:Deployment")[0];
    if (!deployment) throw new Error("Pulumi.prod.yaml no longer enables the exporter");
    const podRoot = await mkdtemp(path.join(root, "pod-"));
    await chmod(podRoot, 0o755);
    const spec = at(deployment.inputs, "spec", "template", "spec");
    const pod = await preparePod(spec, await objectsFor(prodDatabase.sslMode as SslMode, "right"), podRoot);
    // Its args as rendered (the listen address is the Service's target port, fixed).
    const port = Number(/:(\d+)$/.exec(pod.args[pod.args.indexOf("--listen") + 1] ?? "")?.[1]);
    const { file, args } = asPodUser(pod, [process.execPath, bundle, ...pod.args]);
    const child = spawn(file, args, {
      env: { ...pod.env, ...deviations() },
      cwd: pod.mapPath("/tmp"),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
    try {
      let body = "";
      for (let i = 0; i < 100 && !body; i++) {
        body = await fetch(`http://127.0.0.1:${port}/metrics`).then(
          (r) => r.text(),
          () => "",
        );
        if (!body) await new Promise((r) => setTimeout(r, 200));
      }
      expect(body, `no /metrics on port ${port} (taken by something else?): ${output}`).not.toBe("");
      const value = (series: string) =>
        Number(new RegExp(`^${series.replace(/[{}"]/g, "\\$&")} (\\S+)$`, "m").exec(body)?.[1]);
      // The CronJobs above backed up each tier into the bucket; the exporter read it with the pod's environment.
      for (const tier of ["daily", "weekly", "monthly", "adhoc"])
        expect(value(`edms_backup_complete_sets{tier="${tier}"}`), tier).toBeGreaterThan(0);
      for (const source of ["backup_sets", "drills", "kept_copies", "unfinished_uploads"])
        expect(value(`edms_backup_exporter_scrape_errors_total{source="${source}"}`), `${source}: ${output}`).toBe(0);
      // The drills above ran under every sslmode, some of them failing on purpose: the last one's result is 0 or 1.
      expect([0, 1]).toContain(value("edms_backup_drill_last_success"));
      expect(value("edms_backup_drill_last_timestamp_seconds")).toBeGreaterThan(0);
      expect(body).not.toContain(password);
    } finally {
      child.kill("SIGTERM");
    }
    expect(await exited).toBe(143);
  });
});
