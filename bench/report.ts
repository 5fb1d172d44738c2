// The bench's report: the ratios beside each row, issue 13's targets with this run's verdict, and
// the stage tables of the matrices.
import { MiB, RESTORE_JOBS, table, type Row } from "./harness.js";
import type { StageRow } from "./matrix-groups.js";

/** Everything a report is made of, gathered by the groups. */
export interface Results {
  header: string;
  rows: Row[];
  matrixRows: Row[];
  mediaStage: StageRow[];
  dumpStage: StageRow[];
  /** The media folder's size, for the media stage's ratio to its source. */
  mediaBytes: number;
}

/** The rows a ratio or a target compares, by group and the start of their name. */
function keyRows(rows: Row[]) {
  const byName = (g: string, n: string) => rows.find((r) => r.group === g && r.name.startsWith(n));
  return {
    byName,
    limit: byName("backup", "limit")!,
    today: byName("backup", "today"),
    runnerFile: byName("backup", "runner")!,
    runnerAge: byName("backup", "runner → file:// + age"),
    s3Age: byName("s3", "runner → s3:// (moto) + age"),
    rs3: byName("s3", "runner"),
    shell: byName("s3", "shell"),
    rr: byName("restore", "runner"),
    pr: byName("restore", "pg_restore"),
    rj: byName("restore", "runner restore --scratch-dir"),
    pj: byName("restore", "pg_restore --jobs"),
  };
}

/** The ratio shown beside each row, keyed "group/name". */
export function ratiosOf(rows: Row[], matrixRows: Row[]): Record<string, string> {
  const { byName, limit, today, runnerFile, runnerAge, s3Age, rs3, shell, rr, pr, rj, pj } = keyRows(rows);
  const ratios: Record<string, string> = {
    [`backup/${runnerFile.name}`]:
      `runner/limit ${(runnerFile.wallS / limit.wallS).toFixed(2)}` +
      (today ? `, runner/today ${(runnerFile.wallS / today.wallS).toFixed(2)}` : ""),
  };
  if (runnerAge) ratios[`backup/${runnerAge.name}`] = `age/plain ${(runnerAge.wallS / runnerFile.wallS).toFixed(3)}`;
  if (s3Age && rs3) ratios[`s3/${s3Age.name}`] = `age/plain ${(s3Age.wallS / rs3.wallS).toFixed(3)}`;
  if (rs3 && shell)
    ratios[`s3/${rs3.name}`] =
      `runner/shell ${(rs3.wallS / shell.wallS).toFixed(2)}, runner/limit ${(rs3.wallS / limit.wallS).toFixed(2)}`;
  if (rr && pr) ratios[`restore/${rr.name}`] = `runner/baseline ${(rr.wallS / pr.wallS).toFixed(2)}`;
  if (rj && pj) ratios[`restore/${rj.name}`] = `runner/baseline ${(rj.wallS / pj.wallS).toFixed(2)}`;
  const dbLimit = matrixRows.find((m) => m.group === "db-matrix" && m.name.startsWith("limit"));
  for (const m of matrixRows) {
    const against = m.group === "db-matrix" ? dbLimit! : limit;
    if (m !== dbLimit) ratios[`${m.group}/${m.name}`] = `/limit ${(m.wallS / against.wallS).toFixed(2)}`;
  }

  const node = byName("start-up", "node -e 0");
  if (node)
    for (const r of rows.filter((x) => x.group === "start-up" && x !== node))
      ratios[`start-up/${r.name}`] = `+${((r.wallS - node.wallS) * 1000).toFixed(0)} ms over node -e 0`;
  return ratios;
}

/** Issue 13's targets, one row each, with what this run measured. */
function targetLines(rows: Row[]): string[] {
  const { limit, runnerFile, rs3, shell, rr, pr, rj, pj } = keyRows(rows);
  const verdict = (value: number | undefined, max: number, digits = 2) =>
    value === undefined || Number.isNaN(value)
      ? ["not measured", ""]
      : [value.toFixed(digits), value <= max ? "met" : "**missed**"];
  const targets: [string, string, number | undefined, number, number?][] = [
    ["backup to file://, wall time / (pg_dump -Fc ∥ tar \\| cat)", "≤ 1.0", runnerFile.wallS / limit.wallS, 1.0],
    ["backup to S3 (moto), wall time / shell pipelines", "≤ 1.0", rs3 && shell && rs3.wallS / shell.wallS, 1.0],
    ["restore (verified) / createdb + pg_restore ∥ tar -x (unverified)", "≤ 1.2", rr && pr && rr.wallS / pr.wallS, 1.2],
    [
      `restore --scratch-dir --jobs ${RESTORE_JOBS} / pg_restore --jobs ${RESTORE_JOBS} of a file ∥ tar -x`,
      "≤ 1.2",
      rj && pj && rj.wallS / pj.wallS,
      1.2,
    ],
    ["peak RSS of the process tree, backup to file://, MiB", "≤ 200", runnerFile.peakRssMiB, 200, 0],
    ["peak RSS of the process tree, backup to S3, MiB", "≤ 200", rs3?.peakRssMiB, 200, 0],
    ["peak RSS of the process tree, restore, MiB", "≤ 200", rr?.peakRssMiB, 200, 0],
    // 0.1 MiB is the page rounding of the manifest and folders (see BENCHMARKS.md).
    ["temporary bytes, backup to file://, MiB", "0 (≤ 0.1 rounding)", runnerFile.tempMiB, 0.1, 1],
    ["temporary bytes, backup to S3, MiB", "0", rs3?.tempMiB, 0, 1],
  ];
  const text = ["", "| target (issue 13) | goal | this run | verdict |", "|---|---|---:|---|"];
  for (const [what, goal, value, max, digits] of targets) {
    const [shown, ok] = verdict(value, max, digits);
    text.push(`| ${what} | ${goal} | ${shown} | ${ok} |`);
  }
  return text;
}

/** The printed report: the header, the table with its ratios, the stage tables and the targets. */
export function reportText(results: Results, ratios: Record<string, string>): string[] {
  const { header, rows, matrixRows, mediaStage, dumpStage, mediaBytes } = results;
  const text = [header, "", table([...rows, ...matrixRows], ratios)];
  if (mediaStage.length) {
    text.push(
      "",
      "| media stage alone: tar + compressor → wc -c | s | output MiB | ratio to source |",
      "|---|---:|---:|---:|",
    );
    for (const m of mediaStage)
      text.push(
        `| ${m.name} | ${m.seconds.toFixed(2)} | ${m.outputMiB.toFixed(1)} | ${(m.outputMiB / (mediaBytes / MiB)).toFixed(3)} |`,
      );
  }
  text.push(...targetLines(rows));
  if (dumpStage.length) {
    text.push("", "| dump stage alone: pg_dump (+ zstd) → wc -c | s | output MiB |", "|---|---:|---:|");
    for (const d of dumpStage) text.push(`| ${d.name} | ${d.seconds.toFixed(2)} | ${d.outputMiB.toFixed(1)} |`);
  }
  return text;
}
