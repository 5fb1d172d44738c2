/**
 * CronJob specs with secure, boring defaults: a time zone, no overlapping runs,
 * bounded lateness and duration, kept history, and pods that are never restarted in place (a
 * failed backup starts over in a fresh pod, so a half-written upload is never resumed).
 */
import type { ICronJobSpec } from "kubernetes-models/batch/v1/CronJobSpec";
import type { IPodSpec } from "kubernetes-models/v1/PodSpec";
import { cronProblem, isKnownTimeZone } from "../config/schedules.js";

/** A schedule that never matters: the ad-hoc CronJob is suspended and only used as a Job template. */
export const SUSPENDED_SCHEDULE = "0 0 1 1 *";

export interface JobPolicy {
  startingDeadlineSeconds: number;
  activeDeadlineSeconds: number;
  backoffLimit: number;
  successfulJobsHistoryLimit: number;
  failedJobsHistoryLimit: number;
}

export interface CronJobSettings {
  schedule: string;
  timeZone: string;
  /** Suspended CronJobs never start on their own (the ad-hoc one). */
  suspend: boolean;
  labels: Record<string, string>;
  pod: IPodSpec;
  policy: JobPolicy;
}

export function cronJobSpec(s: CronJobSettings): ICronJobSpec {
  const problem = cronProblem(s.schedule);
  if (problem) throw new Error(`invalid schedule "${s.schedule}": ${problem}`);
  if (!isKnownTimeZone(s.timeZone)) throw new Error(`unknown time zone "${s.timeZone}"`);
  if (s.pod.restartPolicy !== "Never") throw new Error("backup pods must use restartPolicy Never");
  return {
    schedule: s.schedule,
    timeZone: s.timeZone,
    // Two runs of the same tier at once would compete for the database and the media volume.
    concurrencyPolicy: "Forbid",
    suspend: s.suspend,
    startingDeadlineSeconds: s.policy.startingDeadlineSeconds,
    successfulJobsHistoryLimit: s.policy.successfulJobsHistoryLimit,
    failedJobsHistoryLimit: s.policy.failedJobsHistoryLimit,
    jobTemplate: {
      metadata: { labels: s.labels },
      spec: {
        backoffLimit: s.policy.backoffLimit,
        activeDeadlineSeconds: s.policy.activeDeadlineSeconds,
        template: {
          metadata: { labels: s.labels },
          spec: s.pod,
        },
      },
    },
  };
}
