// Realistic sample data for backup/restore tests and the demo: an EDMS-like Django database and
// a media folder with the file names and sizes that break naive backup scripts.
// No vitest imports (the demo script reuses it).
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, mkdir, open, readdir, readlink, writeFile } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { sql } from "./pg-test-db.js";

export interface SeedOptions {
  /** Number of documents (default 2000); versions, audit rows etc. scale with it. */
  documents?: number;
}

/**
 * Everything a pg_dump/pg_restore round trip can get wrong: an ENUM, jsonb, bytea, arrays,
 * numeric, timestamptz, FKs (one deferrable), a view, a plpgsql trigger, a free-standing sequence
 * used by a default, a second schema with a quoted "Audit Log" table, a large object referenced
 * by a table, and an empty table. Values are deterministic (derived from the row number, fixed
 * timestamps), so two seeds with the same options give the same checksums.
 */
const SCHEMA_SQL = `
CREATE TYPE workflow_state AS ENUM ('draft', 'review', 'approved', 'archived');

CREATE TABLE auth_user (
  id serial PRIMARY KEY,
  username varchar(150) NOT NULL UNIQUE,
  email varchar(254) NOT NULL,
  first_name varchar(150) NOT NULL,
  last_name varchar(150) NOT NULL,
  is_staff boolean NOT NULL DEFAULT false,
  date_joined timestamptz NOT NULL
);

CREATE SEQUENCE document_number_seq START 100000;

CREATE TABLE documents_document (
  id bigserial PRIMARY KEY,
  uuid uuid NOT NULL UNIQUE,
  number text NOT NULL DEFAULT 'DOC-' || nextval('document_number_seq')::text,
  title text NOT NULL,
  owner_id integer NOT NULL REFERENCES auth_user (id) DEFERRABLE INITIALLY DEFERRED,
  state workflow_state NOT NULL DEFAULT 'draft',
  metadata jsonb NOT NULL DEFAULT '{}',
  tags text[] NOT NULL DEFAULT '{}',
  thumbnail bytea,
  retention_years numeric(4, 1),
  created timestamptz NOT NULL,
  modified timestamptz NOT NULL
);
CREATE INDEX documents_document_owner_idx ON documents_document (owner_id);
CREATE INDEX documents_document_metadata_idx ON documents_document USING gin (metadata);

CREATE TABLE documents_documentversion (
  id bigserial PRIMARY KEY,
  document_id bigint NOT NULL REFERENCES documents_document (id) ON DELETE CASCADE,
  version integer NOT NULL,
  file varchar(500) NOT NULL,
  size bigint NOT NULL,
  sha256 char(64) NOT NULL,
  comment text,
  created timestamptz NOT NULL,
  UNIQUE (document_id, version)
);

-- Django keeps "modified" current with auto_now; a trigger does the same here, and a restore
-- must bring the function and trigger back (and must not fire it while loading data).
CREATE FUNCTION set_modified() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- Only when the UPDATE did not set it itself (lets the seed pin values and stay deterministic).
  IF NEW.modified IS NOT DISTINCT FROM OLD.modified THEN
    NEW.modified := now();
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER documents_document_set_modified
  BEFORE UPDATE ON documents_document
  FOR EACH ROW EXECUTE FUNCTION set_modified();

CREATE VIEW documents_latest_version AS
  SELECT d.id AS document_id, d.title, d.state, v.version, v.file, v.size
  FROM documents_document d
  JOIN LATERAL (
    SELECT * FROM documents_documentversion v
    WHERE v.document_id = d.id ORDER BY v.version DESC LIMIT 1
  ) v ON true;

-- Original scans kept as large objects: pg_dump only includes them with the whole database
-- (or --large-objects), a classic way for a backup to silently lose data.
CREATE TABLE documents_scan (
  id serial PRIMARY KEY,
  document_id bigint NOT NULL REFERENCES documents_document (id),
  content oid NOT NULL,
  mime_type text NOT NULL
);

-- Never written to: restores must recreate empty tables too.
CREATE TABLE documents_signaturerequest (
  id bigserial PRIMARY KEY,
  document_id bigint NOT NULL REFERENCES documents_document (id),
  requested_from integer NOT NULL REFERENCES auth_user (id),
  created timestamptz NOT NULL
);

CREATE SCHEMA audit;
CREATE TABLE audit."Audit Log" (
  id bigserial PRIMARY KEY,
  "Event Time" timestamptz NOT NULL,
  actor_id integer REFERENCES auth_user (id),
  action text NOT NULL,
  detail jsonb
);
`;

