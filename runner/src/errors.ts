/**
 * Every failure the runner reports ends as one of these: one message that says what went wrong
 * and what to do, and the exit code the process ends with.
 */
export class RunnerError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = 1,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "RunnerError";
  }
}

/** Bad input from the operator (flags, environment): exit 2, nothing was touched. */
export class ConfigError extends RunnerError {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`, 2);
    this.name = "ConfigError";
  }
}

/** The run was stopped by a signal (Kubernetes sends SIGTERM before killing a pod). */
export class InterruptedError extends RunnerError {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}: the run was stopped, nothing was committed`, signal === "SIGINT" ? 130 : 143);
    this.name = "InterruptedError";
  }
}

export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/**
 * What lies behind a failure (`new Error(message, { cause })`), outermost first, one line each:
 * the SDK's or the driver's own error under the runner's sentence. Logged at debug only: the
 * sentence says what to do, the chain is for whoever debugs it.
 */
export function causeChain(error: unknown): string[] {
  const out: string[] = [];
  const seen = new Set<unknown>([error]);
  let cause = error instanceof Error ? error.cause : undefined;
  while (cause !== undefined && cause !== null && !seen.has(cause)) {
    seen.add(cause);
    out.push(describeCause(cause));
    cause = cause instanceof Error ? cause.cause : undefined;
  }
  return out;
}

function describeCause(cause: unknown): string {
  if (!(cause instanceof Error)) return String(cause);
  const code = (cause as NodeJS.ErrnoException).code;
  const status = (cause as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const details = [code && `code ${code}`, status && `HTTP ${status}`].filter(Boolean).join(", ");
  return `${cause.name}: ${cause.message}${details ? ` (${details})` : ""}`;
}

/**
 * A failure after the restore had started replacing the live copies, which could not all be put
 * back: the message says exactly what is where, and what to do.
 */
export class PartialSwapError extends RunnerError {
  constructor(message: string) {
    super(message, 1);
    this.name = "PartialSwapError";
  }
}
