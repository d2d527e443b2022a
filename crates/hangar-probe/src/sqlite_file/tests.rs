//! Databases built byte by byte: a good one, then broken ones that must end in an error,
//! never a panic or a loop.

use super::*;

const PAGE: usize = 512;

fn varint(v: u64) -> Vec<u8> {
    assert!(v < 1 << 56, "the tests need no 9-byte varints");
    let mut out = vec![(v & 0x7f) as u8];
    let mut rest = v >> 7;
    while rest != 0 {
        out.push((rest & 0x7f) as u8 | 0x80);
        rest >>= 7;
    }
    out.reverse();
    out
}

fn record(values: &[Value]) -> Vec<u8> {
    let (mut types, mut body) = (Vec::new(), Vec::new());
    for v in values {
        let t = match v {
            Value::Null => 0,
            Value::Integer(i) => {
                body.extend(i.to_be_bytes());
                6
            }
            Value::Real(r) => {
                body.extend(r.to_be_bytes());
                7
            }
            Value::Text(s) => {
                body.extend(s.as_bytes());
                13 + 2 * s.len() as u64
            }
            Value::Blob(b) => {
                body.extend(b);
                12 + 2 * b.len() as u64
            }
        };
        types.extend(varint(t));
    }
    let mut out = varint(types.len() as u64 + 1);
    assert_eq!(out.len(), 1);
    out.extend(types);
    out.extend(body);
    out
}

/// A b-tree page: `kind` 0x0d with (rowid, record) cells, or 0x05 with (child, key) cells.
fn page(number: u32, kind: u8, cells: &[Vec<u8>], right_most: u32) -> Vec<u8> {
    let mut p = vec![0u8; PAGE];
    let at = if number == 1 { 100 } else { 0 };
    let header = if kind == 0x05 { 12 } else { 8 };
    p[at] = kind;
    p[at + 3..at + 5].copy_from_slice(&(cells.len() as u16).to_be_bytes());
    p[at + 8..at + 12].copy_from_slice(&right_most.to_be_bytes());
    let mut end = PAGE;
    for (i, c) in cells.iter().enumerate() {
        end -= c.len();
        p[end..end + c.len()].copy_from_slice(c);
        let ptr = at + header + 2 * i;
        p[ptr..ptr + 2].copy_from_slice(&(end as u16).to_be_bytes());
    }
    p[at + 5..at + 7].copy_from_slice(&(end as u16).to_be_bytes());
    p
}

fn leaf_cell(rowid: u64, rec: &[u8]) -> Vec<u8> {
    let mut c = varint(rec.len() as u64);
    c.extend(varint(rowid));
    c.extend(rec);
    c
}

fn interior_cell(child: u32, key: u64) -> Vec<u8> {
    let mut c = child.to_be_bytes().to_vec();
    c.extend(varint(key));
    c
}

fn schema_row(name: &str, root: i64, sql: &str) -> Vec<u8> {
    let text = |s: &str| Value::Text(s.into());
    record(&[
        text("table"),
        text(name),
        text(name),
        Value::Integer(root),
        text(sql),
    ])
}

/// Joins pages into a file and writes the database header into page 1.
fn file(mut pages: Vec<Vec<u8>>) -> Vec<u8> {
    let count = pages.len() as u32;
    let h = &mut pages[0];
    h[..16].copy_from_slice(b"SQLite format 3\0");
    h[16..18].copy_from_slice(&(PAGE as u16).to_be_bytes());
    h[18] = 1;
    h[19] = 1;
    h[21..24].copy_from_slice(&[64, 32, 32]);
    h[28..32].copy_from_slice(&count.to_be_bytes());
    h[44..48].copy_from_slice(&4u32.to_be_bytes());
    h[56..60].copy_from_slice(&1u32.to_be_bytes());
    pages.concat()
}

const SQL: &str = "CREATE TABLE \"Jobs\" (id INTEGER PRIMARY KEY, name VARCHAR(20), score REAL, \
                   added INTEGER DEFAULT 7)";

