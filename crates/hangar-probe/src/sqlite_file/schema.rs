//! The columns of a table, from the `CREATE TABLE` statement SQLite keeps in `sqlite_schema`:
//! their names (quotes removed), their type affinity, the default a row written before an
//! `ALTER TABLE ADD COLUMN` reads, which column is the rowid's alias (`INTEGER PRIMARY KEY`),
//! and the table options (`WITHOUT ROWID`).

use super::Value;
use super::affinity::{Affinity, default};
use super::tokens::{Tok, tokenize};

/// A column of a table.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Column {
    pub(super) name: String,
    pub(super) affinity: Affinity,
    /// What a record without this column reads (rows older than `ALTER TABLE ADD COLUMN`).
    pub(super) default: Value,
    /// A `GENERATED ALWAYS AS (…) VIRTUAL` column: computed, not stored in the record.
    pub(super) virtual_generated: bool,
    /// Declared as exactly `INTEGER` (what a rowid alias needs).
    integer: bool,
}

/// A table's definition.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct TableDef {
    pub(super) columns: Vec<Column>,
    /// The column that is an alias of the rowid, if any.
    pub(super) rowid_alias: Option<usize>,
    pub(super) without_rowid: bool,
}

/// Keywords that end a column's type name and start a column constraint.
const COLUMN_CONSTRAINTS: &[&str] = &[
    "CONSTRAINT",
    "PRIMARY",
    "NOT",
    "NULL",
    "UNIQUE",
    "CHECK",
    "DEFAULT",
    "COLLATE",
    "REFERENCES",
    "GENERATED",
    "AS",
];
/// Keywords that start a table constraint instead of a column.
const TABLE_CONSTRAINTS: &[&str] = &["CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"];

/// Parses a `CREATE TABLE` statement as stored in `sqlite_schema.sql`.
pub(super) fn parse_create_table(sql: &str) -> Result<TableDef, String> {
    let toks = tokenize(sql)?;
    let mut i = 0;
    let expect = |i: &mut usize, kw: &str| -> Result<(), String> {
        if toks.get(*i).is_some_and(|t| t.is(kw)) {
            *i += 1;
            Ok(())
        } else {
            Err(format!("expected {kw} as word {} of the statement", *i + 1))
        }
    };
    expect(&mut i, "CREATE")?;
    if toks
        .get(i)
        .is_some_and(|t| t.is("TEMP") || t.is("TEMPORARY"))
    {
        i += 1;
    }
    expect(&mut i, "TABLE")?;
    // [IF NOT EXISTS] [schema.]name, then the column list.
    let open = toks[i..]
        .iter()
        .position(|t| *t == Tok::Punct('('))
        .map(|p| i + p)
        .ok_or("no column list")?;
    let (items, close) = split_items(&toks, open + 1)?;
    let mut columns = Vec::new();
    let mut column_pk: Option<(usize, bool)> = None;
    let mut table_pk: Option<Vec<String>> = None;
    let mut in_constraints = false;
    for item in items {
        let Some(first) = item.first() else {
            return Err("an empty column definition".into());
        };
        if in_constraints || TABLE_CONSTRAINTS.iter().any(|kw| first.is(kw)) {
            in_constraints = true;
            if let Some(cols) = primary_key_list(item) {
                table_pk = Some(cols);
            }
            continue;
        }
        let (column, pk_desc) = column_def(item)?;
        if let Some(desc) = pk_desc {
            column_pk = Some((columns.len(), desc));
        }
        columns.push(column);
    }
    if columns.is_empty() {
        return Err("no columns".into());
    }
    let without_rowid = toks[close + 1..]
        .windows(2)
        .any(|w| w[0].is("WITHOUT") && w[1].is("ROWID"));
    let rowid_alias = if without_rowid {
        None
    } else if let Some((c, desc)) = column_pk {
        // `INTEGER PRIMARY KEY DESC` is, by a quirk SQLite keeps, not an alias.
        (!desc && columns[c].integer).then_some(c)
    } else if let Some([name]) = table_pk.as_deref() {
        columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
            .filter(|&c| columns[c].integer)
    } else {
        None
    };
    Ok(TableDef {
        columns,
        rowid_alias,
        without_rowid,
    })
}

