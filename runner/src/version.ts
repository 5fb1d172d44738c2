declare const __RUNNER_VERSION__: string | undefined;

/** Injected by the bundler (components/image/runner-bundle.ts); "dev" when run from source. */
export const RUNNER_VERSION: string = typeof __RUNNER_VERSION__ === "string" ? __RUNNER_VERSION__ : "dev";