/// Page 1: schema; page 2: interior over pages 3 and 4, leaves of the `Jobs` table.
fn good() -> Vec<Vec<u8>> {
    let row = |id: u64, name: &str| {
        leaf_cell(
            id,
            &record(&[Value::Null, Value::Text(name.into()), Value::Integer(2)]),
        )
    };
    vec![
        page(1, 0x0d, &[leaf_cell(1, &schema_row("Jobs", 2, SQL))], 0),
        page(2, 0x05, &[interior_cell(3, 2)], 4),
        page(3, 0x0d, &[row(1, "a"), row(2, "b")], 0),
        page(4, 0x0d, &[row(5, "c")], 0),
    ]
}

fn write(dir: &tempfile::TempDir, bytes: &[u8]) -> PathBuf {
    let path = dir.path().join("airflow.db");
    std::fs::write(&path, bytes).unwrap();
    path
}

fn read(bytes: &[u8], table: &str) -> Result<Option<Table>, SqliteFileError> {
    let dir = tempfile::tempdir().unwrap();
    read_table(&write(&dir, bytes), table)
}

#[test]
fn a_database_built_by_hand() {
    let t = read(&file(good()), "jobs").unwrap().unwrap();
    assert_eq!(t.columns, ["id", "name", "score", "added"]);
    let row = |id, name: &str| {
        vec![
            Value::Integer(id),
            Value::Text(name.into()),
            Value::Real(2.0),
            Value::Integer(7),
        ]
    };
    assert_eq!(t.rows, [row(1, "a"), row(2, "b"), row(5, "c")]);
    assert_eq!(t.column("NAME"), Some(1));
    assert_eq!(t.column("nope"), None);
    assert_eq!(t.rows[0][1].as_text(), Some("a"));
    assert_eq!(t.rows[0][0].as_integer(), Some(1));
    assert_eq!(t.rows[0][1].as_integer(), None);
    assert!(read(&file(good()), "other").unwrap().is_none());
    let schema = read(&file(good()), "SQLITE_MASTER").unwrap().unwrap();
    assert_eq!(schema.rows.len(), 1);
    assert_eq!(schema.rows[0][4].as_text(), Some(SQL));
    // An empty file is a database without tables, as SQLite sees it.
    assert!(read(&[], "jobs").unwrap().is_none());
}

