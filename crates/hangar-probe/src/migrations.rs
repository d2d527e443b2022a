//! The migration graph of the Airflow installed in an image, read without starting Python:
//! each `airflow/migrations/versions/*.py` names its `revision` and its `down_revision`
//! (none, one, or a tuple for a merge). The head is the revision nothing points down to; a
//! database's `alembic_version` is compared with it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The revisions of one Airflow: revision → the revisions it follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrations {
    down: BTreeMap<String, Vec<String>>,
}

/// Errors reading the migration files.
#[derive(Debug, thiserror::Error)]
pub enum MigrationsError {
    #[error(
        "cannot read Airflow's migrations in {}: {source}. Point it at the airflow/migrations/versions \
         folder of the Airflow installed in the image", path.display()
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}: no `revision = \"…\"` line; is this one of Airflow's migration files?")]
    NoRevision { file: String },
    #[error("{file}: cannot read its `down_revision` ({line:?})")]
    BadDown { file: String, line: String },
    #[error("no migration files in {}", .0.display())]
    Empty(PathBuf),
}

/// Where the database stands against the image's Airflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// At the head: migrated for this Airflow.
    Current,
    /// Migrations of this Airflow not applied yet.
    Behind { by: usize },
    /// No revision recorded: never migrated.
    NotMigrated,
    /// A revision this Airflow does not know: the database was migrated by another Airflow,
    /// most often a newer one.
    Unknown { revision: String },
}

/// The value of `name = "…"` (or `name: str = '…'`) on a line, when the line assigns `name`.
fn assigned<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(name)?;
    let rest = rest.trim_start();
    let rest = match rest.strip_prefix(':') {
        Some(annotated) => annotated.split_once('=')?.1,
        None => rest.strip_prefix('=')?,
    };
    Some(rest.trim())
}

fn quoted(s: &str) -> Option<&str> {
    let s = s.trim();
    let q = s.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    s[1..].strip_suffix(q).filter(|v| !v.contains(q))
}

/// The `revision` and `down_revision` of one migration file's text.
///
/// # Errors
/// The file has no revision, or a `down_revision` this reader does not understand.
pub fn parse_file(file: &str, text: &str) -> Result<(String, Vec<String>), MigrationsError> {
    let (mut revision, mut down) = (None, None);
    for line in text.lines() {
        if let Some(v) = assigned(line, "revision") {
            revision = quoted(v).map(str::to_owned);
        } else if let Some(v) = assigned(line, "down_revision") {
            let bad = || MigrationsError::BadDown {
                file: file.to_owned(),
                line: line.to_owned(),
            };
            let list = if v == "None" {
                Vec::new()
            } else if let Some(inner) = v.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
                inner
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(|p| quoted(p).map(str::to_owned).ok_or_else(bad))
                    .collect::<Result<_, _>>()?
            } else {
                vec![quoted(v).ok_or_else(bad)?.to_owned()]
            };
            down = Some(list);
        }
    }
    let revision = revision.ok_or_else(|| MigrationsError::NoRevision {
        file: file.to_owned(),
    })?;
    Ok((revision, down.unwrap_or_default()))
}

