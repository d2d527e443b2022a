//! The native SQLite reader against databases written by the real SQLite library (Debian's
//! `python3` and its `sqlite3` module) and by `airflow db migrate`: every row of every table
//! must be what Python's `sqlite3` reads.

use std::path::{Path, PathBuf};
use std::process::Command;

use hangar_probe::migrations::Migrations;
use hangar_probe::sqlite_file::{SqliteFileError, Table, Value, read_table};
use hangar_testkit::airflow::{AIRFLOW_2, AIRFLOW_3, venv};
use serde_json::{Value as Json, json};

/// Debian's Python (not a pyenv shim on `PATH`), whose `sqlite3` module links libsqlite3.
fn python() -> PathBuf {
    let python = PathBuf::from("/usr/bin/python3");
    assert!(
        python.is_file(),
        "/usr/bin/python3 is required by this test and was not found. Install it with: \
         apt-get update && apt-get install -y python3"
    );
    python
}

fn run_python(script: &str, args: &[&Path]) -> String {
    let out = hangar_testkit::run_checked(
        "python3",
        Command::new(python()).arg("-c").arg(script).args(args),
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Prints the table named by argv[2] of the database argv[1] as JSON, values tagged by type.
const ORACLE: &str = r#"
import json, sqlite3, struct, sys
db, table = sys.argv[1], sys.argv[2]
c = sqlite3.connect("file:" + db + "?mode=ro", uri=True)
def tag(v):
    if v is None: return None
    if isinstance(v, int): return {"i": str(v)}
    if isinstance(v, float): return {"r": struct.pack(">d", v).hex()}
    if isinstance(v, str): return {"t": v}
    return {"b": bytes(v).hex()}
cur = c.execute('SELECT * FROM "%s" ORDER BY rowid' % table.replace('"', '""'))
cols = [d[0] for d in cur.description]
json.dump({"columns": cols, "rows": [[tag(v) for v in r] for r in cur]}, sys.stdout)
"#;

/// The names of the ordinary tables of database argv[1].
const TABLES: &str = r#"
import json, sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
json.dump([r[0] for r in c.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")], sys.stdout)
"#;

fn tag(v: &Value) -> Json {
    match v {
        Value::Null => Json::Null,
        Value::Integer(i) => json!({ "i": i.to_string() }),
        Value::Real(r) => json!({ "r": hex(&r.to_be_bytes()) }),
        Value::Text(s) => json!({ "t": s }),
        Value::Blob(b) => json!({ "b": hex(b) }),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn oracle(db: &Path, table: &str) -> Json {
    serde_json::from_str(&run_python(ORACLE, &[db, Path::new(table)])).unwrap()
}

fn as_json(t: &Table) -> Json {
    let rows: Vec<Json> = t
        .rows
        .iter()
        .map(|r| Json::Array(r.iter().map(tag).collect()))
        .collect();
    json!({ "columns": t.columns, "rows": rows })
}

/// Reads `table` natively and through Python, asserts they agree, returns the native table.
fn same_as_python(db: &Path, table: &str) -> Table {
    let ours = read_table(db, table)
        .unwrap_or_else(|e| panic!("{table}: {e}"))
        .unwrap_or_else(|| panic!("{}: no table {table}", db.display()));
    let want = oracle(db, table);
    let got = as_json(&ours);
    assert_eq!(got["columns"], want["columns"], "the columns of {table}");
    let (got_rows, want_rows) = (
        got["rows"].as_array().unwrap(),
        want["rows"].as_array().unwrap(),
    );
    assert_eq!(
        got_rows.len(),
        want_rows.len(),
        "the number of rows of {table}"
    );
    for (i, (g, w)) in got_rows.iter().zip(want_rows).enumerate() {
        assert_eq!(g, w, "row {i} of {table}");
    }
    ours
}

/// Every ordinary table of the database is read as Python reads it; returns their names.
fn all_tables_same_as_python(db: &Path) -> Vec<String> {
    let names: Vec<String> = serde_json::from_str(&run_python(TABLES, &[db])).unwrap();
    assert!(!names.is_empty());
    for name in &names {
        same_as_python(db, name);
    }
    names
}

const TYPES: &str = r#"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.executescript('''
CREATE TABLE "Values" (id INTEGER PRIMARY KEY, i INTEGER, r REAL, t TEXT, b BLOB, n NUMERIC, anything);
CREATE TABLE added (a TEXT);
INSERT INTO added VALUES ('old1'), ('old2'), (NULL);
ALTER TABLE added ADD COLUMN b INTEGER;
ALTER TABLE added ADD COLUMN c INTEGER DEFAULT 7;
ALTER TABLE added ADD COLUMN d TEXT DEFAULT 'x''y';
ALTER TABLE added ADD COLUMN e REAL DEFAULT 2;
ALTER TABLE added ADD COLUMN f VARCHAR(10) DEFAULT 5;
ALTER TABLE added ADD COLUMN g BOOLEAN NOT NULL DEFAULT '0';
ALTER TABLE added ADD COLUMN h BLOB DEFAULT x'00ff';
ALTER TABLE added ADD COLUMN i DEFAULT -3;
ALTER TABLE added ADD COLUMN j TEXT DEFAULT 0x10;
ALTER TABLE added ADD COLUMN k NUMERIC DEFAULT 2.0;
ALTER TABLE added ADD COLUMN "l m" INTEGER DEFAULT TRUE;
ALTER TABLE added ADD COLUMN n FLOAT DEFAULT '1.25';
INSERT INTO added (a, b) VALUES ('new', 1);
CREATE TABLE [Weird "Names"] (
    "a b" TEXT NOT NULL,
    `c``d` INTEGER DEFAULT (1 + 2),
    [e] REAL CHECK (e > (0) OR e IS NULL),
    'f' BLOB,
    "primary" VARCHAR(250) COLLATE NOCASE,
    "x""y" INT REFERENCES "Values" (id) ON DELETE CASCADE,
    CONSTRAINT weird_pk PRIMARY KEY ("a b"),
    UNIQUE (e),
    CHECK (length("a b") > (0))
);
CREATE TABLE pk_table (x TEXT, id INTEGER, PRIMARY KEY (id DESC));
CREATE TABLE desc_pk (id INTEGER PRIMARY KEY DESC, v);
CREATE TABLE int8_pk (id INTEGER(8) PRIMARY KEY, v);
CREATE TABLE no_pk (v);
CREATE TABLE gen (a INTEGER, b INTEGER GENERATED ALWAYS AS (a * 2) STORED, c TEXT);
CREATE TABLE wr (id INTEGER PRIMARY KEY, v) WITHOUT ROWID;
CREATE TABLE vg (a INTEGER, b AS (a + 1));
CREATE INDEX values_t ON "Values" (t);
CREATE VIEW v AS SELECT 1;
''')
ints = [0, 1, -1, 2, 127, -128, 128, 255, 32767, -32768, 32768, 2**23 - 1, -2**23, 2**23,
        2**31 - 1, -2**31, 2**31, 2**47 - 1, -2**47, 2**47, 2**63 - 1, -2**63]
reals = [0.0, -0.0, 1.5, 5.0, -3.0, 1e300, -1e-300, float('inf'), float('-inf'), 2.0**53, 0.1]
texts = ['', 'ascii', 'ünïcödé ✈', 'emoji 🚀', 'a\x00b', 'x' * 300]
blobs = [b'', b'\x00\xff', bytes(range(256))]
rows = []
for k, v in enumerate(ints):
    rows.append((v, v / 3, str(v), bytes([k]) * k, v, v))
for r in reals:
    rows.append((None, r, None, None, r, r))
for t in texts:
    rows.append((None, None, t, None, t, t))
for b in blobs:
    rows.append((None, None, None, b, b, b))
rows += [('12', '2.5', 12, 12, '12', '1.5'), ('x', 'y', 1.5, 'z', 'abc', '  7 '), (None,) * 6]
c.executemany('INSERT INTO "Values" (i, r, t, b, n, anything) VALUES (?, ?, ?, ?, ?, ?)', rows)
c.execute('INSERT INTO "Values" (id, i) VALUES (-5, 1), (9223372036854775807, 2)')
c.executemany('INSERT INTO [Weird "Names"] VALUES (?, ?, ?, ?, ?, ?)',
              [('k1', 1, 1.5, b'\x01', 'P', 1), ('k2', None, None, None, None, None)])
c.execute('INSERT INTO [Weird "Names"] ("a b") VALUES (\'k3\')')
c.executemany('INSERT INTO pk_table VALUES (?, ?)', [('a', 10), ('b', -4), ('c', 3)])
c.executemany('INSERT INTO desc_pk VALUES (?, ?)', [(10, 'a'), (-4, 'b')])
c.executemany('INSERT INTO int8_pk VALUES (?, ?)', [(10, 'a'), (-4, 'b')])
c.executemany('INSERT INTO no_pk VALUES (?)', [(1,), ('two',), (None,)])
c.executemany('INSERT INTO gen (a, c) VALUES (?, ?)', [(1, 'one'), (None, 'none'), (21, 'x')])
c.execute("INSERT INTO wr VALUES (1, 'a')")
c.execute('INSERT INTO vg (a) VALUES (1)')
c.execute('DELETE FROM "Values" WHERE id = 3')
c.commit()
"#;

#[test]
fn every_value_type_default_and_quoted_name_reads_as_python_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("types.db");
    run_python(TYPES, &[&db]);
    for table in [
        "Values",
        "added",
        "Weird \"Names\"",
        "pk_table",
        "desc_pk",
        "int8_pk",
        "no_pk",
        "gen",
    ] {
        same_as_python(&db, table);
    }
    // Table names are matched case-insensitively; views, indexes and missing tables are no
    // tables.
    let values = read_table(&db, "VALUES").unwrap().unwrap();
    assert_eq!(values.columns[0], "id");
    assert_eq!(values.column("ANYTHING"), Some(6));
    for missing in ["v", "values_t", "nope", "sqlite_sequence"] {
        assert!(read_table(&db, missing).unwrap().is_none(), "{missing}");
    }
    // The rowid alias is the rowid; the others are not.
    let ids = |t: &str| -> Vec<i64> {
        let t = read_table(&db, t).unwrap().unwrap();
        t.rows
            .iter()
            .map(|r| r[t.column("id").unwrap()].as_integer().unwrap())
            .collect()
    };
    assert_eq!(ids("pk_table"), [-4, 3, 10], "ordered by rowid = id");
    assert_eq!(
        ids("desc_pk"),
        [10, -4],
        "ordered by insertion: not an alias"
    );
    let schema = read_table(&db, "sqlite_schema").unwrap().unwrap();
    assert!(schema.rows.len() > 10);

    let err = read_table(&db, "wr").unwrap_err();
    assert!(matches!(err, SqliteFileError::WithoutRowid { .. }), "{err}");
    let err = read_table(&db, "vg").unwrap_err();
    assert!(matches!(err, SqliteFileError::Unsupported { .. }), "{err}");
    assert!(err.to_string().contains(&db.display().to_string()), "{err}");
}

/// Writes argv[1] with page size argv[2]: thousands of small rows (a b-tree of several
/// levels, some rows deleted and updated), and rows with large text and blobs (overflow).
const MANY: &str = r#"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute('PRAGMA page_size = %d' % int(sys.argv[2]))
c.execute('CREATE TABLE job (id INTEGER PRIMARY KEY AUTOINCREMENT, job_type VARCHAR(30), state VARCHAR(20), hostname VARCHAR(500), latest_heartbeat TIMESTAMP, n INTEGER)')
c.executemany('INSERT INTO job (job_type, state, hostname, latest_heartbeat, n) VALUES (?, ?, ?, ?, ?)',
    [('SchedulerJob' if i % 2 else 'TriggererJob', 'running' if i % 5 else 'failed',
      'host-%d.example' % (i % 17), '2025-01-01 00:%02d:%02d.%06d' % (i // 60 % 60, i % 60, i), i * 7919)
     for i in range(6000)])
c.execute('DELETE FROM job WHERE id % 11 = 0')
c.execute("UPDATE job SET state = 'success', hostname = hostname || '-' || id WHERE id % 13 = 0")
c.execute('CREATE TABLE big (id INTEGER PRIMARY KEY, t TEXT, b BLOB)')
sizes = [0, 1, 400, 477, 478, 600, 1000, 4061, 4062, 5000, 10000, 65501, 65502, 100000, 200000, 1000000]
c.executemany('INSERT INTO big (t, b) VALUES (?, ?)',
    [(''.join(chr(0x41 + (i + k) % 26) for i in range(s)), bytes((i * 31 + k) % 256 for i in range(s)))
     for k, s in enumerate(sizes)])
c.execute("UPDATE big SET t = t || 'é' WHERE id % 2 = 0")
# Records whose payload is exactly at the edges of the local-payload formula.
U = int(sys.argv[2]); X = U - 35; M = (U - 12) * 32 // 255 - 23
def vlen(v):
    n = 1
    while v >= 128:
        v >>= 7; n += 1
    return n
def blob_len(p):
    return next(n for n in range(p) if 2 + vlen(12 + 2 * n) + n == p)
edges = [X - 1, X, X + 1, X + U - 4, X + U - 3, M + U - 4, M + 2 * (U - 4) - 1, M + 3 * (U - 4) + 1]
c.execute('CREATE TABLE edge (id INTEGER PRIMARY KEY, b BLOB)')
c.executemany('INSERT INTO edge (b) VALUES (?)',
    [(bytes((i * 7 + k) % 256 for i in range(blob_len(p))),) for k, p in enumerate(edges)])
c.commit()
"#;

/// The type of the root page of `table`'s b-tree and of its first child, read from the file.
fn root_and_child_types(db: &Path, page_size: usize, table: &str) -> (u8, u8) {
    let bytes = std::fs::read(db).unwrap();
    let schema = read_table(db, "sqlite_schema").unwrap().unwrap();
    let root = schema
        .rows
        .iter()
        .find(|r| r[1].as_text() == Some(table))
        .and_then(|r| r[3].as_integer())
        .unwrap() as usize;
    let page = &bytes[(root - 1) * page_size..][..page_size];
    let ptr = u16::from_be_bytes([page[12], page[13]]) as usize;
    let child = u32::from_be_bytes(page[ptr..ptr + 4].try_into().unwrap()) as usize;
    (page[0], bytes[(child - 1) * page_size])
}

fn many_rows_and_overflow(page_size: usize) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("airflow.db");
    run_python(MANY, &[&db, Path::new(&page_size.to_string())]);
    assert_eq!(std::fs::read(&db).unwrap().len() % page_size, 0);
    let names = all_tables_same_as_python(&db);
    assert!(names.contains(&"sqlite_sequence".to_owned()), "{names:?}");
    let job = read_table(&db, "job").unwrap().unwrap();
    assert_eq!(job.rows.len(), 6000 - 6000 / 11);
    for col in ["job_type", "state", "hostname", "latest_heartbeat"] {
        assert!(job.column(col).is_some(), "{col}");
    }
    let big = read_table(&db, "big").unwrap().unwrap();
    assert_eq!(
        big.rows.last().unwrap()[2],
        Value::Blob(
            (0..1_000_000)
                .map(|i| ((i * 31 + 15) % 256) as u8)
                .collect()
        )
    );
    if page_size == 512 {
        // Interior pages under the root: a b-tree of three levels or more.
        assert_eq!(root_and_child_types(&db, page_size, "job"), (0x05, 0x05));
    }
}

#[test]
fn thousands_of_rows_and_overflow_chains_with_512_byte_pages() {
    many_rows_and_overflow(512);
}

#[test]
fn thousands_of_rows_and_overflow_chains_with_64_kib_pages() {
    many_rows_and_overflow(65536);
}

#[test]
fn other_page_sizes_and_a_vacuumed_database() {
    const VACUUM: &str = r#"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute('PRAGMA page_size = 1024')
c.execute('PRAGMA auto_vacuum = FULL')
c.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
c.executemany('INSERT INTO t (v) VALUES (?)', [('v%d' % i * (i % 50),) for i in range(3000)])
c.commit()
c.execute('DELETE FROM t WHERE id % 3 = 0')
c.commit()
c.execute('VACUUM')
"#;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("vacuum.db");
    run_python(VACUUM, &[&db]);
    assert_eq!(same_as_python(&db, "t").rows.len(), 2000);
}

#[test]
fn a_utf16_database_is_refused_with_a_clear_error() {
    const UTF16: &str = r#"
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA encoding = 'UTF-16le'")
c.execute('CREATE TABLE t (v TEXT)')
c.execute("INSERT INTO t VALUES ('x')")
c.commit()
"#;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("utf16.db");
    run_python(UTF16, &[&db]);
    let err = read_table(&db, "t").unwrap_err();
    assert!(
        matches!(
            err,
            SqliteFileError::Utf16 {
                encoding: "UTF-16le",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("UTF-8"), "{err}");
}

/// argv[1]: the database; argv[2]: a directory. The main file holds what was checkpointed;
/// the WAL then gets two small committed transactions and a large one (`TORN`), copied into
/// `<dir>/torn-*`; then pages of a transaction never committed, spilled from the cache while it
/// is open, copied with the rest into `<dir>/{ours,python,no-wal}`.
const WAL: &str = r#"
import os, shutil, sqlite3, sys
db, base = sys.argv[1], sys.argv[2]
def copy(*dirs):
    for d in dirs:
        os.makedirs(os.path.join(base, d))
        shutil.copy(db, os.path.join(base, d))
        shutil.copy(db + '-wal', os.path.join(base, d))
c = sqlite3.connect(db, isolation_level=None)
assert c.execute('PRAGMA journal_mode = WAL').fetchone()[0] == 'wal'
c.execute('PRAGMA wal_autocheckpoint = 0')
c.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, n INTEGER)')
c.execute('BEGIN')
c.executemany('INSERT INTO t (v, n) VALUES (?, ?)', [('checkpointed', i) for i in range(2000)])
c.execute('COMMIT')
c.execute('PRAGMA wal_checkpoint(TRUNCATE)')
c.execute('BEGIN')
c.execute("UPDATE t SET v = 'updated in the wal' WHERE id % 3 = 0")
c.executemany('INSERT INTO t (v, n) VALUES (?, ?)', [('wal only ' + 'x' * (i % 700), i) for i in range(500)])
c.execute('DELETE FROM t WHERE id % 7 = 0')
c.execute('COMMIT')
c.execute("INSERT INTO t (v, n) VALUES ('second commit', -1)")
c.execute("UPDATE t SET v = 'TORN' WHERE id % 2 = 0")
copy('torn-ours', 'torn-python')
c.execute('PRAGMA cache_size = 2')
c.execute('BEGIN')
c.executemany('INSERT INTO t (v, n) VALUES (?, ?)', [('UNCOMMITTED' * 20, i) for i in range(3000)])
c.execute("UPDATE t SET v = 'UNCOMMITTED' WHERE id < 100")
copy('ours', 'python', 'no-wal')
c.execute('ROLLBACK')
"#;

/// The WAL restarted after a full checkpoint: new frames (new salts) at its start, stale
/// frames of the first transaction after them.
const WAL_RESTART: &str = r#"
import shutil, sqlite3, sys
db, copies = sys.argv[1], sys.argv[2:]
c = sqlite3.connect(db, isolation_level=None)
c.execute('PRAGMA journal_mode = WAL')
c.execute('PRAGMA wal_autocheckpoint = 0')
c.execute('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')
c.execute('BEGIN')
c.executemany('INSERT INTO t (v) VALUES (?)', [('first %d ' % i + 'y' * 200,) for i in range(3000)])
c.execute('COMMIT')
c.execute('PRAGMA wal_checkpoint(PASSIVE)')
c.execute("UPDATE t SET v = 'after the restart' WHERE id IN (1, 1500, 3000)")
c.execute("INSERT INTO t (v) VALUES ('new row')")
for d in copies:
    shutil.copy(db, d)
    shutil.copy(db + '-wal', d)
"#;

/// The frames in a WAL: (commit size, carries the header's salts, holds "UNCOMMITTED").
fn wal_frames(wal: &[u8], page_size: usize) -> Vec<(u32, bool, bool)> {
    let size = 24 + page_size;
    wal[32..]
        .chunks_exact(size)
        .map(|f| {
            let commit = u32::from_be_bytes(f[4..8].try_into().unwrap());
            let marked = f.windows(11).any(|w| w == b"UNCOMMITTED");
            (commit, f[8..16] == wal[16..24], marked)
        })
        .collect()
}

fn three_copies() -> (tempfile::TempDir, [PathBuf; 3]) {
    let dir = tempfile::tempdir().unwrap();
    let copies = ["ours", "python", "no-wal"].map(|d| {
        let p = dir.path().join(d);
        std::fs::create_dir(&p).unwrap();
        p
    });
    (dir, copies)
}

fn text(r: &[Value]) -> &str {
    r[1].as_text().unwrap()
}

#[test]
fn committed_transactions_in_the_wal_are_read_and_others_are_not() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("airflow.db");
    run_python(WAL, &[&db, dir.path()]);
    let copy = |d: &str| dir.path().join(d).join("airflow.db");
    let wal = |d: &str| dir.path().join(d).join("airflow.db-wal");

    // The open transaction's pages went to the WAL after the last commit (SQLite writes most
    // of them without salts, their checksums deferred to a commit that never comes).
    let frames = wal_frames(&std::fs::read(wal("ours")).unwrap(), 4096);
    let last_commit = frames.iter().rposition(|f| f.0 != 0).unwrap();
    assert!(frames[last_commit + 1..].iter().any(|f| f.2), "{frames:?}");
    // Ours first: opening the copy with Python checkpoints it.
    let t = read_table(&copy("ours"), "t").unwrap().unwrap();
    assert_eq!(as_json(&t), oracle(&copy("python"), "t"));
    assert!(t.rows.iter().any(|r| text(r) == "second commit"));
    assert!(t.rows.iter().any(|r| text(r) == "updated in the wal"));
    assert!(t.rows.iter().any(|r| text(r) == "TORN"));
    assert!(!t.rows.iter().any(|r| text(r).contains("UNCOMMITTED")));
    assert_eq!(
        t.rows.len(),
        2501 - (1..=2501).filter(|i| i % 7 == 0).count()
    );

    // A commit torn by a crash: every frame of the last transaction is in the WAL, with the
    // WAL's salts and a valid checksum, except its commit frame.
    let bytes = std::fs::read(wal("torn-ours")).unwrap();
    let frames = wal_frames(&bytes, 4096);
    let before = frames[..frames.len() - 1]
        .iter()
        .rposition(|f| f.0 != 0)
        .unwrap();
    assert!(
        frames.last().unwrap().0 != 0 && frames.len() - before > 3,
        "{frames:?}"
    );
    assert!(frames.iter().all(|f| f.1), "{frames:?}");
    let torn = &bytes[..bytes.len() - (24 + 4096)];
    std::fs::write(wal("torn-ours"), torn).unwrap();
    std::fs::write(wal("torn-python"), torn).unwrap();
    let t = read_table(&copy("torn-ours"), "t").unwrap().unwrap();
    assert_eq!(as_json(&t), oracle(&copy("torn-python"), "t"));
    assert!(t.rows.iter().any(|r| text(r) == "second commit"));
    assert!(!t.rows.iter().any(|r| text(r) == "TORN"));

    // Without its WAL, the database file alone holds the checkpointed rows only.
    std::fs::remove_file(wal("no-wal")).unwrap();
    let old = read_table(&copy("no-wal"), "t").unwrap().unwrap();
    assert_eq!(old.rows.len(), 2000);
    assert!(old.rows.iter().all(|r| text(r) == "checkpointed"));
}

#[test]
fn stale_frames_after_a_wal_restart_are_not_read() {
    let (dir, [ours, py, _]) = three_copies();
    let db = dir.path().join("airflow.db");
    run_python(WAL_RESTART, &[&db, &ours, &py]);
    let wal = std::fs::read(ours.join("airflow.db-wal")).unwrap();
    let frames = wal_frames(&wal, 4096);
    let current = frames.iter().take_while(|f| f.1).count();
    assert!(
        current > 0 && frames.len() > current + 10 && frames[current - 1].0 != 0,
        "a restarted WAL, new frames committed, stale frames after them: {frames:?}"
    );
    let t = read_table(&ours.join("airflow.db"), "t").unwrap().unwrap();
    assert_eq!(as_json(&t), oracle(&py.join("airflow.db"), "t"));
    assert_eq!(t.rows.len(), 3001);
    assert_eq!(t.rows[1499][1].as_text(), Some("after the restart"));
}

const ALEMBIC_VERSION: &str = r#"
import json, sqlite3, sys
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
json.dump([r[0] for r in c.execute("SELECT version_num FROM alembic_version")], sys.stdout)
"#;

fn a_database_migrated_by_airflow(version: &str) {
    let venv = venv(version);
    let home = tempfile::tempdir().unwrap();
    let db = home.path().join("airflow.db");
    assert_eq!(read_table(&db, "alembic_version").ok().flatten(), None);
    hangar_testkit::run_checked(
        "airflow db migrate",
        Command::new(venv.airflow())
            .args(["db", "migrate"])
            .env("AIRFLOW_HOME", home.path())
            .env(
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                format!("sqlite:///{}", db.display()),
            )
            .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False"),
    );
    let table = read_table(&db, "alembic_version")
        .unwrap()
        .expect("alembic_version after airflow db migrate");
    let col = table.column("version_num").unwrap();
    let ours: Vec<&str> = table.rows.iter().filter_map(|r| r[col].as_text()).collect();
    let python: Vec<String> = serde_json::from_str(&run_python(ALEMBIC_VERSION, &[&db])).unwrap();
    assert_eq!(ours, python, "Airflow {version}");
    let graph =
        Migrations::read_dir(&venv.site_packages().join("airflow/migrations/versions")).unwrap();
    assert_eq!(
        ours,
        graph.heads(),
        "Airflow {version} migrates to its head"
    );

    let job = read_table(&db, "job").unwrap().expect("the job table");
    for col in ["id", "job_type", "state", "hostname", "latest_heartbeat"] {
        assert!(
            job.column(col).is_some(),
            "Airflow {version}: job has no {col}: {:?}",
            job.columns
        );
    }
    // Every table Airflow created, with the rows its migrations wrote.
    let names = all_tables_same_as_python(&db);
    assert!(names.len() > 20, "Airflow {version}: {names:?}");
}

#[test]
fn a_database_migrated_by_airflow_3() {
    a_database_migrated_by_airflow(AIRFLOW_3);
}

#[test]
fn a_database_migrated_by_airflow_2() {
    a_database_migrated_by_airflow(AIRFLOW_2);
}
