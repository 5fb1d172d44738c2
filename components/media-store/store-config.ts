/**
 * The stack-config side of the content store (MEDIA_FORMAT=store, issue 22): the store key's
 * schema, the gc CronJob's default schedule, when gc runs, and the cross-field problems of these
 * keys. stack-config.ts declares the keys (mediaFormat, mediaStore, mediaStoreKey) and reports these
 * problems with every other one.
 */
import { z } from "zod";
import { MAX_ALARM_RANGE_SECONDS } from "../../runner/src/metric-names.js";
import { DEFAULT_MEDIA_FORMAT, type MediaFormat } from "../../runner/src/contract.js";
import { cronProblem, isKnownTimeZone, longestIntervalDays } from "../config/schedules.js";
import { SECRET_PLACEHOLDER } from "../config/stack-file.js";

/** Every day at 05:30, after the daily (02:00), weekly (03:00) and monthly (04:00) backups. */
export const DEFAULT_GC_SCHEDULE = "30 5 * * *";

/** What the runner accepts (MEDIA_STORE_KEY: at least 32 characters). */
export const STORE_KEY_MIN_LENGTH = 32;

/**
 * The key itself. Messages never quote it. Read without the Pulumi CLI (check-config, the tests),
 * a `pulumi config set --secret` value is only known to be there (SECRET_PLACEHOLDER).
 */
export const storeKeySchema = z
  .string({
    message: "must be a string: set it with `openssl rand -hex 32 | pulumi config set --secret mediaStoreKey`",
  })
  .refine((key) => key === SECRET_PLACEHOLDER || key.trim().length >= STORE_KEY_MIN_LENGTH, {
    message: `must be at least ${STORE_KEY_MIN_LENGTH} characters (openssl rand -hex 32)`,
  })
  .refine((key) => key === key.trim(), { message: "must not start or end with white space" });

/** The fields of the stack config these rules read (mediaFormat: unset before the default is applied). */
export interface StoreConfigView {
  mediaFormat?: MediaFormat;
  media?: unknown;
  mediaStore: { gc: { enabled?: boolean; schedule: string } };
  cloudwatchNamespace?: string;
  timeZone: string;
  alerts: { graceHours: number };
}

/**
 * Backups write the content store: the stack has a media folder and mediaFormat is store (the
 * default). Then it has a store key for the backup pods and, unless told otherwise, gc.
 */
export function usesStore(config: Pick<StoreConfigView, "mediaFormat" | "media">): boolean {
  return config.media !== undefined && (config.mediaFormat ?? DEFAULT_MEDIA_FORMAT) === "store";
}

/**
 * gc runs while the store may hold objects: when backups use it, or when asked to (after
 * switching back to tar, store sets keep their objects until they expire and gc frees them).
 */
export function gcEnabled(config: StoreConfigView): boolean {
  return config.mediaStore.gc.enabled ?? usesStore(config);
}

/** Hours the gc alarm waits past the gc schedule's longest interval (the backups' alert grace). */
export function gcAlarmWindowHours(config: StoreConfigView): number {
  return longestIntervalDays(config.mediaStore.gc.schedule, config.timeZone) * 24 + config.alerts.graceHours;
}

export function mediaStoreProblems(config: StoreConfigView): Array<{ path: string[]; message: string }> {
  const problems: Array<{ path: string[]; message: string }> = [];
  if (config.mediaFormat === "store" && config.media === undefined) {
    problems.push({
      path: ["mediaFormat"],
      message: "is store, but there is no media folder (media): remove mediaFormat or configure media",
    });
  }
  const { schedule } = config.mediaStore.gc;
  if (gcEnabled(config) && config.cloudwatchNamespace && !cronProblem(schedule) && isKnownTimeZone(config.timeZone)) {
    // The gc alarm watches gc's own success metric, and CloudWatch looks back at most 7 days.
    const windowHours = Math.ceil(gcAlarmWindowHours(config));
    const maxHours = MAX_ALARM_RANGE_SECONDS / 3600;
    if (windowHours > maxHours) {
      problems.push({
        path: ["mediaStore", "gc", "schedule"],
        message: `("${schedule}") leaves up to ${windowHours} h between gc runs with alerts.graceHours: the gc alarm can watch at most ${maxHours} h; run gc more often (e.g. "${DEFAULT_GC_SCHEDULE}")`,
      });
    }
  }
  return problems;
}
