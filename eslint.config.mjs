// typescript-eslint with a small rule set: the mistakes tsc does not catch (a promise nobody
// awaits, a value imported only as a type) and the contract's one rule (nothing but zod).
import tseslint from "typescript-eslint";

/** The modules the Pulumi program imports from the runner (see test/runner/contract.test.ts). */
const CONTRACT_MODULES = ["runner/src/contract.ts", "runner/src/metric-names.ts"];

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
    files: CONTRACT_MODULES,
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "^(?!zod$)",
              message:
                "the contract modules import nothing but zod: the Pulumi program and the runner both import them",
            },
          ],
        },
      ],
    },
  },
);