impl Migrations {
    /// Reads every `*.py` of `dir` but `__init__.py`.
    ///
    /// # Errors
    /// The folder cannot be read, holds no migration, or a file is not a migration.
    pub fn read_dir(dir: &Path) -> Result<Self, MigrationsError> {
        let io = |source| MigrationsError::Read {
            path: dir.to_path_buf(),
            source,
        };
        let mut down = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !name.ends_with(".py") || name == "__init__.py" {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|source| MigrationsError::Read {
                path: path.clone(),
                source,
            })?;
            let (rev, downs) = parse_file(&name, &text)?;
            down.insert(rev, downs);
        }
        if down.is_empty() {
            return Err(MigrationsError::Empty(dir.to_path_buf()));
        }
        Ok(Self { down })
    }

    /// A graph from (revision, down revisions) pairs.
    #[must_use]
    pub fn from_pairs<I: IntoIterator<Item = (String, Vec<String>)>>(pairs: I) -> Self {
        Self {
            down: pairs.into_iter().collect(),
        }
    }

    /// How many revisions there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.down.len()
    }

    /// True when there is no revision at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.down.is_empty()
    }

    /// The revisions no other revision follows (Airflow has one).
    #[must_use]
    pub fn heads(&self) -> Vec<&str> {
        let followed: BTreeSet<&str> = self.down.values().flatten().map(String::as_str).collect();
        self.down
            .keys()
            .map(String::as_str)
            .filter(|r| !followed.contains(r))
            .collect()
    }

    /// `rev` and every revision it follows, directly or not.
    fn ancestry(&self, rev: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![rev.to_owned()];
        while let Some(r) = stack.pop() {
            if let Some(downs) = self.down.get(&r)
                && seen.insert(r)
            {
                stack.extend(downs.iter().cloned());
            }
        }
        seen
    }

    /// Where a database whose `alembic_version` holds `db` stands.
    #[must_use]
    pub fn status(&self, db: &[String]) -> Status {
        if db.is_empty() {
            return Status::NotMigrated;
        }
        if let Some(unknown) = db.iter().find(|r| !self.down.contains_key(*r)) {
            return Status::Unknown {
                revision: unknown.clone(),
            };
        }
        let applied: BTreeSet<String> = db.iter().flat_map(|r| self.ancestry(r)).collect();
        let wanted: BTreeSet<String> = self.heads().iter().flat_map(|h| self.ancestry(h)).collect();
        match wanted.difference(&applied).count() {
            0 => Status::Current,
            by => Status::Behind { by },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph() -> Migrations {
        let p = |r: &str, d: &[&str]| (r.to_owned(), d.iter().map(|s| (*s).to_owned()).collect());
        Migrations::from_pairs([
            p("a", &[]),
            p("b", &["a"]),
            p("c1", &["b"]),
            p("c2", &["b"]),
            p("m", &["c1", "c2"]),
            p("head", &["m"]),
        ])
    }

    #[test]
    fn files_of_every_style_parse() {
        let text = "\"\"\"doc\"\"\"\nrevision = \"29ce7909c52b\"\ndown_revision = \"959e216a3abb\"\nbranch_labels = None\n";
        assert_eq!(
            parse_file("x.py", text).unwrap(),
            ("29ce7909c52b".into(), vec!["959e216a3abb".into()])
        );
        let merge = "revision = 'e1'\ndown_revision = ('a1', \"b2\", )\n";
        assert_eq!(parse_file("m.py", merge).unwrap().1, ["a1", "b2"]);
        let first = "revision: str = \"e959f08ac86c\"\ndown_revision: str | None = None\n";
        assert_eq!(
            parse_file("f.py", first).unwrap(),
            ("e959f08ac86c".into(), vec![])
        );
        assert!(matches!(
            parse_file("n.py", "x = 1\n"),
            Err(MigrationsError::NoRevision { .. })
        ));
        assert!(matches!(
            parse_file("b.py", "revision = \"a\"\ndown_revision = compute()\n"),
            Err(MigrationsError::BadDown { .. })
        ));
        // `revision_x = …` and indented uses are not the module's assignment.
        let other = "revision = \"r\"\nrevision_x = \"nope\"\ndef f():\n    revision = \"inner\"\n";
        assert_eq!(parse_file("o.py", other).unwrap().0, "r");
    }

    #[test]
    fn the_head_and_how_far_behind_a_database_is() {
        let g = graph();
        assert_eq!(g.heads(), ["head"]);
        assert_eq!(g.status(&["head".into()]), Status::Current);
        assert_eq!(g.status(&["m".into()]), Status::Behind { by: 1 });
        assert_eq!(g.status(&["b".into()]), Status::Behind { by: 4 });
        assert_eq!(g.status(&["c1".into()]), Status::Behind { by: 3 });
        assert_eq!(g.status(&[]), Status::NotMigrated);
        assert_eq!(
            g.status(&["f00d".into()]),
            Status::Unknown {
                revision: "f00d".into()
            }
        );
    }

    #[test]
    fn a_folder_is_read_and_an_empty_one_refused() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("__init__.py"), "").unwrap();
        assert!(matches!(
            Migrations::read_dir(d.path()),
            Err(MigrationsError::Empty(_))
        ));
        std::fs::write(
            d.path().join("0001_a.py"),
            "revision = \"a\"\ndown_revision = None\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("0002_b.py"),
            "revision = \"b\"\ndown_revision = \"a\"\n",
        )
        .unwrap();
        std::fs::write(d.path().join("notes.txt"), "revision = \"zz\"\n").unwrap();
        let g = Migrations::read_dir(d.path()).unwrap();
        assert_eq!(g.heads(), ["b"]);
        assert_eq!((g.len(), g.is_empty()), (2, false));
        assert!(Migrations::read_dir(&d.path().join("none")).is_err());
    }
}
