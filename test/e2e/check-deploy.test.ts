// check-deploy (issue 26, item 5): on day 0, the identity drills and restores decrypt with must
// open what backups encrypt, and the role restores run as must be able to restore. Real age keys
// (age-keygen) and the real server decide: the identity check is a challenge encrypted by age to
// the recipients and decrypted with the identity; the role check is the restore's own preflight,
// and the statement its message prints, run as a superuser, is what makes it pass.
import { randomBytes } from "node:crypto";
import { mkdtemp, writeFile, readFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { newAgeKey, type AgeKeyPair } from "../helpers/age-key.js";
import { fileDatabases } from "../helpers/file-databases.js";
import { connectionUrl } from "../helpers/pg-cluster.js";
import { sql, type TestDatabase } from "../helpers/pg-test-db.js";
import { runRunner } from "../helpers/runner-cli.js";

const pg = inject("pg");
const dbs = fileDatabases(pg);
const suffix = randomBytes(3).toString("hex");
const admin = connectionUrl(pg, "postgres");
const owner = `edms_owner_${suffix}`;
const password = `pw-${randomBytes(8).toString("hex")}`;

let live: TestDatabase;
let dir: string;
/** held: in the identity Secret; offline: the safe's copy; stranger: a key of someone else. */
let held: AgeKeyPair;
let offline: AgeKeyPair;
let stranger: AgeKeyPair;

const urlAs = (user: string, pass = password) =>
  `postgres://${user}:${encodeURIComponent(pass)}@${pg.host}:${pg.port}/${live.name}`;

function checkDeploy(env: Record<string, string | undefined>) {
  return runRunner(["check-deploy"], { DATABASE_URL: urlAs(owner), ...env });
}

/** The check lines (stage "check") by check name. */
function checks(logs: Array<Record<string, unknown>>): Record<string, Record<string, unknown>> {
  return Object.fromEntries(logs.filter((l) => l.stage === "check").map((l) => [String(l.check), l]));
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "edms-check-deploy-"));
  [held, offline, stranger] = await Promise.all([
    newAgeKey(dir, "held"),
    newAgeKey(dir, "offline"),
    newAgeKey(dir, "stranger"),
  ]);
  for (const key of [held, offline, stranger]) await chmod(key.file, 0o600);
  // The application's owner role, as docs/DEPLOY.md "Database roles" creates it: it owns the
  // database and its tables and has CREATEDB. It is the restore role.
  await sql(admin, `create role "${owner}" login createdb password '${password}'`);
  live = await dbs.create("check_deploy");
  await sql(admin, `alter database "${live.name}" owner to "${owner}"`);
  await sql(
    urlAs(owner),
    "create table document (id serial primary key, title text); insert into document (title) values ('a')",
  );
});