#[test]
fn a_page_loop_is_an_error() {
    for right_most in [2, 3] {
        let mut pages = good();
        // The interior page names itself, or page 3 twice.
        pages[1] = page(2, 0x05, &[interior_cell(3, 2)], right_most);
        let err = read(&file(pages), "jobs").unwrap_err();
        assert!(matches!(err, SqliteFileError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("appears twice"), "{err}");
    }
    // Interior pages that point at each other, deeper and deeper.
    let mut pages = good();
    pages[2] = page(3, 0x05, &[interior_cell(4, 1)], 2);
    pages[3] = page(4, 0x05, &[], 3);
    assert!(matches!(
        read(&file(pages), "jobs"),
        Err(SqliteFileError::Corrupt { .. })
    ));
}

#[test]
fn bad_page_numbers_and_offsets_are_errors() {
    let corrupt = |pages: Vec<Vec<u8>>, want: &str| {
        let err = read(&file(pages), "jobs").unwrap_err();
        assert!(matches!(err, SqliteFileError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains(want), "{err} lacks {want:?}");
    };
    let mut pages = good();
    pages[1] = page(2, 0x05, &[interior_cell(99, 2)], 4);
    corrupt(pages, "outside the database's 4 pages");
    let mut pages = good();
    pages[1] = page(2, 0x05, &[interior_cell(0, 2)], 4);
    corrupt(pages, "page 0");
    let mut pages = good();
    pages[0] = page(1, 0x0d, &[leaf_cell(1, &schema_row("jobs", 77, SQL))], 0);
    corrupt(pages, "root page");
    let mut pages = good();
    pages[2][8..10].copy_from_slice(&600u16.to_be_bytes()); // cell pointer past the page
    corrupt(pages, "outside the page's cell area");
    let mut pages = good();
    pages[2][8..10].copy_from_slice(&2u16.to_be_bytes()); // into the page header
    corrupt(pages, "outside the page's cell area");
    let mut pages = good();
    pages[2][3..5].copy_from_slice(&400u16.to_be_bytes()); // more cells than fit
    corrupt(pages, "more than fit");
    let mut pages = good();
    pages[3][0] = 0x0a; // an index page where a table page belongs
    corrupt(pages, "not a table b-tree page");
    let mut pages = good();
    let end = PAGE - 3;
    pages[3][end..].copy_from_slice(&[3, 10, 0]); // a record with reserved serial type 10
    pages[3][8..10].copy_from_slice(&(end as u16 - 2).to_be_bytes());
    pages[3][end - 2..end].copy_from_slice(&[3, 5]);
    corrupt(pages, "reserved serial type 10");
}

#[test]
fn overflow_chains_are_checked() {
    // A 1000-byte text: 39 bytes local (see format.rs), the rest on pages 5 and 6.
    let text = "x".repeat(1000 - 4);
    let rec = record(&[Value::Null, Value::Text(text.clone())]);
    assert_eq!(rec.len(), 1000);
    let mut cell = vec![0x87, 0x68, 1]; // payload size 1000, rowid 1
    cell.extend(&rec[..39]);
    cell.extend(5u32.to_be_bytes());
    let overflow = |next: u32, data: &[u8]| {
        let mut p = vec![0u8; PAGE];
        p[..4].copy_from_slice(&next.to_be_bytes());
        p[4..4 + data.len()].copy_from_slice(data);
        p
    };
    let sql = "CREATE TABLE jobs (id INTEGER PRIMARY KEY, t TEXT)";
    let pages = |second: u32| {
        vec![
            page(1, 0x0d, &[leaf_cell(1, &schema_row("jobs", 2, sql))], 0),
            page(2, 0x0d, &[cell.clone()], 0),
            vec![0; PAGE],
            vec![0; PAGE],
            overflow(second, &rec[39..39 + 508]),
            overflow(0, &rec[39 + 508..]),
        ]
    };
    let t = read(&file(pages(6)), "jobs").unwrap().unwrap();
    assert_eq!(t.rows, [vec![Value::Integer(1), Value::Text(text)]]);
    let err = read(&file(pages(0)), "jobs").unwrap_err();
    assert!(err.to_string().contains("ends 453 bytes early"), "{err}");
    let err = read(&file(pages(40)), "jobs").unwrap_err();
    assert!(err.to_string().contains("page 40"), "{err}");
    // A chain that loops on itself ends when the payload is complete: no endless loop.
    assert!(read(&file(pages(5)), "jobs").unwrap().is_some());
    // A payload larger than the whole database is refused before anything is allocated.
    let mut huge = pages(6);
    let mut big = vec![0xff, 0xff, 0xff, 0x7f, 1];
    big.extend(&rec[..39]);
    huge[1] = page(2, 0x0d, &[big], 0);
    let err = read(&file(huge), "jobs").unwrap_err();
    assert!(
        err.to_string().contains("more than the database holds"),
        "{err}"
    );
}

#[test]
fn truncated_and_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let good = file(good());
    let err = read(&good[..50], "jobs").unwrap_err();
    assert!(matches!(err, SqliteFileError::Truncated { .. }), "{err}");
    // The header says 4 pages; the file holds 3.
    let err = read(&good[..3 * PAGE], "jobs").unwrap_err();
    assert!(matches!(err, SqliteFileError::Truncated { .. }), "{err}");
    assert!(
        err.to_string().contains("its header says it has 4 pages"),
        "{err}"
    );
    // Without a valid in-header size, the file's length counts; page 4 is then missing.
    let mut stale = good[..3 * PAGE + 100].to_vec();
    stale[92] = 1;
    let err = read(&stale, "jobs").unwrap_err();
    assert!(
        err.to_string().contains("page 4 lies beyond the end"),
        "{err}"
    );

    let path = write(
        &dir,
        b"# airflow.cfg\n[database]\nsql_alchemy_conn = sqlite:////x\n"
            .repeat(5)
            .as_slice(),
    );
    let err = read_table(&path, "jobs").unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot read SQLite database {}: it is not a SQLite 3 file (bad header): check sql_alchemy_conn",
            path.display()
        )
    );
    let mut utf16 = good.clone();
    utf16[59] = 2;
    let err = read(&utf16, "jobs").unwrap_err();
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
    let missing = dir.path().join("nope.db");
    let err = read_table(&missing, "jobs").unwrap_err();
    assert!(
        matches!(&err, SqliteFileError::Io { error, .. } if error.kind() == io::ErrorKind::NotFound),
        "{err}"
    );
    assert!(err.to_string().contains("nope.db"), "{err}");
}

