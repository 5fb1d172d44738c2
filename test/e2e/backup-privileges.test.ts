// A role that cannot read everything pg_dump needs (issue 10, item 13): the backup fails before
// anything is stored, naming each relation and the missing privilege, instead of pg_dump's
// "could not import the requested snapshot".
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { connectionUrl } from "../helpers/pg-cluster.js";
import { createTestDatabase, sql, type TestDatabase } from "../helpers/pg-test-db.js";
import { runRunner } from "../helpers/runner-cli.js";

const pg = inject("pg");
const admin = connectionUrl(pg, "postgres");
let db: TestDatabase;
const role = `reader_${randomBytes(4).toString("hex")}`;
const password = randomBytes(12).toString("hex");

beforeAll(async () => {
  db = await createTestDatabase(pg, "privileges");
  await sql(admin, `create role ${role} login password '${password}'`);
  await sql(
    db.url,
    [
      "create table public.open_table (id int); insert into public.open_table values (1)",
      "create table public.secret (id int)",
      "create schema hidden; create table hidden.inner_table (id int)",
      "create sequence public.counter",
      `grant select on public.open_table to ${role}`,
      `grant select on hidden.inner_table to ${role}`,
    ].join("; "),
  );
});

afterAll(async () => {
  await db.drop();
  await sql(admin, `drop role if exists ${role}`);
});

describe("a role that cannot read every table", () => {
  it("fails before dumping, naming each relation and the missing privilege", async () => {
    const dest = await mkdtemp(path.join(tmpdir(), "edms-priv-"));
    const url = `postgresql://${role}:${password}@${pg.host}:${pg.port}/${db.name}`;
    const result = await runRunner(["backup", "--tier", "daily", "--no-media"], {
      DATABASE_URL: url,
      BACKUP_DESTINATION: `file://${dest}`,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`the database role "${role}" cannot read 3 relation\\(s\\) pg_dump needs`),
    );
    expect(result.stderr).toContain('table "hidden"."inner_table" (USAGE on schema "hidden")');
    expect(result.stderr).toContain('table "public"."secret" (SELECT)');
    expect(result.stderr).toContain('sequence "public"."counter" (SELECT)');
    expect(result.stderr).not.toMatch(/could not import the requested snapshot/);
    expect(result.stderr).not.toContain(password);
    expect(await readdir(dest)).toEqual([]);
  });
});
