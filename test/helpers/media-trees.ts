// Generated media folders, the way real ones look and the way hostile ones do, and a byte-exact
// snapshot to compare a restore against. Names are Buffers throughout: a name that is not valid
// UTF-8 must survive, so nothing here ever decodes one.
import { createHash } from "node:crypto";
import {
  chmod,
  lchown,
  link,
  lstat,
  lutimes,
  mkdir,
  readFile,
  readdir,
  readlink,
  symlink,
  writeFile,
} from "node:fs/promises";
import fc from "fast-check";

export type TreeNode =
  | { kind: "file"; name: Buffer; content: Buffer; mode: number; mtime: number }
  | { kind: "dir"; name: Buffer; mode: number; mtime: number; children: TreeNode[] }
  | { kind: "symlink"; name: Buffer; pick: number; mtime: number };

export interface MediaTree {
  root: { mode: number; mtime: number; children: TreeNode[] };
  /** Extra names for existing files: file index, folder index, name (all taken modulo what exists). */
  hardLinks: Array<{ file: number; dir: number; name: Buffer }>;
}

const b = (s: string): Buffer => Buffer.from(s, "utf8");

/** Names that broke, or could break, a listing parser, a shell, a glob or a UTF-8 decoder. */
export const HOSTILE_NAMES: readonly Buffer[] = [
  b("report 2024 (final).pdf"),
  b(`it's "quoted".txt`),
  b("back\\slash\\"),
  b("new\nline"),
  b("tab\there"),
  b("x -> ok"),
  b("a link to b"),
  b(" -> "),
  b("-rf"),
  b("--help"),
  b("-"),
  b("*"),
  b("?.txt"),
  b("[a-z]"),
  b("{a,b}"),
  b("$HOME"),
  b("%s%n"),
  b(".hidden"),
  b("~"),
  b(" leading and trailing "),
  b("a".repeat(250)),
  b("é".repeat(125)), // 250 bytes of two-byte characters
  b("café".normalize("NFC")),
  b("café".normalize("NFD")),
  b("Å".normalize("NFC")),
  b("Å".normalize("NFD")),
  b("文档.docx"),
  b("\r\x7f\x01"),
  Buffer.from([0xff, 0xfe, 0x41]), // not UTF-8
  Buffer.from([0x63, 0x61, 0x66, 0xe9]), // "café" in Latin-1
  Buffer.from([0xc3, 0x28]), // a broken two-byte sequence
  Buffer.from([0x5c, 0x33, 0x37, 0x37]), // the text "\377": must not be read as an escape
];

/** A valid file name: 1..255 bytes, no NUL or "/", not "." or "..". */
function validName(name: Buffer): boolean {
  if (name.length === 0 || name.length > 255) return false;
  if (name.includes(0) || name.includes(0x2f)) return false;
  const s = name.toString("latin1");
  return s !== "." && s !== "..";
}

export const nameArb: fc.Arbitrary<Buffer> = fc
  .oneof(
    { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_NAMES) },
    { weight: 2, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }).map(b) },
    { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 16 }).map((a) => Buffer.from(a)) },
    { weight: 2, arbitrary: fc.stringMatching(/^[a-z0-9_.-]{1,12}$/).map(b) },
  )
  .filter(validName);

// Whole seconds, as the archive keeps them: 1960 (tar warns, still restores), the epoch, the 2038
// boundary, 2100.
const mtimeArb = fc.oneof(
  fc.integer({ min: -315_619_200, max: 4_102_444_800 }),
  fc.constantFrom(-315_619_200, 0, 1, 315_532_800, 2_147_483_647, 2_147_483_648, 4_102_444_800),
);
// The runner (uid 10001) owns the tree, as in the pod; it must be able to read every file and
// enter every folder, so the owner bits always allow that.
const fileModeArb = fc.constantFrom(0o444, 0o400, 0o600, 0o640, 0o644, 0o660, 0o664, 0o700, 0o744, 0o750, 0o755);
const dirModeArb = fc.constantFrom(0o500, 0o550, 0o555, 0o700, 0o710, 0o750, 0o755);
const contentArb = fc.oneof(
  fc.constant(Buffer.alloc(0)),
  fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
  fc.string({ maxLength: 200 }).map(b),
);