#[test]
fn tables_it_does_not_read() {
    let with = |sql: &str| {
        let mut pages = good();
        pages[0] = page(1, 0x0d, &[leaf_cell(1, &schema_row("jobs", 2, sql))], 0);
        read(&file(pages), "jobs").unwrap_err()
    };
    let err = with("CREATE TABLE jobs (id INTEGER PRIMARY KEY, v) WITHOUT ROWID");
    assert!(matches!(err, SqliteFileError::WithoutRowid { .. }), "{err}");
    assert!(err.to_string().contains("WITHOUT ROWID"), "{err}");
    let err = with("CREATE VIRTUAL TABLE jobs USING fts5(a)");
    assert!(matches!(err, SqliteFileError::Unsupported { .. }), "{err}");
    let err = with("CREATE TABLE jobs (a, b AS (a + 1))");
    assert!(
        err.to_string().contains("VIRTUAL generated column"),
        "{err}"
    );
    let err = with("CREATE TABLE jobs (a, b");
    assert!(matches!(err, SqliteFileError::Schema { .. }), "{err}");
}

#[test]
fn a_committed_wal_frame_wins_and_an_uncommitted_one_does_not() {
    use super::pager::checksum;
    let dir = tempfile::tempdir().unwrap();
    let path = write(&dir, &file(good()));
    let mut wal = vec![0u8; 32];
    wal[..4].copy_from_slice(&0x377f_0682u32.to_be_bytes());
    wal[4..8].copy_from_slice(&3_007_000u32.to_be_bytes());
    wal[8..12].copy_from_slice(&(PAGE as u32).to_be_bytes());
    wal[16..24].copy_from_slice(&[7; 8]);
    let mut sum = checksum(false, (0, 0), &wal[..24]);
    wal[24..28].copy_from_slice(&sum.0.to_be_bytes());
    wal[28..32].copy_from_slice(&sum.1.to_be_bytes());
    let row =
        |id: u64, name: &str| leaf_cell(id, &record(&[Value::Null, Value::Text(name.into())]));
    let mut frame = |page_no: u32, commit: u32, data: Vec<u8>| {
        let mut h = vec![0u8; 24];
        h[..4].copy_from_slice(&page_no.to_be_bytes());
        h[4..8].copy_from_slice(&commit.to_be_bytes());
        h[8..16].copy_from_slice(&[7; 8]);
        sum = checksum(false, sum, &h[..8]);
        sum = checksum(false, sum, &data);
        h[16..20].copy_from_slice(&sum.0.to_be_bytes());
        h[20..24].copy_from_slice(&sum.1.to_be_bytes());
        wal.extend(h);
        wal.extend(data);
    };
    frame(4, 4, page(4, 0x0d, &[row(5, "committed")], 0));
    frame(4, 0, page(4, 0x0d, &[row(5, "not committed")], 0));
    std::fs::write(dir.path().join("airflow.db-wal"), &wal).unwrap();
    let t = read_table(&path, "jobs").unwrap().unwrap();
    assert_eq!(t.rows[2][1].as_text(), Some("committed"));
    assert_eq!(
        t.rows[2][3],
        Value::Integer(7),
        "a missing column reads its default"
    );
    // An empty WAL is no WAL.
    std::fs::write(dir.path().join("airflow.db-wal"), b"").unwrap();
    assert_eq!(
        read_table(&path, "jobs").unwrap().unwrap().rows[2][1].as_text(),
        Some("c")
    );
}

/// Every single-byte change and every truncation of a good file reads or fails, never panics.
#[test]
fn garbage_never_panics() {
    let dir = tempfile::tempdir().unwrap();
    let good = file(good());
    let path = dir.path().join("airflow.db");
    let check = |bytes: &[u8]| {
        std::fs::write(&path, bytes).unwrap();
        let _ = read_table(&path, "jobs");
    };
    for len in (0..good.len()).step_by(7) {
        check(&good[..len]);
    }
    for i in 0..good.len() {
        for x in [0x00, 0xff, good[i] ^ 0x01, good[i].wrapping_add(0x80)] {
            let mut bad = good.clone();
            bad[i] = x;
            check(&bad);
        }
    }
}