describe("check-deploy", () => {
  it("passes with the identity of one recipient and the owner role; names the recipient it cannot prove", async () => {
    const r = await checkDeploy({
      ENCRYPTION_RECIPIENTS: `${held.recipient},${offline.recipient}`,
      AGE_IDENTITY_FILE: held.file,
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const c = checks(r.logs);
    expect(c.identity?.level).toBe("info");
    expect(String(c.identity?.msg)).toContain(`public key ${held.recipient}`);
    expect(String(c.identity?.msg)).toMatch(new RegExp(`${offline.recipient} cannot be proven here`));
    expect(c["restore-role"]?.level).toBe("info");
    expect(String(c["restore-role"]?.msg)).toContain(`the role ${owner} can restore database ${live.name}`);
    expect(r.stdout + r.rawStderr).not.toContain(held.secret);
    expect(r.stdout + r.rawStderr).not.toContain(password);
  });

  it("an identity file holding several identities passes when one of them is a recipient", async () => {
    const both = path.join(dir, "both.key");
    await writeFile(both, `${await readFile(stranger.file, "utf8")}${await readFile(held.file, "utf8")}`, {
      mode: 0o600,
    });
    const r = await checkDeploy({ ENCRYPTION_RECIPIENTS: held.recipient, AGE_IDENTITY_FILE: both });
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it("a wrong identity fails (exit 1) naming the recipients and the identity's public key", async () => {
    const r = await checkDeploy({
      ENCRYPTION_RECIPIENTS: `${held.recipient},${offline.recipient}`,
      AGE_IDENTITY_FILE: stranger.file,
    });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const c = checks(r.logs);
    expect(c.identity?.level).toBe("error");
    const message = String(c.identity?.msg);
    expect(message).toContain(held.recipient);
    expect(message).toContain(offline.recipient);
    expect(message).toContain(`public key ${stranger.recipient}`);
    expect(message).toMatch(/kubectl -n <namespace> create secret generic/);
    // The other check still ran and passed; the last line names the failed one.
    expect(c["restore-role"]?.level).toBe("info");
    expect(r.stderr).toMatch(/1 of 2 deploy checks failed \(identity\)/);
    expect(r.stdout + r.rawStderr).not.toContain(stranger.secret);
  });

  it("recipients without an identity fail; no recipients is encryption off and passes", async () => {
    const missing = await checkDeploy({ ENCRYPTION_RECIPIENTS: held.recipient });
    expect(missing.code).toBe(1);
    expect(String(checks(missing.logs).identity?.msg)).toMatch(
      new RegExp(`encrypted to ${held.recipient}, but no identity is given \\(AGE_IDENTITY_FILE`),
    );
    const off = await checkDeploy({});
    expect(off.code, off.stdout + off.stderr).toBe(0);
    expect(String(checks(off.logs).identity?.msg)).toMatch(/encryption is off/);
  });

  it("a restore role lacking CREATEDB fails naming the statement; that statement makes it pass", async () => {
    const role = `edms_nocreatedb_${suffix}`;
    await sql(admin, `create role "${role}" login password '${password}'`);
    await sql(admin, `grant "${owner}" to "${role}"`);
    const r = await checkDeploy({ DATABASE_URL: urlAs(role) });
    expect(r.code, r.stdout + r.stderr).toBe(1);
    const message = String(checks(r.logs)["restore-role"]?.msg);
    expect(message).toContain(`the role "${role}" cannot restore database "${live.name}"`);
    const statement = `ALTER ROLE "${role}" CREATEDB;`;
    expect(message).toContain(statement);
    // Only that privilege is missing: it owns the database (member of the owner role).
    expect(message.split("\n").filter((l) => l.startsWith("  - "))).toHaveLength(1);
    await sql(admin, statement);
    const fixed = await checkDeploy({ DATABASE_URL: urlAs(role) });
    expect(fixed.code, fixed.stdout + fixed.stderr).toBe(0);
  });

  it("the backup role (reads, CREATEDB, owns nothing) fails naming the ownership and each owner to grant", async () => {
    const backup = `edms_backup_${suffix}`;
    await sql(admin, `create role "${backup}" login createdb password '${password}'`);
    await sql(admin, `grant pg_read_all_data to "${backup}"`);
    const r = await checkDeploy({ DATABASE_URL: urlAs(backup) });
    expect(r.code).toBe(1);
    const message = String(checks(r.logs)["restore-role"]?.msg);
    expect(message).toContain(`own the database "${live.name}"`);
    expect(message).toContain(`GRANT "${owner}" TO "${backup}";`);
  });

  it("a wrong password fails the role check saying so, without the password", async () => {
    const wrong = `not-${password}`;
    const r = await checkDeploy({ DATABASE_URL: urlAs(owner, wrong) });
    expect(r.code).toBe(1);
    expect(String(checks(r.logs)["restore-role"]?.msg)).toMatch(/cannot check the restore role: .*password/);
    expect(r.stdout + r.rawStderr).not.toContain(wrong);
  });

  it("with LOG_FORMAT=json every line is JSON: one error line per failed check, then the exit line", async () => {
    const r = await checkDeploy({
      DATABASE_URL: urlAs(`edms_nobody_${suffix}`),
      ENCRYPTION_RECIPIENTS: held.recipient,
      AGE_IDENTITY_FILE: stranger.file,
    });
    expect(r.code).toBe(1);
    const lines = [...r.stdout.split("\n"), ...r.rawStderr.split("\n")].filter(Boolean);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    const errors = r.logs.filter((l) => l.level === "error");
    expect(errors.map((l) => l.check).sort()).toEqual(["identity", "restore-role"]);
    expect(JSON.parse(r.rawStderr.trim()) as Record<string, unknown>).toMatchObject({ stage: "exit", exitCode: 1 });
  });

  it("bad input is exit 2 naming each field: no database, a malformed recipient, an identity that is no key", async () => {
    const notAKey = path.join(dir, "not-a-key");
    await writeFile(notAKey, "hello\n", { mode: 0o600 });
    const r = await runRunner(["check-deploy"], {
      ENCRYPTION_RECIPIENTS: "age1notarecipient",
      AGE_IDENTITY_FILE: notAKey,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/DATABASE_URL/);
    expect(r.stderr).toMatch(/ENCRYPTION_RECIPIENTS/);
    expect(r.stderr).toMatch(/AGE_IDENTITY_FILE \(.*not-a-key\): line 1 is not an X25519 identity/);
  });
});
