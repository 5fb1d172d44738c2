// Secrets never printed: passwords in URLs and key=value text, known secrets; connections described without them.
import { describe, expect, it } from "vitest";
import { redact } from "../../runner/src/output/redact.js";
import { statementTextFilter } from "../../runner/src/stages/child-watch.js";
import { resolvePgConnection, childEnv } from "../../runner/src/pg/connection.js";

describe("redaction", () => {
  it("removes passwords from connection strings and key=value text", () => {
    expect(redact("connect postgres://app:hunter2@db:5432/edms failed")).toBe(
      "connect postgres://app:***@db:5432/edms failed",
    );
    expect(redact("host=db password=hunter2 user=app")).toBe("host=db password=*** user=app");
    expect(redact("auth failed for hunter2", ["hunter2"])).toBe("auth failed for ***");
  });
  it("keeps connection descriptions without a password", () => {
    const c = resolvePgConnection("postgresql://app:p%40ss@db.internal:6543/edms?sslmode=require", {});
    expect(c).toMatchObject({ database: "edms", display: "app@db.internal:6543/edms", secrets: ["p@ss"] });
    if (typeof c === "string") throw new Error(c);
    expect(c.env.PGSSLMODE).toBe("require");
    // Children get libpq variables, never the URL, and no stray PG* setting of the parent.
    const env = childEnv(c, { PATH: "/bin", DATABASE_URL: "x", PGSERVICE: "other" });
    expect(env).toEqual({ PATH: "/bin", ...c.env });
  });

  it("removes passwords from SQL option lists (user mappings, servers)", () => {
    expect(redact("OPTIONS (user 'u', password 'it''s secret')")).toBe("OPTIONS (user 'u', password ***)");
  });
  it("drops the statement text pg_restore and the server quote, keeping the diagnostics", () => {
    const stderr = [
      'pg_restore: error: could not execute query: ERROR:  role "gone" does not exist',
      "LINE 1: CREATE USER MAPPING FOR gone SERVER sv OPTIONS (password 'hunter2')",
      "                                ^",
      'CONTEXT:  COPY accounts, line 3, column name: "card 4111 1111 1111 1111"',
      "Command was: CREATE USER MAPPING FOR gone SERVER sv OPTIONS (",
      "    password 'hunter2',",
      "    user 'u'",
      ");",
      "pg_restore: warning: errors ignored on restore: 1",
    ];
    const shown = statementTextFilter();
    const kept = stderr.map(shown).filter((l) => l !== undefined);
    expect(kept).toEqual([
      'pg_restore: error: could not execute query: ERROR:  role "gone" does not exist',
      "CONTEXT:  COPY accounts, line 3 (row not shown)",
      "Command was: (statement not shown)",
      "pg_restore: warning: errors ignored on restore: 1",
    ]);
  });
});
