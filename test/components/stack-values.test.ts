/**
 * The values index.ts derives from the stack config before composing (components/stack/stack-values.ts):
 * the staleness intervals `status`, the alarms and the dashboard share, and what is off when unset.
 */
import { describe, expect, it } from "vitest";
import { parseStackConfig } from "../../components/config/stack-config.js";
import {
  alarmsArgs,
  dashboardArgs,
  firstRunSchedules,
  packageVersion,
  stackNames,
  statusSettings,
} from "../../components/stack/stack-values.js";
import { MINIMAL_CONFIG } from "./minimal-config.js";

const base = MINIMAL_CONFIG;

describe("stack values", () => {
  it("judges each enabled tier by its schedule's longest gap, in hours, the alarms and dashboard alike", () => {
    const config = parseStackConfig({
      ...base,
      // Mondays and Wednesdays: the longest gap is Wednesday to Monday, 5 days.
      schedules: { daily: "0 2 * * 1,3", weekly: "0 3 * * 0", monthly: "0 4 1 * *" },
      disabledTiers: ["monthly"],
      cloudwatchNamespace: "EdmsBackup",
      alerts: { graceHours: 2 },
    });
    const status = statusSettings(config);
    expect(status).toEqual({
      tiers: ["daily", "weekly"],
      graceHours: 2,
      intervalHours: { daily: 120, weekly: 168 },
      drillMaxAgeHours: 192,
    });
    expect(alarmsArgs(config, status)?.intervals).toEqual({ daily: 120 * 3600, weekly: 168 * 3600 });
    expect(dashboardArgs(config, status, "eu-west-1")?.maxAgeSeconds).toEqual({
      daily: (120 + 2) * 3600,
      weekly: (168 + 2) * 3600,
    });
  });

  it("leaves out what is not configured: alarms and dashboard without metrics, the drill when disabled", () => {
    const config = parseStackConfig({ ...base, drill: { enabled: false } });
    const status = statusSettings(config);
    expect(status.drillMaxAgeHours).toBeUndefined();
    expect(firstRunSchedules(config)).toEqual(config.schedules);
    expect(alarmsArgs(config, status)).toBeUndefined();
    expect(dashboardArgs(config, status, "eu-west-1")).toBeUndefined();
    const noDashboard = parseStackConfig({ ...base, cloudwatchNamespace: "EdmsBackup", cloudwatchDashboard: false });
    expect(dashboardArgs(noDashboard, statusSettings(noDashboard), "eu-west-1")).toBeUndefined();
    expect(alarmsArgs(noDashboard, statusSettings(noDashboard))).toBeDefined();
  });

  it("names from the app name, the key prefix from it unless set, the version from package.json", () => {
    const config = parseStackConfig(base);
    expect(stackNames(config)).toMatchObject({ app: "edms", base: "edms-backup", keyPrefix: "edms" });
    expect(stackNames(parseStackConfig({ ...base, bucket: { keyPrefix: "x/y" } })).keyPrefix).toBe("x/y");
    expect(firstRunSchedules(config)).toEqual({ ...config.schedules, drill: "0 6 * * 0" });
    expect(packageVersion('{"version":"1.2.3"}')).toBe("1.2.3");
    expect(packageVersion("{}")).toBe("0.0.0");
  });
});
