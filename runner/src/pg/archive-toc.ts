/**
 * The table of contents of a custom-format dump (pg_dump -Fc), read from the archive's own bytes
 * rather than from `pg_restore --list`, whose lines ("5; 1259 16390 TABLE DATA app odd name
 * owner") cannot be split back into schema, name and owner once a name holds a space or a
 * newline. The reading follows PostgreSQL's ReadHead/ReadToc (src/bin/pg_dump/pg_backup_archiver.c)
 * for archive versions 1.12 (PostgreSQL 9.x) to 1.16 (17): a dump streamed to stdout starts with
 * its header and TOC, so the first bytes are enough. Hand-written: no maintained JavaScript
 * reader of this format exists.
 */
import { Transform, type TransformCallback } from "node:stream";

export interface TocEntry {
  dumpId: number;
  /** "TABLE", "TABLE DATA", "FUNCTION", "SUBSCRIPTION", ... */
  desc: string;
  /** The object's name (a function's with its argument types). */
  tag: string;
  namespace: string | null;
  owner: string | null;
  tablespace: string | null;
}

export interface ArchiveToc {
  version: string;
  database: string | null;
  entries: TocEntry[];
}

/** Thrown when the bytes end before the TOC does (read more and try again). */
class NeedMore extends Error {}

const MIN_VERSION = (1 << 16) | (12 << 8);
const MAX_VERSION = (1 << 16) | (16 << 8) | 255;

/** Parses the header and TOC at the start of `buf`; throws NeedMore when `buf` ends first. */
export function parseArchiveToc(buf: Buffer): ArchiveToc {
  let pos = 0;
  const take = (n: number) => {
    if (pos + n > buf.length) throw new NeedMore();
    const out = buf.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const byte = () => take(1)[0]!;
  if (take(5).toString("latin1") !== "PGDMP") throw new Error("not a custom-format dump (no PGDMP header)");
  const [major, minor, rev] = [byte(), byte(), byte()];
  const version = (major << 16) | (minor << 8) | rev;
  if (version < MIN_VERSION || version > MAX_VERSION)
    throw new Error(`archive version ${major}.${minor}.${rev} is outside the versions read here (1.12 to 1.16)`);
  const intSize = byte();
  const offSize = byte();
  if (intSize < 1 || intSize > 8 || offSize < 1 || offSize > 8)
    throw new Error("implausible integer sizes in the header");
  const format = byte();
  if (format !== 1) throw new Error(`archive format ${format} is not custom (1)`);
  const int = () => {
    const negative = byte() !== 0;
    let value = 0;
    for (let i = 0; i < intSize; i++) value += byte() * 2 ** (8 * i);
    return negative ? -value : value;
  };
  const str = (): string | null => {
    const length = int();
    if (length < 0) return null;
    return take(length).toString("utf8");
  };
  if (version >= ((1 << 16) | (15 << 8)))
    byte(); // compression algorithm
  else int(); // compression level
  for (let i = 0; i < 7; i++) int(); // creation time (struct tm)
  const database = str();
  str(); // server version
  str(); // pg_dump version
  const count = int();
  if (count < 0) throw new Error("negative TOC entry count");
  const entries: TocEntry[] = [];
  for (let i = 0; i < count; i++) {
    const dumpId = int();
    int(); // hadDumper
    str(); // tableoid
    str(); // oid
    const tag = str() ?? "";
    const desc = str() ?? "";
    int(); // section
    str(); // defn
    str(); // dropStmt
    str(); // copyStmt
    const namespace = str();
    const tablespace = str();
    if (version >= ((1 << 16) | (14 << 8))) str(); // tableam
    if (version >= ((1 << 16) | (16 << 8))) int(); // relkind
    const owner = str();
    str(); // "false" (WITH OIDS, long gone)
    while (str() !== null); // dependencies
    take(1 + offSize); // the custom format's data offset: flag and offset
    entries.push({ dumpId, desc, tag, namespace, owner, tablespace });
  }
  return { version: `${major}.${minor}.${rev}`, database, entries };
}

/**
 * A pass-through stage that reads the TOC from the bytes going by: `toc` resolves once it was
 * read (or rejects when the archive is not one, or ends first). The bytes go on unchanged.
 */
export class TocReader extends Transform {
  private head: Buffer[] = [];
  private headBytes = 0;
  private nextTry = 64 * 1024;
  private done = false;
  readonly toc: Promise<ArchiveToc>;
  private settle!: { resolve: (toc: ArchiveToc) => void; reject: (error: Error) => void };

  constructor() {
    super();
    this.toc = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    this.toc.catch(() => undefined);
  }

  private attempt(final: boolean): void {
    const buf = Buffer.concat(this.head);
    this.head = [buf];
    try {
      this.settle.resolve(parseArchiveToc(buf));
      this.done = true;
      this.head = [];
    } catch (error) {
      if (error instanceof NeedMore && !final) {
        // Parsing again from the start is cheap next to reading: only when the buffer doubled.
        this.nextTry = buf.length * 2;
        return;
      }
      this.done = true;
      this.head = [];
      this.settle.reject(
        error instanceof NeedMore ? new Error("the dump ended inside its table of contents") : (error as Error),
      );
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.done) {
      this.head.push(chunk);
      this.headBytes += chunk.length;
      if (this.headBytes >= this.nextTry) this.attempt(false);
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (!this.done) this.attempt(true);
    callback();
  }
}