function dataSql(documents: number): string {
  const users = Math.max(5, Math.ceil(documents / 40));
  const scans = Math.min(5, documents);
  return `
INSERT INTO auth_user (username, email, first_name, last_name, is_staff, date_joined)
SELECT 'user' || i, 'user' || i || '@example.org',
       (ARRAY['Zoë', 'Łukasz', 'José', '美咲', 'Anna'])[i % 5 + 1],
       (ARRAY['Müller', 'Ó Briain', 'Nguyễn', '田中', 'Smith'])[i % 5 + 1],
       i % 10 = 0, timestamptz '2020-01-01 00:00:00+00' + i * interval '1 day'
FROM generate_series(1, ${users}) AS i;

INSERT INTO documents_document
  (uuid, title, owner_id, state, metadata, tags, thumbnail, retention_years, created, modified)
SELECT md5('doc' || i)::uuid,
       'Rapport d''activité n°' || i || ' — Straße ' || (ARRAY['文档', 'résumé', 'Ελληνικά', '📄 scan'])[i % 4 + 1],
       i % ${users} + 1,
       (enum_range(NULL::workflow_state))[i % 4 + 1],
       jsonb_build_object('pages', i % 40 + 1, 'language', (ARRAY['fr', 'de', 'zh', 'en'])[i % 4 + 1],
                          'reviewed', i % 3 = 0, 'note', 'naïve café ' || i,
                          'keywords', jsonb_build_array('contract', 'année ' || (2000 + i % 25))),
       ARRAY['tag' || (i % 7), 'année'],
       decode(repeat(md5(i::text), 4), 'hex'),
       (i % 30) / 2.0,
       timestamptz '2021-01-01 00:00:00+00' + i * interval '17 minutes',
       timestamptz '2021-01-01 00:00:00+00' + i * interval '17 minutes' + interval '1 hour'
FROM generate_series(1, ${documents}) AS i;

INSERT INTO documents_documentversion (document_id, version, file, size, sha256, comment, created)
SELECT d.id, v, 'documents/' || d.id || '/v' || v || ' scan é.pdf', 10000 + d.id * v,
       encode(sha256(convert_to(d.id || '/' || v, 'UTF8')), 'hex'),
       CASE WHEN v > 1 THEN 'révision ' || v END,
       d.created + v * interval '1 day'
FROM documents_document d, generate_series(1, 1 + (d.id % 3)::int) AS v;

-- Fixed OIDs (large objects are per database) keep documents_scan.content deterministic.
INSERT INTO documents_scan (document_id, content, mime_type)
SELECT i, lo_from_bytea(1600000 + i, decode(repeat(md5('scan' || i), 2048), 'hex')), 'image/tiff'
FROM generate_series(1, ${scans}) AS i;

INSERT INTO audit."Audit Log" ("Event Time", actor_id, action, detail)
SELECT d.created, d.owner_id, 'document.created', jsonb_build_object('document', d.id, 'title', d.title)
FROM documents_document d;

-- Goes through the trigger; "modified" is set explicitly so the seed stays deterministic.
UPDATE documents_document SET state = 'archived', modified = created + interval '2 hours' WHERE id % 100 = 0;
SELECT setval('document_number_seq', nextval('document_number_seq') + 41);
`;
}

/** Creates the schema and data in an empty database (one transaction). */
export async function seedEdmsDatabase(url: string, opts: SeedOptions = {}): Promise<void> {
  const documents = opts.documents ?? 2000;
  if (!Number.isInteger(documents) || documents < 1) throw new Error(`documents must be a positive integer`);
  await sql(url, `BEGIN; ${SCHEMA_SQL} ${dataSql(documents)} COMMIT;`);
}

export interface MediaTreeOptions {
  /** Size of the big random (incompressible) file in MiB (default 21, i.e. over 20 MiB). */
  bigFileMiB?: number;
}

/** Path of the big file inside the tree, so tests can find it without hard-coding it twice. */
export const MEDIA_BIG_FILE = "documents/originals/2019/large scan (original).tiff";
export const MEDIA_UNICODE_FILE = "résumé ü 文档.pdf";
export const MEDIA_EMPTY_DIR = "empty folder";

