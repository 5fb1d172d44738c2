/** The stack-config schema: defaults, the prod file, and a table of bad configs with their messages. */
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import {
  DEFAULT_RETENTION_DAYS,
  DEFAULT_SCHEDULES,
  SCHEDULE_INTERVAL_HOURS,
  SCHEDULED_TIERS,
} from "../../runner/src/contract.js";
import {
  decodeConfigValue,
  enabledTiers,
  parseStackConfig,
  projectConfig,
  StackConfigError,
} from "../../components/config/stack-config.js";
import { longestIntervalDays, minimumBackupsKept } from "../../components/config/schedules.js";
import { readStackFile } from "../../components/config/stack-file.js";
import { MINIMAL_CONFIG } from "./minimal-config.js";
import { REPO_ROOT } from "./stack-harness.js";

const minimal = MINIMAL_CONFIG;

function problems(raw: Record<string, unknown>): string[] {
  try {
    parseStackConfig(raw);
  } catch (error) {
    if (error instanceof StackConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("stack config", () => {
  it("defaults to the seed's schedule in Asia/Singapore and secure settings", () => {
    const config = parseStackConfig(minimal);
    expect(config.appName).toBe("edms");
    expect(config.timeZone).toBe("Asia/Singapore");
    expect(config.schedules).toEqual({ daily: "0 2 * * *", weekly: "0 3 * * 0", monthly: "0 4 1 * *" });
    expect(config.retentionDays).toEqual(DEFAULT_RETENTION_DAYS);
    expect(config.bucket.forceDestroy).toBe(false);
    expect(config.database).toMatchObject({ port: 5432, passwordKey: "password", sslMode: "prefer" });
    expect(config.pgMajor).toBe("15");
    expect(config.imageAptSource).toBe("pgdg");
    expect(config.drill).toEqual({ enabled: true, schedule: "0 6 * * 0", tier: "rotate", scratchSizeLimit: "20Gi" });
    expect(enabledTiers(config)).toEqual(["daily", "weekly", "monthly"]);
  });

  it("keeps at least 7 daily, 4 weekly and 12 monthly backups by default, at every moment", () => {
    const keep = { daily: 7, weekly: 4, monthly: 12 } as const;
    for (const tier of ["daily", "weekly", "monthly"] as const) {
      expect(
        minimumBackupsKept(DEFAULT_SCHEDULES[tier], "Asia/Singapore", DEFAULT_RETENTION_DAYS[tier]),
        tier,
      ).toBeGreaterThanOrEqual(keep[tier]);
    }
  });

  // `status` without STATUS_INTERVAL_HOURS (a runner outside the stack) uses the tier table's
  // intervals: they must be the default schedules' longest gaps, or it would call a tier stale
  // early (or late) where the stack's alarms would not.
  it("the tier table's intervals are its default schedules' longest gaps", () => {
    for (const tier of SCHEDULED_TIERS) {
      expect(longestIntervalDays(DEFAULT_SCHEDULES[tier], "Asia/Singapore") * 24, tier).toBe(
        SCHEDULE_INTERVAL_HOURS[tier],
      );
    }
  });

  it("accepts Pulumi.prod.yaml as it is", () => {
    const file = readStackFile(REPO_ROOT, "prod");
    const config = parseStackConfig(projectConfig(file.config, file.project));
    expect(config.identity.kind).toBe("irsa");
    expect(config.objectLock?.mode).toBe("GOVERNANCE");
    expect(file.secretKeys).toEqual([]);
  });

  it("decodes Pulumi's string values the way `pulumi config set` writes them", () => {
    expect(decodeConfigValue('{"daily":7}')).toEqual({ daily: 7 });
    expect(decodeConfigValue("5432")).toBe(5432);
    expect(decodeConfigValue("true")).toBe(true);
    expect(decodeConfigValue("Asia/Singapore")).toBe("Asia/Singapore");
    expect(parseStackConfig({ ...minimal, database: { ...minimal.database, name: 123 } }).database.name).toBe("123");
  });

  const badConfigs: Array<[string, Record<string, unknown>, RegExp[]]> = [
    [
      "bad media reference columns",
      { media: { pvcName: "media", references: ["documents.file", "nodot", "a..b", "a.b,c.d"] } },
      [
        /media\.references\.1 "nodot": 1 name/,
        /media\.references\.2 "a\.\.b": empty name/,
        /media\.references\.3 one column per list item/,
      ],
    ],
    [
      "an invalid cron expression",
      { schedules: { daily: "61 2 * * *" } },
      [/schedules\.daily invalid cron expression "61 2 \* \* \*"/],
    ],
    [
      "a six-field cron expression",
      { schedules: { weekly: "0 0 3 * * 0" } },
      [/schedules\.weekly invalid cron expression .*must have 5 fields/],
    ],
    ["an unknown time zone", { timeZone: "Asia/Singapur" }, [/timeZone unknown time zone: use an IANA name/]],
    [
      "Debian's PostgreSQL client with a major Debian does not ship",
      { imageAptSource: "debian", pgMajor: 16 },
      [/imageAptSource debian \(bookworm\) ships only the PostgreSQL 15 client, but pgMajor is 16/],
    ],
    ["an unknown apt source", { imageAptSource: "apt.postgresql.org" }, [/imageAptSource .*"pgdg"/]],
    [
      "a retention shorter than the interval",
      { retentionDays: { weekly: 5 } },
      [/retentionDays\.weekly \(5 days\) is shorter than the weekly schedule's interval \(up to 7 days\)/],
    ],
    [
      "a monthly retention under a month",
      { retentionDays: { monthly: 30 } },
      [/retentionDays\.monthly \(30 days\) is shorter than the monthly schedule's interval \(up to 31 days\)/],
    ],
    [
      "a missing database secret name",
      { database: { host: "db", name: "edms", user: "u", cidr: "10.0.0.0/16" } },
      [/database\.secretName is required/],
    ],
    [
      "a CA bundle from both a ConfigMap and a Secret",
      { database: { ...minimal.database, caBundle: { configMapName: "ca", secretName: "ca", key: "ca.crt" } } },
      [/database\.caBundle must be \{ configMapName, key \} or \{ secretName, key \}/],
    ],
    [
      "a CA bundle key that climbs out of the mount",
      { database: { ...minimal.database, caBundle: { secretName: "ca", key: "../ca.crt" } } },
      [/database\.caBundle/],
    ],
    ["an sslmode libpq does not know", { database: { ...minimal.database, sslMode: "on" } }, [/database\.sslMode/]],
    [
      "no way to reach the database in the NetworkPolicy",
      { database: { host: "db", name: "edms", user: "u", secretName: "s" } },
      [/database needs cidr .* or podSelector/],
    ],
    [
      "a ReadWriteOnce volume without the app pod's labels",
      { media: { pvcName: "media" } },
      [/media\.appPodSelector is required when the media volume is ReadWriteOnce/],
    ],
    ["an image without a digest", { image: "edms-backup:latest" }, [/image must be pinned by digest/]],
    [
      "IRSA without the OIDC provider",
      { identity: { kind: "irsa" } },
      [/identity\.oidcProviderArn is required for IRSA/],
    ],
    ["an unknown identity kind", { identity: { kind: "keys" } }, [/identity\.kind must be \{ kind: irsa/]],
    ["a typo in a key", { retentionDay: { daily: 7 } }, [/edms-backup: unknown key "retentionDay"/]],
    [
      "every tier disabled",
      { disabledTiers: ["daily", "weekly", "monthly"] },
      [/disabledTiers disables every scheduled tier/],
    ],
    [
      "a Glacier Deep Archive transition",
      { monthlyTransition: { storageClass: "DEEP_ARCHIVE", afterDays: 90 } },
      [/monthlyTransition\.storageClass must be STANDARD_IA or GLACIER_IR/],
    ],
    [
      "a transition after expiry",
      { monthlyTransition: { storageClass: "GLACIER_IR", afterDays: 400 } },
      [/monthlyTransition\.afterDays \(400\) must be less than retentionDays\.monthly/],
    ],
    [
      "an unknown Object Lock mode",
      { objectLock: { mode: "STRICT" } },
      [/objectLock\.mode must be GOVERNANCE or COMPLIANCE/],
    ],
    ["an upper-case namespace", { namespace: "EDMS" }, [/namespace must be lower-case letters/]],
    [
      "a bad quantity",
      { resources: { limits: { memory: "1 GB" } } },
      [/resources\.limits\.memory must be a Kubernetes quantity/],
    ],
    ["an old pg_dump", { pgMajor: "9" }, [/pgMajor must be a PostgreSQL major version/]],
    [
      "a post-quantum or malformed age recipient",
      {
        encryption: {
          recipients: [`age1pq1${"q".repeat(60)}`, "age1short"],
          identitySecret: { name: "edms-backup-age" },
        },
      },
      [
        /encryption\.recipients\.0 age1pq1qqqqq\.\.\. is a post-quantum recipient/,
        /encryption\.recipients\.1 "age1short" is not an X25519 age recipient/,
      ],
    ],
    [
      "encryption without recipients",
      { encryption: { recipients: [] } },
      [/encryption\.recipients needs at least one/],
    ],
    [
      "encryption with the drill on but no identity Secret",
      { encryption: { recipients: [`age1${"q".repeat(58)}`] } },
      [/encryption\.identitySecret is required while the drill is enabled/],
    ],
    [
      "encryption with the drill off and the deploy check on but no identity Secret",
      { encryption: { recipients: [`age1${"q".repeat(58)}`] }, drill: { enabled: false } },
      [/encryption\.identitySecret is required by the deploy check.*or set deployCheck: false/],
    ],
    ["a deploy check that is not a boolean", { deployCheck: "yes" }, [/deployCheck/]],
  ];

  it.each(badConfigs)("rejects %s with a message naming the field", (_label, change, messages) => {
    const found = problems({ ...minimal, ...change });
    for (const message of messages)
      expect(
        found.some((p) => message.test(p)),
        `${found.join("\n")}\n!~ ${message}`,
      ).toBe(true);
  });

  it("runs the deploy check by default; encryption without an identity Secret is accepted with the drill and the check off", () => {
    expect(parseStackConfig(minimal).deployCheck).toBe(true);
    const offline = {
      encryption: { recipients: [`age1${"q".repeat(58)}`] },
      drill: { enabled: false },
      deployCheck: false,
    };
    expect(problems({ ...minimal, ...offline })).toEqual([]);
  });

  it("names every bad field in one message", () => {
    const error = (() => {
      try {
        parseStackConfig({ timeZone: "Mars/Olympus", schedules: { daily: "every day" }, identity: { kind: "irsa" } });
      } catch (e) {
        return e as StackConfigError;
      }
      throw new Error("accepted");
    })();
    expect(error.problems.length).toBeGreaterThanOrEqual(5);
    expect(error.message).toMatch(/^Invalid stack configuration \(\d+ problems\):/);
    for (const field of ["namespace", "database", "timeZone", "schedules.daily", "identity.oidcProviderArn"]) {
      expect(error.message).toContain(`edms-backup:${field}`);
    }
  });

  it("check-config exits 0 for prod and 2 with every problem for a bad stack", () => {
    const tsx = path.join(REPO_ROOT, "node_modules/.bin/tsx");
    const script = path.join(REPO_ROOT, "scripts/check-config.ts");
    const good = spawnSync(tsx, [script, "--stack", "prod", "--dir", REPO_ROOT], {
      encoding: "utf8",
      env: { ...process.env, EDMS_BACKUP_EXAMPLE_CONFIG: "allow" },
    });
    expect(good.status, good.stderr).toBe(0);
    expect(good.stdout).toContain("Pulumi.prod.yaml is valid.");

    const dir = mkdtempSync(path.join(tmpdir(), "check-config-"));
    cpSync(path.join(REPO_ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    writeFileSync(
      path.join(dir, "Pulumi.bad.yaml"),
      [
        "config:",
        "  edms-backup:namespace: edms",
        "  edms-backup:timeZone: Singapore/Nowhere",
        "  edms-backup:database:",
        "    host: db",
        "    name: edms",
        "    user: backup",
        "    cidr: 10.0.0.0/16",
        "  edms-backup:identity:",
        "    kind: podIdentity",
        "    clusterName: prod",
        "  edms-backup:kubeconfig:",
        "    secure: v1:AAAA",
      ].join("\n"),
    );
    const bad = spawnSync(tsx, [script, "--stack", "bad", "--dir", dir], { encoding: "utf8" });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("edms-backup:timeZone unknown time zone");
    expect(bad.stderr).toContain("edms-backup:database.secretName is required");
  });
});

describe("alert settings", () => {
  it("default to no addresses, a 6 h grace and a status run every 6 h", () => {
    const config = parseStackConfig(minimal);
    expect(config.alertEmails).toEqual([]);
    expect(config.alerts).toEqual({ graceHours: 6, statusEveryHours: 6 });
    expect(config.notifications).toBeUndefined();
  });

  it("reject addresses without a CloudWatch namespace, bad addresses and uneven status intervals", () => {
    expect(problems({ ...minimal, alertEmails: ["ops@example.com"] })).toEqual([
      "edms-backup:alertEmails needs cloudwatchNamespace: the alarms watch the runner's metrics in that namespace",
    ]);
    expect(problems({ ...minimal, cloudwatchNamespace: "EDMS/Backup", alertEmails: ["not-an-address"] })).toEqual([
      "edms-backup:alertEmails.0 must be an email address",
    ]);
    expect(problems({ ...minimal, alerts: { statusEveryHours: 5 } })).toEqual([
      "edms-backup:alerts.statusEveryHours must be one of 1, 2, 3, 4, 6, 8, 12, 24 (hours that divide a day)",
    ]);
    expect(problems({ ...minimal, alerts: { topicKmsKeyArn: "alias/aws/sns" } })[0]).toMatch(
      /^edms-backup:alerts.topicKmsKeyArn must be a KMS key ARN/,
    );
  });
});

describe("run summary settings", () => {
  it("are off by default, and need no CloudWatch namespace when on", () => {
    expect(parseStackConfig(minimal).runSummary).toBeUndefined();
    expect(parseStackConfig({ ...minimal, runSummary: { emails: ["ops@example.com"] } }).runSummary).toEqual({
      emails: ["ops@example.com"],
    });
  });

  it("reject an empty list, bad addresses and unknown keys, all at once", () => {
    expect(problems({ ...minimal, runSummary: { emails: [] } })).toEqual([
      "edms-backup:runSummary.emails needs at least one address (or leave runSummary out)",
    ]);
    const all = problems({ ...minimal, runSummary: { emails: ["ops@example.com", "not-an-address"], topic: "x" } });
    expect(all).toHaveLength(2);
    expect(all).toContain("edms-backup:runSummary.emails.1 must be an email address");
    expect(all.some((p) => p.startsWith("edms-backup:runSummary") && /topic/.test(p))).toBe(true);
  });
});
