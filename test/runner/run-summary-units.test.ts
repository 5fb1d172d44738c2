// The run summary's subject as SNS takes it (printable ASCII, under 100 characters, one line)
// whatever the app name, tier or id hold; and the summary's text for the runs a test cannot make
// cheaply (a run that failed before its tier or id were known).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { drillPayload } from "../../runner/src/notify/drill-reporter.js";
import { failureOutcome } from "../../runner/src/notify/outcome.js";
import { backupSummary, drillSummary, snsSubject, topicRegion } from "../../runner/src/notify/run-summary.js";

const facts = { warnings: [], durationSeconds: 3 };

describe("the run summary", () => {
  it("has a subject SNS accepts for any text", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => {
        const subject = snsSubject(text);
        expect(subject.length).toBeLessThan(100);
        expect(subject).toMatch(/^[\x20-\x7e]*$/);
        expect(subject).toBe(subject.trim());
      }),
    );
    expect(snsSubject("edms\ndaily backup \u00e9")).toBe("edms?daily backup ?");
    expect(snsSubject("x".repeat(120))).toBe(`${"x".repeat(96)}...`);
  });

  it("says what it can of a backup that failed before its settings were valid", () => {
    const started = new Date("2026-12-07T02:00:00Z");
    const summary = backupSummary(
      failureOutcome({
        app: "edms",
        started,
        finished: new Date(started.getTime() + 1500),
        error: "BACKUP_TIER: required",
      }),
      facts,
    );
    expect(summary.subject).toBe("[FAILED] edms (unknown tier) backup FAILED");
    expect(summary.attributes).toEqual({ event: "backup", status: "failure", tier: undefined });
    expect(summary.message).toMatch(/^Error: +BACKUP_TIER: required$/m);
    expect(summary.message).not.toMatch(/^(Tier|Backup|Database|Media|Stored):/m);
  });

  it("says which tier a drill that could not start was for", () => {
    const summary = drillSummary(drillPayload("edms", { error: "no complete weekly backup", tier: "weekly" }), {
      warnings: ["no complete daily backup yet"],
      durationSeconds: 0.2,
    });
    expect(summary.subject).toBe("[FAILED] edms restore drill of weekly FAILED");
    expect(summary.message).toContain("\nWarnings:\n- no complete daily backup yet");
    expect(summary.message).not.toMatch(/^(Restore time|Checks):/m);
  });

  it("publishes in the topic's own region", () => {
    expect(topicRegion("arn:aws:sns:ap-southeast-1:123456789012:edms-runs")).toBe("ap-southeast-1");
  });
});