/// The comma-separated items from `start` to the matching `)`, and that `)`'s index.
fn split_items(toks: &[Tok], start: usize) -> Result<(Vec<&[Tok]>, usize), String> {
    let mut depth = 0usize;
    let mut items = Vec::new();
    let mut from = start;
    for (i, t) in toks.iter().enumerate().skip(start) {
        match t {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') if depth == 0 => {
                items.push(&toks[from..i]);
                return Ok((items, i));
            }
            Tok::Punct(')') => depth -= 1,
            Tok::Punct(',') if depth == 0 => {
                items.push(&toks[from..i]);
                from = i + 1;
            }
            _ => {}
        }
    }
    Err("the column list is not closed".into())
}

/// The index of the `)` matching the `(` at `open`, or the end.
fn matching(toks: &[Tok], open: usize) -> usize {
    let mut depth = 0usize;
    for (i, t) in toks.iter().enumerate().skip(open) {
        match t {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    toks.len()
}

/// The text of a name token: an identifier, or a string used as one.
fn name(t: &Tok) -> Option<&str> {
    match t {
        Tok::Word { text, .. } | Tok::Str(text) => Some(text),
        _ => None,
    }
}

/// The columns of a table constraint `[CONSTRAINT name] PRIMARY KEY (a, b …)`.
fn primary_key_list(item: &[Tok]) -> Option<Vec<String>> {
    let at = item
        .windows(2)
        .position(|w| w[0].is("PRIMARY") && w[1].is("KEY"))?;
    if item.get(at + 2) != Some(&Tok::Punct('(')) {
        return None;
    }
    let (cols, _) = split_items(item, at + 3).ok()?;
    // Each entry is `name [COLLATE x] [ASC|DESC]`; only a plain name can be the rowid.
    Some(
        cols.iter()
            .map(|c| c.first().and_then(name).unwrap_or_default().to_owned())
            .collect(),
    )
}

/// A column definition: the column, and `Some(desc)` when it has a PRIMARY KEY constraint.
fn column_def(item: &[Tok]) -> Result<(Column, Option<bool>), String> {
    let col_name = name(&item[0]).ok_or("a column without a name")?.to_owned();
    // The type: words up to a constraint keyword, with an optional `(n[, m])`.
    let mut words = Vec::new();
    let mut sized = false;
    let mut i = 1;
    while let Some(t) = item.get(i) {
        match t {
            Tok::Word { text, .. } if !COLUMN_CONSTRAINTS.iter().any(|kw| t.is(kw)) => {
                words.push(text.clone());
                i += 1;
            }
            Tok::Punct('(') if !words.is_empty() => {
                i = matching(item, i) + 1;
                sized = true;
                break;
            }
            _ => break,
        }
    }
    let declared = words.join(" ");
    let affinity = Affinity::of(&declared);
    let mut column = Column {
        name: col_name,
        affinity,
        default: Value::Null,
        virtual_generated: false,
        // `INTEGER(8)` is not `INTEGER`.
        integer: !sized && declared.eq_ignore_ascii_case("INTEGER"),
    };
    let mut pk = None;
    while let Some(t) = item.get(i) {
        if t.is("PRIMARY") && item.get(i + 1).is_some_and(|k| k.is("KEY")) {
            pk = Some(item.get(i + 2).is_some_and(|d| d.is("DESC")));
            i += 2;
        } else if t.is("DEFAULT") {
            column.default = default(item.get(i + 1..).unwrap_or_default(), affinity);
            i += 1;
        } else if t.is("AS") {
            // `[GENERATED ALWAYS] AS (expr) [VIRTUAL | STORED]`, VIRTUAL by default.
            let end = matching(item, i + 1);
            column.virtual_generated = !item.get(end + 1).is_some_and(|s| s.is("STORED"));
            i = end + 1;
        } else if *t == Tok::Punct('(') {
            // CHECK (…), REFERENCES t (…): nothing in there is about this column's storage.
            i = matching(item, i) + 1;
        } else {
            i += 1;
        }
    }
    Ok((column, pk))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(sql: &str) -> Vec<String> {
        let def = parse_create_table(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        def.columns.into_iter().map(|c| c.name).collect()
    }

    fn alias(sql: &str) -> Option<usize> {
        parse_create_table(sql).unwrap().rowid_alias
    }

    #[test]
    fn column_names_through_quotes_types_and_constraints() {
        assert_eq!(names("CREATE TABLE t(a, b)"), ["a", "b"]);
        assert_eq!(
            names(
                r#"CREATE TABLE "my table" ("a b" TEXT, `c``d` INT, [e"f] BLOB, 'g' REAL, "h""i")"#
            ),
            ["a b", "c`d", "e\"f", "g", "h\"i"]
        );
        assert_eq!(
            names(
                "CREATE TABLE IF NOT EXISTS main.job (\n\
                 \tid INTEGER NOT NULL, \n\
                 \tdag_id VARCHAR(250), \n\
                 \tprice DECIMAL(10, 2) DEFAULT (1.5 * (2 + 3)), \n\
                 \tstate VARCHAR(20) CHECK (state IN ('a', 'b,c')) COLLATE NOCASE, \n\
                 \towner_id INTEGER REFERENCES ab_user (id) ON DELETE CASCADE, \n\
                 \tkey TEXT, -- a comment, with a comma\n\
                 \t/* (another) */ \"primary\" TEXT, \n\
                 \tCONSTRAINT job_pkey PRIMARY KEY (id), \n\
                 \tCONSTRAINT ck CHECK (length(dag_id) > (0)), \n\
                 \tUNIQUE (dag_id, state), \n\
                 \tFOREIGN KEY(owner_id) REFERENCES ab_user (id)\n)"
            ),
            [
                "id", "dag_id", "price", "state", "owner_id", "key", "primary"
            ]
        );
        assert_eq!(
            names("create temp table t(x unsigned big int primary key asc autoincrement)"),
            ["x"]
        );
        assert_eq!(
            names("CREATE TABLE t(a DOUBLE PRECISION, b VARYING CHARACTER(255) NOT NULL)"),
            ["a", "b"]
        );
        assert_eq!(
            names("CREATE TABLE t(a, b AS (a * 2) STORED, c GENERATED ALWAYS AS (a) VIRTUAL)"),
            ["a", "b", "c"]
        );
    }

    #[test]
    fn the_rowid_alias() {
        assert_eq!(
            alias("CREATE TABLE t(a TEXT, id INTEGER PRIMARY KEY)"),
            Some(1)
        );
        assert_eq!(
            alias("CREATE TABLE t(id integer primary key autoincrement, a)"),
            Some(0)
        );
        assert_eq!(alias("CREATE TABLE t(id \"INTEGER\" PRIMARY KEY)"), Some(0));
        assert_eq!(
            alias("CREATE TABLE t(id INTEGER NOT NULL, a, PRIMARY KEY (id))"),
            Some(0)
        );
        assert_eq!(
            alias("CREATE TABLE t(id INTEGER, a, CONSTRAINT pk PRIMARY KEY (\"ID\" DESC))"),
            Some(0)
        );
        assert_eq!(
            alias("CREATE TABLE t(id INTEGER CONSTRAINT pk PRIMARY KEY ASC)"),
            Some(0)
        );
        // Not aliases: DESC on the column, other type names, composite keys, WITHOUT ROWID.
        assert_eq!(alias("CREATE TABLE t(id INTEGER PRIMARY KEY DESC)"), None);
        assert_eq!(alias("CREATE TABLE t(id INT PRIMARY KEY)"), None);
        assert_eq!(alias("CREATE TABLE t(id BIGINT PRIMARY KEY)"), None);
        assert_eq!(alias("CREATE TABLE t(id INTEGER(8) PRIMARY KEY)"), None);
        assert_eq!(
            alias("CREATE TABLE t(id INTEGER(8), PRIMARY KEY (id))"),
            None
        );
        assert_eq!(alias("CREATE TABLE t(id VARCHAR(250) PRIMARY KEY)"), None);
        assert_eq!(
            alias("CREATE TABLE t(a INTEGER, b INTEGER, PRIMARY KEY (a, b))"),
            None
        );
        assert_eq!(alias("CREATE TABLE t(a INTEGER)"), None);
        let w =
            parse_create_table("CREATE TABLE t(id INTEGER PRIMARY KEY, v) WITHOUT ROWID").unwrap();
        assert!(w.without_rowid);
        assert_eq!(w.rowid_alias, None);
        let s = parse_create_table("CREATE TABLE t(id INTEGER PRIMARY KEY, v ANY) STRICT").unwrap();
        assert!(!s.without_rowid);
    }

    #[test]
    fn defaults_as_old_rows_read_them() {
        let d = |col: &str| {
            let def = parse_create_table(&format!("CREATE TABLE t({col})")).unwrap();
            let c = &def.columns[0];
            c.affinity.on_read(c.default.clone())
        };
        assert_eq!(d("a"), Value::Null);
        assert_eq!(d("a INTEGER DEFAULT 7"), Value::Integer(7));
        assert_eq!(d("a INTEGER NOT NULL DEFAULT -7"), Value::Integer(-7));
        assert_eq!(d("a INTEGER DEFAULT '12'"), Value::Integer(12));
        assert_eq!(d("a BOOLEAN DEFAULT '0'"), Value::Integer(0));
        assert_eq!(d("a NUMERIC DEFAULT '2.0'"), Value::Integer(2));
        assert_eq!(d("a NUMERIC DEFAULT '2.5'"), Value::Real(2.5));
        assert_eq!(d("a INTEGER DEFAULT 'x'"), Value::Text("x".into()));
        assert_eq!(d("a TEXT DEFAULT 'it''s'"), Value::Text("it's".into()));
        assert_eq!(d("a VARCHAR(10) DEFAULT 5"), Value::Text("5".into()));
        assert_eq!(d("a TEXT DEFAULT 5.0"), Value::Text("5.0".into()));
        assert_eq!(d("a TEXT DEFAULT 0x10"), Value::Text("16".into()));
        assert_eq!(d("a REAL DEFAULT 2"), Value::Real(2.0));
        assert_eq!(d("a DEFAULT 2.0"), Value::Integer(2));
        assert_eq!(d("a DEFAULT 1e3"), Value::Integer(1000));
        assert_eq!(d("a DEFAULT 12345678901"), Value::Integer(12_345_678_901));
        assert_eq!(d("a BLOB DEFAULT x'00Ff'"), Value::Blob(vec![0, 255]));
        assert_eq!(d("a INTEGER DEFAULT TRUE"), Value::Integer(1));
        assert_eq!(d("a TEXT DEFAULT NULL"), Value::Null);
        assert_eq!(d("a TIMESTAMP DEFAULT CURRENT_TIMESTAMP"), Value::Null);
        assert_eq!(d("a DEFAULT (1 + 1) NOT NULL"), Value::Null);
    }

    #[test]
    fn column_affinities() {
        let def =
            parse_create_table("CREATE TABLE t(a VARCHAR(250) NOT NULL, b INTEGER(8))").unwrap();
        assert_eq!(def.columns[0].affinity, Affinity::Text);
        assert_eq!(def.columns[1].affinity, Affinity::Integer);
    }

    #[test]
    fn statements_it_cannot_read() {
        for sql in [
            "",
            "CREATE INDEX i ON t(a)",
            "CREATE VIEW v AS SELECT 1",
            "CREATE TABLE t",
            "CREATE TABLE t(a, b",
            "CREATE TABLE t(a, )",
            "CREATE TABLE t(\"a)",
            "CREATE TABLE t(PRIMARY KEY (a))",
            "CREATE TABLE t(a BLOB DEFAULT x'0')",
        ] {
            assert!(parse_create_table(sql).is_err(), "{sql}");
        }
    }
}
