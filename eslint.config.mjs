// typescript-eslint with a small rule set: the mistakes tsc does not catch (a promise nobody
// awaits, a value imported only as a type) and the contract's one rule (nothing but zod).
import tseslint from "typescript-eslint";

/** The modules the Pulumi program imports from the runner (see test/runner/contract.test.ts); contract.ts re-exports contract/. */
const CONTRACT_MODULES = ["runner/src/contract.ts", "runner/src/metric-names.ts", "runner/src/prometheus-names.ts"];

/** The CLI layer: the only files that may import cli/. */
const CLI_LAYER = ["runner/src/cli/**", "runner/src/cli.ts", "runner/src/main.ts"];
/** The backup's own modules: they never import restore/ (see the layering blocks below). */
const BACKUP_MODULES = [
  "runner/src/cli/backup-command.ts",
  "runner/src/commands/backup*.ts",
  "runner/src/media-store/store-writer.ts",
  "runner/src/stages/**/*.ts",
];
const NOT_CLI = {
  group: ["**/cli/*", "./cli.js", "../cli.js"],
  message: "only the CLI layer imports cli/ (cli -> commands -> domain)",
};
const NOT_COMMANDS = {
  group: ["**/commands/*"],
  message:
    "only cli/ and commands/ import commands/ (cli -> commands -> domain); notify/ reports, it never runs a command",
};
const NOT_RESTORE = {
  group: ["**/restore/*"],
  message: "backup never imports from restore/: move what both need to a folder both import (paths/, ...)",
};

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", ".demo/", ".bench/", "**/*.mjs", "**/*.mts", "**/*.cjs"] },
  {
    files: ["**/*.ts"],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@typescript-eslint": tseslint.plugin },
    // Directives for rules outside this small set (no-control-regex) stay where they are.
    linterOptions: { reportUnusedDisableDirectives: "off" },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      // `_name`: a property left out of a rest copy on purpose (`const { a: _a, ...rest } = x`).
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none" },
      ],
      // `typeof import("./sdk.js")` types the AWS SDK that runner/src/aws/load.ts loads lazily.
      "@typescript-eslint/consistent-type-imports": ["error", { disallowTypeAnnotations: false }],
    },
  },
  {
    // Size guards (issue 24): warnings, not errors, so a long function is named in every lint run
    // without blocking a fix; `npm run lint:size` lists them alone. Tests are left out: a test file
    // is long because it lists cases, not because it does several jobs.
    files: ["runner/src/**/*.ts", "components/**/*.ts", "index.ts", "scripts/**/*.ts", "bench/**/*.ts"],
    rules: {
      "max-lines": ["warn", { max: 400, skipBlankLines: true, skipComments: true }],
      "max-lines-per-function": ["warn", { max: 80, skipBlankLines: true, skipComments: true, IIFEs: true }],
    },
  },
  // Layering (issue 24): cli -> commands -> everything else. Only the CLI (cli/, cli.ts, main.ts)
  // imports cli/; only cli/ and commands/ import commands/ (so notify/ never does). A file matched
  // by two blocks takes the later block's rule whole, so each block lists every pattern it needs.
  {
    files: ["runner/src/**/*.ts"],
    ignores: [...CLI_LAYER, "runner/src/commands/**"],
    rules: { "no-restricted-imports": ["error", { patterns: [NOT_CLI, NOT_COMMANDS] }] },
  },
  {
    files: ["runner/src/commands/**/*.ts"],
    rules: { "no-restricted-imports": ["error", { patterns: [NOT_CLI] }] },
  },
  {
    // Backup never imports from restore: what both need (resolved paths, the read path) lives in a
    // folder both import, so a change to the restore cannot break the backup.
    files: BACKUP_MODULES,
    rules: { "no-restricted-imports": ["error", { patterns: [NOT_RESTORE] }] },
  },
  {
    files: BACKUP_MODULES.filter((f) => f.includes("/commands/")),
    rules: { "no-restricted-imports": ["error", { patterns: [NOT_CLI, NOT_RESTORE] }] },
  },
  {
    files: BACKUP_MODULES.filter((f) => !f.includes("/commands/") && !f.includes("/cli/")),
    rules: { "no-restricted-imports": ["error", { patterns: [NOT_CLI, NOT_COMMANDS, NOT_RESTORE] }] },
  },
  {
    files: CONTRACT_MODULES,
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              // zod, and (for the one import point, contract.ts) the contract's own parts.
              regex: "^(?!zod$|\\./contract/[a-z-]+\\.js$)",
              message:
                "the contract modules import nothing but zod: the Pulumi program and the runner both import them",
            },
          ],
        },
      ],
    },
  },
  {
    files: ["runner/src/contract/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "^(?!zod$|\\./[a-z-]+\\.js$)",
              message: "a part of the contract imports nothing but zod and the contract's other parts (contract/)",
            },
          ],
        },
      ],
    },
  },
);
