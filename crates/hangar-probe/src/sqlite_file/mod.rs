//! Reads one table of a SQLite database file, without the SQLite library: the file format is
//! decoded in Rust (<https://www.sqlite.org/fileformat2.html>), read-only, with `std::fs` only.
//! The file is never written or locked; committed transactions still in its write-ahead log
//! (`<db>-wal`) are read as SQLite reads them.
//!
//! * `format`: the database header, varints, records and the local-payload formula.
//! * `pager`: pages from the database file or from the write-ahead log.
//! * `btree`: walking a table b-tree and its overflow chains.
//! * `schema`: the columns of a table from its `CREATE TABLE` statement (`tokens`), and
//!   `affinity`: how a column's type changes the values read from it.
//!
//! It reads ordinary (rowid) tables of UTF-8 databases, which is what Airflow creates; a
//! corrupt or truncated file is an error, never a panic or an endless loop.
//!
//! ```no_run
//! use hangar_probe::sqlite_file::read_table;
//! let table = read_table("/opt/airflow/airflow.db".as_ref(), "alembic_version")?;
//! if let Some(t) = table {
//!     let col = t.column("version_num").expect("the column");
//!     let revisions: Vec<&str> = t.rows.iter().filter_map(|r| r[col].as_text()).collect();
//! #   let _ = revisions;
//! }
//! # Ok::<(), hangar_probe::sqlite_file::SqliteFileError>(())
//! ```

mod affinity;
mod btree;
mod format;
mod pager;
mod schema;
mod tokens;

use std::io;
use std::path::{Path, PathBuf};

use pager::Pager;

/// One value of a row, in SQLite's five storage classes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A signed 64-bit integer.
    Integer(i64),
    /// An IEEE 754 double.
    Real(f64),
    /// Text (invalid UTF-8 in the file is replaced by U+FFFD).
    Text(String),
    /// A blob.
    Blob(Vec<u8>),
}

impl Value {
    /// The text, when the value is text.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The integer, when the value is an integer.
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }
}

/// The rows of a table, each with one value per column, in rowid order.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The column names as declared (quotes removed), in declaration order.
    pub columns: Vec<String>,
    /// The rows; each has `columns.len()` values.
    pub rows: Vec<Vec<Value>>,
}

impl Table {
    /// The index of column `name` (compared case-insensitively, as SQLite does).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
    }
}

/// Why a table could not be read from a SQLite database file.
#[derive(Debug, thiserror::Error)]
pub enum SqliteFileError {
    /// The database file or its write-ahead log could not be opened or read.
    #[error(
        "cannot read SQLite database {}: reading {} failed: {error}: check that the file exists \
         and that this user may read it", path.display(), file.display()
    )]
    Io {
        /// The database file.
        path: PathBuf,
        /// The file that could not be read (the database or its `-wal`).
        file: PathBuf,
        /// What the system said.
        error: io::Error,
    },
    /// The file is not a SQLite 3 database.
    #[error(
        "cannot read SQLite database {}: it is not a SQLite 3 file ({detail}): check \
         sql_alchemy_conn", path.display()
    )]
    NotSqlite {
        /// The database file.
        path: PathBuf,
        /// What is wrong with its header.
        detail: String,
    },
    /// The database stores text as UTF-16.
    #[error(
        "cannot read SQLite database {}: its text encoding is {encoding}, and hangar reads \
         UTF-8 databases only: let Airflow create the database (SQLite's default is UTF-8), or \
         convert it with `sqlite3 OLD .dump | sqlite3 NEW`", path.display()
    )]
    Utf16 {
        /// The database file.
        path: PathBuf,
        /// `UTF-16le` or `UTF-16be`.
        encoding: &'static str,
    },
    /// A file format newer than this reader knows.
    #[error(
        "cannot read SQLite database {}: {detail}, newer than hangar can read: report it to \
         hangar with the SQLite version that wrote the file", path.display()
    )]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// The field and its value.
        detail: String,
    },
    /// The file's structures are inconsistent.
    #[error(
        "cannot read SQLite database {}: it is malformed ({detail}): check it with `sqlite3 {} \
         'PRAGMA integrity_check'` and restore it from a backup if it is damaged",
        path.display(), path.display()
    )]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What is inconsistent.
        detail: String,
    },
    /// The file is shorter than its structures say, or changed while it was read.
    #[error(
        "cannot read SQLite database {}: {detail}: the file is being written or was cut short; \
         try again, and check the volume it is on", path.display()
    )]
    Truncated {
        /// The database file.
        path: PathBuf,
        /// What is missing.
        detail: String,
    },
    /// A `WITHOUT ROWID` table, which this reader does not read.
    #[error(
        "cannot read table {table} of SQLite database {}: it is a WITHOUT ROWID table, which \
         hangar does not read (Airflow creates none): check that this is Airflow's metadata \
         database", path.display()
    )]
    WithoutRowid {
        /// The database file.
        path: PathBuf,
        /// The table asked for.
        table: String,
    },
    /// A table of a kind this reader does not read (virtual, generated columns).
    #[error(
        "cannot read table {table} of SQLite database {}: {detail}, which hangar does not read \
         (Airflow creates none): check that this is Airflow's metadata database", path.display()
    )]
    Unsupported {
        /// The database file.
        path: PathBuf,
        /// The table asked for.
        table: String,
        /// What it has that cannot be read.
        detail: String,
    },
    /// The table's `CREATE TABLE` statement could not be parsed.
    #[error(
        "cannot read table {table} of SQLite database {}: its CREATE TABLE statement cannot be \
         parsed ({detail}): check it with `sqlite3 {} .schema`", path.display(), path.display()
    )]
    Schema {
        /// The database file.
        path: PathBuf,
        /// The table asked for.
        table: String,
        /// What could not be parsed.
        detail: String,
    },
}