const byName = { selector: (n: TreeNode) => n.name.toString("hex") };

const treeArbs = fc.letrec<{ children: TreeNode[]; node: TreeNode }>((tie) => ({
  children: fc.uniqueArray(tie("node"), { ...byName, maxLength: 5 }),
  // At the depth limit oneof takes the first arbitrary: a file, so the recursion ends.
  node: fc.oneof(
    { maxDepth: 3, depthIdentifier: "tree" },
    fc.record({
      kind: fc.constant("file" as const),
      name: nameArb,
      content: contentArb,
      mode: fileModeArb,
      mtime: mtimeArb,
    }),
    fc.record({ kind: fc.constant("symlink" as const), name: nameArb, pick: fc.nat(), mtime: mtimeArb }),
    fc.record({
      kind: fc.constant("dir" as const),
      name: nameArb,
      mode: dirModeArb,
      mtime: mtimeArb,
      children: tie("children"),
    }),
  ) as fc.Arbitrary<TreeNode>,
}));

export const mediaTreeArb: fc.Arbitrary<MediaTree> = fc.record({
  root: fc.record({ mode: fc.constantFrom(0o700, 0o750, 0o755), mtime: mtimeArb, children: treeArbs.children }),
  hardLinks: fc.array(fc.record({ file: fc.nat(), dir: fc.nat(), name: nameArb }), { maxLength: 3 }),
});

const SLASH = Buffer.from("/");
const join = (...parts: Buffer[]): Buffer => Buffer.concat(parts.flatMap((p, i) => (i ? [SLASH, p] : [p])));

/** A relative link target from folder `from` to `to` (both lists of components below the root). */
function relativeTarget(from: Buffer[], to: Buffer[]): Buffer {
  let common = 0;
  while (common < from.length && common < to.length && from[common]!.equals(to[common]!)) common += 1;
  const up = from.slice(common).map(() => b(".."));
  const parts = [...up, ...to.slice(common)];
  return parts.length ? join(...parts) : b(".");
}

/**
 * Creates `tree` in the empty folder `dir` and hands it to `owner` (when running as root), the
 * way a media volume looks to the pod: links that stay inside the folder (some dangling), hard
 * links across folders, restricted modes, mtimes far in the past and future.
 */
export async function materializeTree(
  dir: string,
  tree: MediaTree,
  owner?: { uid: number; gid: number },
): Promise<void> {
  const root = Buffer.from(dir);
  const files: Buffer[][] = [];
  const dirs: Array<{ at: Buffer[]; mode: number; mtime: number }> = [];
  const links: Array<{ at: Buffer[]; pick: number; mtime: number }> = [];
  const everything: Buffer[][] = [];
  const create = async (at: Buffer[], nodes: TreeNode[]): Promise<void> => {
    for (const node of nodes) {
      const here = [...at, node.name];
      const abs = join(root, ...here);
      if (node.kind === "file") {
        await writeFile(abs, node.content);
        files.push(here);
        everything.push(here);
      } else if (node.kind === "dir") {
        await mkdir(abs);
        dirs.push({ at: here, mode: node.mode, mtime: node.mtime });
        everything.push(here);
        await create(here, node.children);
      } else links.push({ at: here, pick: node.pick, mtime: node.mtime });
    }
  };
  await create([], tree.root.children);
  for (const l of links) {
    // A target inside the folder: another entry, the root, or a name that does not exist.
    const choice = l.pick % (everything.length + 2);
    const to = choice < everything.length ? everything[choice]! : choice === everything.length ? [] : [b("gone -> x")];
    await symlink(relativeTarget(l.at.slice(0, -1), to), join(root, ...l.at));
  }
  const folders = [[], ...dirs.map((d) => d.at)];
  const extra: Buffer[][] = [];
  for (const h of tree.hardLinks) {
    if (!files.length) break;
    const at = [...folders[h.dir % folders.length]!, h.name];
    const exists = await lstat(join(root, ...at)).then(
      () => true,
      () => false,
    );
    if (!exists) {
      await link(join(root, ...files[h.file % files.length]!), join(root, ...at));
      extra.push(at);
    }
  }
  const modeOf = new Map<string, TreeNode & { kind: "file" }>();
  const index = (at: Buffer[], nodes: TreeNode[]): void => {
    for (const n of nodes) {
      if (n.kind === "file") modeOf.set(join(...at, n.name).toString("hex"), n);
      if (n.kind === "dir") index([...at, n.name], n.children);
    }
  };
  index([], tree.root.children);
  if (owner) {
    for (const at of [...files, ...extra, ...links.map((l) => l.at), ...dirs.map((d) => d.at), []])
      await lchown(join(root, ...at), owner.uid, owner.gid);
  }
  for (const at of files) {
    const node = modeOf.get(join(...at).toString("hex"))!;
    await chmod(join(root, ...at), node.mode);
    await lutimes(join(root, ...at), node.mtime, node.mtime);
  }
  for (const l of links) await lutimes(join(root, ...l.at), l.mtime, l.mtime);
  // Deepest folders first, so setting one does not change its parent's mtime afterwards.
  for (const d of [...dirs].sort((x, y) => y.at.length - x.at.length)) {
    await chmod(join(root, ...d.at), d.mode);
    await lutimes(join(root, ...d.at), d.mtime, d.mtime);
  }
  await chmod(root, tree.root.mode);
  await lutimes(root, tree.root.mtime, tree.root.mtime);
}

