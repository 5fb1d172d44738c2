// The Grafana dashboard in the repository (docs/grafana-dashboard.json) as its panels' queries,
// with Grafana's template variables replaced by what Grafana itself sends for "All" and a
// one-minute interval, so a test can evaluate each against a real Prometheus.
import { readFile } from "node:fs/promises";
import path from "node:path";

export const DASHBOARD = path.resolve(__dirname, "../../docs/grafana-dashboard.json");

interface Panel {
  title: string;
  type: string;
  panels?: Panel[];
  targets?: Array<{ expr?: string }>;
}

export interface PanelQuery {
  panel: string;
  expr: string;
}

/** Grafana's built-in interval variables and the dashboard's own ($tier: "All" is `.*`). */
export function substituteVariables(expr: string): string {
  return expr
    .replace(/\$(__rate_interval|__interval|__range)\b|\$\{(__rate_interval|__interval|__range)\}/g, "1m")
    .replace(/\$tier\b|\$\{tier\}/g, ".*");
}

export async function dashboardQueries(): Promise<PanelQuery[]> {
  const dashboard = JSON.parse(await readFile(DASHBOARD, "utf8")) as { panels: Panel[] };
  const out: PanelQuery[] = [];
  const walk = (panels: Panel[]) => {
    for (const p of panels) {
      if (p.panels) walk(p.panels);
      if (p.type === "row") continue;
      if (!p.targets?.length) throw new Error(`panel "${p.title}" has no query`);
      for (const t of p.targets) {
        if (!t.expr) throw new Error(`panel "${p.title}" has a target without expr`);
        out.push({ panel: p.title, expr: substituteVariables(t.expr) });
      }
    }
  };
  walk(dashboard.panels);
  return out;
}
