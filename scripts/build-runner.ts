// `npm run build`: writes the runner bundle to dist/edms-backup.cjs (see components/image/runner-bundle.ts).
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { bundleRunner } from "../components/image/runner-bundle.js";

const root = path.resolve(__dirname, "..");
mkdirSync(path.join(root, "dist"), { recursive: true });
// Executable: the bundle starts with a `#!/usr/bin/env node` line (package.json's "bin").
writeFileSync(path.join(root, "dist", "edms-backup.cjs"), bundleRunner(root), { mode: 0o755 });