export interface TreeSnapshot {
  /** One line per entry, names shown with every non-printable byte escaped; sorted by name bytes. */
  entries: string[];
  /** Hard-link groups: names sharing an inode, as printable names. */
  hardLinkGroups: string[][];
}

/** A name for a diff: printable ASCII as is, every other byte as \xNN (so distinct bytes stay distinct). */
export function printable(name: Buffer): string {
  let out = "";
  for (const byte of name)
    out +=
      byte >= 0x20 && byte < 0x7f && byte !== 0x5c
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).padStart(2, "0")}`;
  return out;
}

/**
 * Everything a restore must bring back, byte for byte: names, types, modes, mtimes, contents, link
 * targets, hard links. With `keep`, only the entries it keeps (a folder it drops is not entered),
 * and hard-link groups of at least two kept names (what a restore of just those names can show).
 */
export async function snapshotTree(dir: string, keep?: (at: Buffer[]) => boolean): Promise<TreeSnapshot> {
  const root = Buffer.from(dir);
  const entries: Array<{ key: Buffer; line: string }> = [];
  const inodes = new Map<number, Buffer[]>();
  const walk = async (at: Buffer[]): Promise<void> => {
    if (at.length && keep && !keep(at)) return;
    const abs = join(root, ...at);
    const st = await lstat(abs);
    const rel = at.length ? join(...at) : b(".");
    const common = `mode=${(st.mode & 0o7777).toString(8)} mtime=${Math.floor(st.mtimeMs / 1000)}`;
    if (st.isDirectory()) {
      entries.push({ key: rel, line: `${printable(rel)} dir ${common}` });
      const names = await readdir(abs, { encoding: "buffer" });
      for (const name of names) await walk([...at, name]);
    } else if (st.isSymbolicLink()) {
      const target = await readlink(abs, { encoding: "buffer" });
      entries.push({
        key: rel,
        line: `${printable(rel)} symlink -> ${printable(target)} mtime=${Math.floor(st.mtimeMs / 1000)}`,
      });
    } else if (st.isFile()) {
      const sha = createHash("sha256")
        .update(await readFile(abs))
        .digest("hex")
        .slice(0, 16);
      entries.push({ key: rel, line: `${printable(rel)} file ${common} bytes=${st.size} sha256=${sha}` });
      if (st.nlink > 1) inodes.set(st.ino, [...(inodes.get(st.ino) ?? []), rel]);
    } else entries.push({ key: rel, line: `${printable(rel)} other` });
  };
  await walk([]);
  entries.sort((x, y) => Buffer.compare(x.key, y.key));
  const hardLinkGroups = [...inodes.values()]
    .filter((names) => !keep || names.length > 1)
    .map((names) => names.sort(Buffer.compare).map(printable))
    .sort((x, y) => (x[0]! < y[0]! ? -1 : 1));
  return { entries: entries.map((e) => e.line), hardLinkGroups };
}