/// A problem found below the public API, before the path is attached.
#[derive(Debug)]
enum Fault {
    Io { file: PathBuf, error: io::Error },
    NotSqlite(String),
    Utf16(&'static str),
    TooNew(String),
    Corrupt(String),
    Truncated(String),
}

impl Fault {
    fn at(self, path: &Path) -> SqliteFileError {
        let path = path.to_path_buf();
        match self {
            Fault::Io { file, error } => SqliteFileError::Io { path, file, error },
            Fault::NotSqlite(detail) => SqliteFileError::NotSqlite { path, detail },
            Fault::Utf16(encoding) => SqliteFileError::Utf16 { path, encoding },
            Fault::TooNew(detail) => SqliteFileError::TooNew { path, detail },
            Fault::Corrupt(detail) => SqliteFileError::Corrupt { path, detail },
            Fault::Truncated(detail) => SqliteFileError::Truncated { path, detail },
        }
    }
}

/// The columns of `sqlite_schema`, the table of tables on page 1.
const SCHEMA_COLUMNS: [&str; 5] = ["type", "name", "tbl_name", "rootpage", "sql"];

/// All rows of table `table` (its name compared case-insensitively) of the SQLite database
/// file at `path`. `sqlite_schema` (or `sqlite_master`) is the table of tables.
///
/// Ok(None) when the database has no table of that name (case-insensitive).
///
/// # Errors
/// The file cannot be read, is not a UTF-8 SQLite 3 database, is corrupt or truncated, or the
/// table is of a kind this reader does not read (see [`SqliteFileError`]).
pub fn read_table(path: &Path, table: &str) -> Result<Option<Table>, SqliteFileError> {
    let Some(pager) = Pager::open(path).map_err(|f| f.at(path))? else {
        return Ok(None);
    };
    let mut schema = Vec::new();
    btree::scan(&pager, 1, |_, record| {
        let mut row = format::decode_record(record).map_err(Fault::Corrupt)?;
        row.resize(SCHEMA_COLUMNS.len(), Value::Null);
        schema.push(row);
        Ok(())
    })
    .map_err(|f| f.at(path))?;
    if ["sqlite_schema", "sqlite_master"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(table))
    {
        return Ok(Some(Table {
            columns: SCHEMA_COLUMNS.map(str::to_owned).to_vec(),
            rows: schema,
        }));
    }
    let Some(entry) = schema.into_iter().find(|row| {
        row[0].as_text() == Some("table")
            && row[1]
                .as_text()
                .is_some_and(|n| n.eq_ignore_ascii_case(table))
    }) else {
        return Ok(None);
    };
    read_rows(&pager, &entry, path, table)
}

/// The rows of the table described by its `sqlite_schema` row `entry`.
fn read_rows(
    pager: &Pager,
    entry: &[Value],
    path: &Path,
    table: &str,
) -> Result<Option<Table>, SqliteFileError> {
    let (path_buf, table_name) = (|| path.to_path_buf(), || table.to_owned());
    let unsupported = |detail| SqliteFileError::Unsupported {
        path: path_buf(),
        table: table_name(),
        detail,
    };
    let sql = entry[4].as_text().unwrap_or_default();
    if sql
        .split_whitespace()
        .nth(1)
        .is_some_and(|w| w.eq_ignore_ascii_case("VIRTUAL"))
    {
        return Err(unsupported("it is a virtual table".into()));
    }
    let def = schema::parse_create_table(sql).map_err(|detail| SqliteFileError::Schema {
        path: path_buf(),
        table: table_name(),
        detail,
    })?;
    if def.without_rowid {
        return Err(SqliteFileError::WithoutRowid {
            path: path_buf(),
            table: table_name(),
        });
    }
    if let Some(c) = def.columns.iter().find(|c| c.virtual_generated) {
        return Err(unsupported(format!(
            "its column {} is a VIRTUAL generated column",
            c.name
        )));
    }
    let root = entry[3]
        .as_integer()
        .and_then(|r| u32::try_from(r).ok())
        .filter(|&r| r >= 1 && r <= pager.page_count())
        .ok_or_else(|| {
            Fault::Corrupt(format!(
                "sqlite_schema gives table {table} the root page {:?}",
                entry[3]
            ))
            .at(path)
        })?;
    let mut rows = Vec::new();
    btree::scan(pager, root, |rowid, record| {
        let mut stored = format::decode_record(record)
            .map_err(Fault::Corrupt)?
            .into_iter();
        let row = def
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let v = stored.next();
                if def.rowid_alias == Some(i) {
                    // Stored as NULL: the value is the rowid.
                    return Value::Integer(rowid);
                }
                // A row older than ALTER TABLE ADD COLUMN reads the column's default.
                c.affinity.on_read(v.unwrap_or_else(|| c.default.clone()))
            })
            .collect();
        rows.push(row);
        Ok(())
    })
    .map_err(|f| f.at(path))?;
    Ok(Some(Table {
        columns: def.columns.into_iter().map(|c| c.name).collect(),
        rows,
    }))
}

#[cfg(test)]
mod tests;
