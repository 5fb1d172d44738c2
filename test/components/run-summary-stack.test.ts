/**
 * The run-summary topic from the stack, with runSummary set: a topic of its own with one email
 * subscription per address, its ARN in the runner's ConfigMap and a grant to publish to it and to
 * nothing else in SNS (evaluated in iam-evaluation.test.ts). Without it: variant-stack.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { PolicyDocument } from "../../components/identity/iam-policies.js";
import { ACCOUNT, REGION, ofType, one, runStack, type StackRun } from "./stack-harness.js";

let run: StackRun;
beforeAll(async () => {
  run = await runStack("prod", { runSummary: { emails: ["ops@example.com", "dba@example.com"] } });
});

describe("the run-summary topic", () => {
  it("is a topic of its own, mailed to each address, apart from the alarms' topic", () => {
    const topic = one(run, "aws:sns/topic:Topic", "edms-backup-run-summary-topic").inputs;
    expect(topic).toMatchObject({ namePrefix: "edms-backup-runs-", displayName: "edms backup runs" });
    const arn = `arn:aws:sns:${REGION}:${ACCOUNT}:edms-backup-runs-20260111abcdef`;
    expect(run.outputs.runSummaryTopicArn).toBe(arn);
    expect(run.outputs.runSummaryTopicArn).not.toBe(run.outputs.alertTopicArn);
    const subscriptions = ofType(run, "aws:sns/topicSubscription:TopicSubscription")
      .filter((s) => s.name.startsWith("edms-backup-run-summary-"))
      .map((s) => s.inputs);
    expect(subscriptions).toEqual([
      { topic: arn, protocol: "email", endpoint: "ops@example.com" },
      { topic: arn, protocol: "email", endpoint: "dba@example.com" },
    ]);
  });

  it("is what the runner publishes to, and all the runner may do with SNS", () => {
    const data = one(run, "kubernetes:core/v1:ConfigMap", "edms-backup-schedule-config").inputs.data;
    expect((data as Record<string, string>).RUN_SUMMARY_TOPIC_ARN).toBe(run.outputs.runSummaryTopicArn);
    const policy = one(run, "aws:iam/rolePolicy:RolePolicy", "edms-backup-identity-policy").inputs.policy;
    const sns = (JSON.parse(String(policy)) as PolicyDocument).Statement.filter((s) =>
      JSON.stringify(s.Action).includes("sns:"),
    );
    expect(sns).toEqual([
      { Sid: "PublishRunSummaries", Effect: "Allow", Action: "sns:Publish", Resource: run.outputs.runSummaryTopicArn },
    ]);
  });
});
