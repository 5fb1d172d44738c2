/**
 * A second `pulumi up` after any edit must work against an ECR repository with immutable tags:
 * the tag changes exactly when what `docker build` reads changes, and the build context holds only
 * that. The Docker provider hashes its context itself, which cannot run under mocks, so the test
 * asserts the context the program generates. Edits are made on a scratch copy of the tree, with no
 * `npm run build` (and no dist/) there.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildImageContext,
  CONTEXTS_DIR,
  imageContext,
  writeImageContext,
  type ImageBuildArgs,
  type ImageContext,
} from "../../components/image/image-context.js";
import { imageTag } from "../../components/image/image-rules.js";
import { REPO_ROOT, scratchTree } from "../helpers/scratch-tree.js";

const ARGS: ImageBuildArgs = { PG_MAJOR: "15", PG_APT_SOURCE: "pgdg" };

let scratch: string;
let baseline: ImageContext;

// Each bundle takes seconds on a shared machine: build as few as the assertions need.
function context(root = scratch): ImageContext {
  return buildImageContext(root, "0.1.0", ARGS);
}

/** Applies edits to the scratch tree, returns what `fn` computed from it, and undoes them. */
function withEdits<T>(edits: Array<[string, (text: string) => string]>, fn: () => T): T {
  const originals = edits.map(([file, change]) => {
    const full = path.join(scratch, file);
    const before = readFileSync(full, "utf8");
    const after = change(before);
    expect(after).not.toBe(before);
    writeFileSync(full, after);
    return [full, before] as const;
  });
  try {
    return fn();
  } finally {
    for (const [full, before] of originals) writeFileSync(full, before);
  }
}

function fileMap(c: ImageContext): Record<string, string> {
  return Object.fromEntries(c.files.map((f) => [f.path, f.data.toString("base64")]));
}

beforeAll(() => {
  scratch = scratchTree("edms-image-ctx", "link");
  baseline = context();
});

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe("the runner image's build context", () => {
  it("holds exactly the Dockerfile and the runner bundle, in a folder named by the tag", () => {
    const c = baseline;
    const dir = writeImageContext(scratch, c);
    expect(c.dir).toBe(`${CONTEXTS_DIR}/${c.tag}`);
    expect(readdirSync(dir).sort()).toEqual(["Dockerfile", "edms-backup.cjs"]);
    expect(readFileSync(path.join(dir, "Dockerfile"))).toEqual(readFileSync(path.join(scratch, "runner/Dockerfile")));
    // The bundle runs with plain node from the context, nothing beside it (as in the image).
    const version = execFileSync(process.execPath, [path.join(dir, "edms-backup.cjs"), "--version"], {
      cwd: dir,
      env: { PATH: process.env.PATH },
    });
    expect(version.toString().trim()).toBe("0.1.0");
    // Writing it again (a second `pulumi up`, or parallel programs) changes nothing.
    writeImageContext(scratch, c);
    expect(readdirSync(path.join(scratch, CONTEXTS_DIR))).toEqual([c.tag]);
    expect(readdirSync(dir).sort()).toEqual(["Dockerfile", "edms-backup.cjs"]);
  });

  it("the tag and the context do not depend on where the repository is checked out", () => {
    const here = context(REPO_ROOT);
    expect(baseline.tag).toBe(here.tag);
    expect(fileMap(baseline)).toEqual(fileMap(here));
  });

  it("a runner source change gives a new tag and bundle without `npm run build`", () => {
    const after = withEdits(
      [["runner/src/main.ts", (t) => `${t}\nprocess.env.EDMS_SCRATCH_MARK ??= "edited";\n`]],
      () => context(),
    );
    expect(after.tag).not.toBe(baseline.tag);
    const bundle = after.files.find((f) => f.path === "edms-backup.cjs")!.data.toString();
    expect(bundle).toContain("EDMS_SCRATCH_MARK");
  });

  it.each<[string, (text: string) => string]>([
    ["runner/Dockerfile", (t) => t.replace("apt-get clean;", "apt-get clean; true;")],
    ["package.json", (t) => t.replace('"version": "0.1.0"', '"version": "0.1.1"')],
    ["runner/src/contract.ts", (t) => `${t}\nprocess.env.EDMS_CONTRACT_MARK ??= "1";\n`],
  ])("a change to %s, which reaches the image, changes the tag", (file, change) => {
    expect(withEdits([[file, change]], () => context()).tag).not.toBe(baseline.tag);
  });

  it("a change to docs, Pulumi.prod.yaml, a component, index.ts or a test changes neither the tag nor the context", () => {
    const after = withEdits(
      [
        ["README.md", (t) => `${t}\nAn edited paragraph.\n`],
        ["docs/DEPLOY.md", (t) => `${t}\nAn edited paragraph.\n`],
        ["Pulumi.prod.yaml", (t) => t.replace("edms-backup:pgMajor:", "# edited\n  edms-backup:pgMajor:")],
        ["components/schedule/pod-spec.ts", (t) => `${t}\nexport const SCRATCH_MARK = 1;\n`],
        ["components/config/stack-config.ts", (t) => `${t}\nexport const SCRATCH_MARK = 1;\n`],
        ["index.ts", (t) => `${t}\nexport const scratchMark = 1;\n`],
        ["test/components/prod-stack.test.ts", (t) => `${t}\n// edited\n`],
        // A comment in the runner's source does not reach the bundle, so the image cannot differ.
        ["runner/src/main.ts", (t) => `${t}\n// only a comment\n`],
      ],
      () => context(),
    );
    expect(after.tag).toBe(baseline.tag);
    expect(after.dir).toBe(baseline.dir);
    expect(fileMap(after)).toEqual(fileMap(baseline));
  });

  it("every build argument is part of the tag", () => {
    const tags = [
      baseline.tag,
      imageContext(baseline.files, "0.1.0", { PG_MAJOR: "16", PG_APT_SOURCE: "pgdg" }).tag,
      imageContext(baseline.files, "0.1.0", { PG_MAJOR: "15", PG_APT_SOURCE: "debian" }).tag,
    ];
    expect(new Set(tags).size).toBe(3);
    expect(tags[1]).toMatch(/^0\.1\.0-pg16-[0-9a-f]{12}$/);
  });

  it("no two different file sets or settings hash alike, whatever the names and bytes", () => {
    // Moving bytes between a name and its content, or between two settings, must not collide.
    const tags = [
      imageTag("1", { PG_MAJOR: "15" }, [{ path: "a", data: "bc" }]),
      imageTag("1", { PG_MAJOR: "15" }, [{ path: "ab", data: "c" }]),
      imageTag("1", { PG_MAJOR: "15" }, [
        { path: "a", data: "b" },
        { path: "c", data: "" },
      ]),
      imageTag("1", { PG_MAJOR: "15", X: "" }, [{ path: "a", data: "bc" }]),
      imageTag("1", { PG_MAJOR: "15X" }, [{ path: "a", data: "bc" }]),
    ];
    expect(new Set(tags).size).toBe(tags.length);
    // Order of the inputs does not matter.
    expect(
      imageTag("1", { B: "2", A: "1" }, [
        { path: "y", data: "1" },
        { path: "x", data: "2" },
      ]),
    ).toBe(
      imageTag("1", { A: "1", B: "2" }, [
        { path: "x", data: "2" },
        { path: "y", data: "1" },
      ]),
    );
  });
});
