/**
 * Dead exports: a name the product code (runner/src, components/) exports that no other file of
 * the repository imports (tests, scripts, bench and the Pulumi program count as importers) and its
 * own file never uses: dead code, which reviews found by hand (issue 24).
 *
 * A small script on the TypeScript compiler API instead of knip or ts-prune: it reads the same
 * program `tsc` checks (tsconfig.json), knows `export *` barrels and `import type`, and needs no
 * configuration file of its own. Run by test/dead-exports.test.ts (so `npm test` fails on a new
 * one) and by hand: `npx tsx scripts/dead-exports.ts` prints one `file: name` line per dead export.
 */
import path from "node:path";
import ts from "typescript";

/** The folders whose exports must each be imported somewhere else. */
const CHECKED = ["runner/src/", "components/"];

interface ModuleUse {
  /** Names other files import (`import { a }`, `export { a } from`, `import type { A }`). */
  names: Set<string>;
  /** A namespace import or a dynamic import(): every export counts as used. */
  all: boolean;
  /** `export * from` targets: a name used from this module may come from them. */
  starFrom: Set<string>;
}

/** How often each identifier appears in a file (its declaration counts once). */
function identifierCounts(file: ts.SourceFile): Map<string, number> {
  const counts = new Map<string, number>();
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node)) counts.set(node.text, (counts.get(node.text) ?? 0) + 1);
    ts.forEachChild(node, visit);
  };
  visit(file);
  return counts;
}

function loadProgram(root: string): ts.Program {
  const configPath = path.join(root, "tsconfig.json");
  const config = ts.readConfigFile(configPath, (f) => ts.sys.readFile(f));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
  return ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
}

/** Every `file: name` that CHECKED exports and no other file imports, sorted. */
export function deadExports(root: string): string[] {
  const program = loadProgram(root);
  const checker = program.getTypeChecker();
  const own = program.getSourceFiles().filter((f) => !f.isDeclarationFile && !f.fileName.includes("/node_modules/"));
  const uses = new Map<string, ModuleUse>();
  const use = (file: string): ModuleUse => {
    let u = uses.get(file);
    if (!u) uses.set(file, (u = { names: new Set(), all: false, starFrom: new Set() }));
    return u;
  };
  const resolve = (specifier: string, from: ts.SourceFile): string | undefined =>
    ts.resolveModuleName(specifier, from.fileName, program.getCompilerOptions(), ts.sys).resolvedModule
      ?.resolvedFileName;

  for (const file of own) {
    const visit = (node: ts.Node): void => {
      if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
        const target = ts.isStringLiteral(node.moduleSpecifier) && resolve(node.moduleSpecifier.text, file);
        if (target) {
          const u = use(target);
          if (ts.isImportDeclaration(node)) {
            const clause = node.importClause;
            if (clause?.name) u.names.add("default");
            const bindings = clause?.namedBindings;
            if (bindings && ts.isNamespaceImport(bindings)) u.all = true;
            if (bindings && ts.isNamedImports(bindings))
              for (const b of bindings.elements) u.names.add((b.propertyName ?? b.name).text);
            if (!clause) u.all = true; // `import "./x.js"`: run for its effects
          } else if (!node.exportClause) use(file.fileName).starFrom.add(target);
          else if (ts.isNamespaceExport(node.exportClause)) u.all = true;
          else for (const e of node.exportClause.elements) u.names.add((e.propertyName ?? e.name).text);
        }
      }
      // import("./x.js") and `typeof import("./x.js")`: every export may be reached.
      const dynamic =
        (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0]) ||
        (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && node.argument.literal);
      if (dynamic && ts.isStringLiteral(dynamic)) {
        const target = resolve(dynamic.text, file);
        if (target) use(target).all = true;
      }
      ts.forEachChild(node, visit);
    };
    visit(file);
  }

  // A name used from a barrel is used from each module the barrel re-exports with `export *`.
  for (let changed = true; changed;) {
    changed = false;
    for (const u of uses.values())
      for (const from of u.starFrom) {
        const target = use(from);
        if (u.all && !target.all) changed = target.all = true;
        for (const name of u.names)
          if (!target.names.has(name)) {
            target.names.add(name);
            changed = true;
          }
      }
  }

  const dead: string[] = [];
  for (const file of own) {
    const relative = path.relative(root, file.fileName);
    if (!CHECKED.some((dir) => relative.startsWith(dir))) continue;
    const u = uses.get(file.fileName);
    if (u?.all) continue;
    const moduleSymbol = checker.getSymbolAtLocation(file);
    if (!moduleSymbol) continue;
    const reexported = new Set(
      [...(u?.starFrom ?? [])].flatMap((f) => {
        const sf = program.getSourceFile(f);
        const s = sf && checker.getSymbolAtLocation(sf);
        return s ? checker.getExportsOfModule(s).map((e) => e.name) : [];
      }),
    );
    const mentions = identifierCounts(file);
    for (const exported of checker.getExportsOfModule(moduleSymbol)) {
      if (reexported.has(exported.name)) continue; // the module it comes from is checked
      // Used in its own module (a type in an exported signature, a constant a function reads):
      // an export more than strictly needed, not dead code; only a name nothing reads is reported.
      if (!u?.names.has(exported.name) && (mentions.get(exported.name) ?? 0) <= 1)
        dead.push(`${relative}: ${exported.name}`);
    }
  }
  return dead.sort();
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(__filename)) {
  const dead = deadExports(path.resolve(__dirname, ".."));
  for (const line of dead) console.log(line);
  process.exitCode = dead.length ? 1 : 0;
}