/**
 * Writes a media folder with awkward names into dir (created if missing): unicode, spaces,
 * quotes, a leading dash, a hidden file, nesting 4+ levels deep, an empty directory, an empty
 * file, a big incompressible file and some compressible text.
 */
export async function makeMediaTree(dir: string, opts: MediaTreeOptions = {}): Promise<void> {
  const bigMiB = opts.bigFileMiB ?? 21;
  const file = async (rel: string, content: string | Buffer): Promise<void> => {
    const path = join(dir, ...rel.split("/"));
    await mkdir(join(path, ".."), { recursive: true });
    await writeFile(path, content);
  };
  const pdf = (n: number): Buffer => Buffer.concat([Buffer.from("%PDF-1.7\n"), randomBytes(n)]);

  await mkdir(dir, { recursive: true });
  await file(MEDIA_UNICODE_FILE, pdf(40_000));
  await file("documents/2024/03/15/scan 001.pdf", pdf(120_000));
  await file("documents/2024/03/15/Ünïcødé — naïve café.txt", "Ünïcødé text\n".repeat(500));
  await file("documents/2024/03/15/deep/er/still/leaf.txt", "five levels below documents/\n");
  await file("documents/2024/03/empty.txt", "");
  await file('documents/O\'Brien $HOME & "quotes" (copy).pdf', pdf(5_000));
  await file("-leading-dash.txt", "a name that looks like an option\n");
  await file(".hidden", "dot files must be backed up too\n");
  await file("thumbnails/Ελληνικά/thumb  two  spaces.png", randomBytes(3_000));
  // Compressible text, so compression ratios in tests are not all ~1.
  const csvLine = (i: number): string => `${i},document ${i},approved,2024-03-15T10:00:00Z\n`;
  await file("exports/index.csv", Array.from({ length: 20_000 }, (_, i) => csvLine(i)).join(""));
  await file("exports/README.txt", "Exported index of all documents.\n".repeat(2_000));
  await mkdir(join(dir, MEDIA_EMPTY_DIR), { recursive: true });
  await writeRandomFile(join(dir, ...MEDIA_BIG_FILE.split("/")), bigMiB * 1024 * 1024);
}

/** Random bytes written 1 MiB at a time, so a big file does not need to fit in memory at once. */
async function writeRandomFile(path: string, bytes: number): Promise<void> {
  await mkdir(join(path, ".."), { recursive: true });
  const fh = await open(path, "w");
  try {
    for (let left = bytes; left > 0; left -= 1024 * 1024) {
      await fh.write(randomBytes(Math.min(left, 1024 * 1024)));
    }
  } finally {
    await fh.close();
  }
}

export interface MediaEntry {
  /** Relative to the tree root, "/"-separated. */
  path: string;
  type: "file" | "dir" | "symlink";
  /** Bytes for files, length of the target for symlinks, 0 for directories. */
  size: number;
  /** Of the content for files, of the target path for symlinks; null for directories. */
  sha256: string | null;
}

/**
 * Every entry below dir (not dir itself), including empty directories, sorted by path (code
 * units, not locale). Permissions and mtimes are left out on purpose: compare content and shape.
 */
export async function mediaTreeDigest(dir: string): Promise<MediaEntry[]> {
  const entries: MediaEntry[] = [];
  const walk = async (current: string): Promise<void> => {
    for (const name of await readdir(current)) {
      const abs = join(current, name);
      const path = relative(dir, abs).split(sep).join("/");
      const st = await lstat(abs);
      if (st.isSymbolicLink()) {
        const target = await readlink(abs);
        entries.push({ path, type: "symlink", size: Buffer.byteLength(target), sha256: sha256Of(target) });
      } else if (st.isDirectory()) {
        entries.push({ path, type: "dir", size: 0, sha256: null });
        await walk(abs);
      } else if (st.isFile()) {
        entries.push({ path, type: "file", size: st.size, sha256: await sha256File(abs) });
      } else {
        throw new Error(`unexpected file type in media tree: ${abs}`);
      }
    }
  };
  await walk(dir);
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function sha256Of(s: string): string {
  return createHash("sha256").update(s).digest("hex");
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}
