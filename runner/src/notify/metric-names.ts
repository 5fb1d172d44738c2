// The metric names live beside the env contract now (runner/src/metric-names.ts). This re-export
// only keeps commands/status.ts compiling while the restore work in flight there lands; point that
// import at ../metric-names.js and delete this file.
export * from "../metric-names.js";
