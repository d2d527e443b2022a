//! What one build step changed under a folder, exported as a tree that a later stage `COPY`s on
//! top of the unchanged original, plus the list of paths the step removed.
//!
//! The final image copies the venv as it was right after Airflow's install (a layer that stays
//! the same when only the additional requirements change), then this tree as a small layer of
//! its own, then removes what the additional install removed (a package it upgraded or
//! downgraded), so the result is the same single venv the build stage has.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};

/// Name of the removal list inside an exported tree (and, once copied, inside the folder).
pub const REMOVED_LIST: &str = ".hangar-removed";

/// A failure while taking, comparing, exporting or applying a change set.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("cannot read {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("cannot write {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    #[error(
        "{} changed from a {before} to a {after} during the install; a later layer cannot express that: \
         install the requirement that replaces it in the same step as Airflow (AIRFLOW_EXTRAS or the \
         constraints) instead of ADDITIONAL_PYTHON_DEPS",
        path.display()
    )]
    KindChanged {
        path: PathBuf,
        before: &'static str,
        after: &'static str,
    },
    #[error(
        "the removal list {} names {:?}, which is not a path inside the folder; \
         the list is written by `hangar install additional` only: rebuild without editing it",
        list.display(), entry
    )]
    BadRemoval { list: PathBuf, entry: PathBuf },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    File,
    Dir,
    Symlink,
    Other,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::File => "file",
            Kind::Dir => "folder",
            Kind::Symlink => "symlink",
            Kind::Other => "special file",
        }
    }
}

/// What identifies a version of one entry: a rewrite changes the inode or the mtime, a chmod
/// the mode.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    kind: Kind,
    mode: u32,
    size: u64,
    mtime: (i64, i64),
    ino: u64,
    link: Option<PathBuf>,
}

/// Every entry under a folder, by path relative to it.
#[derive(Debug)]
pub struct Snapshot {
    root: PathBuf,
    entries: BTreeMap<PathBuf, Entry>,
}

/// The difference between two snapshots of one folder.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// New or changed entries, parents before children.
    pub changed: Vec<PathBuf>,
    /// Entries gone afterwards; only the topmost of a removed folder.
    pub removed: Vec<PathBuf>,
}

impl Snapshot {
    /// Walks `root` (which must exist) without following symlinks.
    pub fn take(root: &Path) -> Result<Self, LayerError> {
        let mut entries = BTreeMap::new();
        walk(root, Path::new(""), &mut entries)?;
        Ok(Self {
            root: root.to_path_buf(),
            entries,
        })
    }

    /// What changed from `self` to `after`.
    pub fn changes(&self, after: &Snapshot) -> Result<Changes, LayerError> {
        let mut changes = Changes::default();
        for (path, now) in &after.entries {
            match self.entries.get(path) {
                None => changes.changed.push(path.clone()),
                Some(was) if was == now => {}
                Some(was) if was.kind != now.kind => {
                    return Err(LayerError::KindChanged {
                        path: self.root.join(path),
                        before: was.kind.name(),
                        after: now.kind.name(),
                    });
                }
                Some(_) => changes.changed.push(path.clone()),
            }
        }
        for path in self.entries.keys() {
            if after.entries.contains_key(path) {
                continue;
            }
            let under_removed = changes.removed.last().is_some_and(|r| path.starts_with(r));
            if !under_removed {
                changes.removed.push(path.clone());
            }
        }
        Ok(changes)
    }
}

fn walk(dir: &Path, rel: &Path, out: &mut BTreeMap<PathBuf, Entry>) -> Result<(), LayerError> {
    let read = |e| LayerError::Read {
        path: dir.to_path_buf(),
        source: e,
    };
    let mut names: Vec<_> = fs::read_dir(dir)
        .map_err(read)?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<Result<_, _>>()
        .map_err(read)?;
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let meta = fs::symlink_metadata(&path).map_err(|e| LayerError::Read {
            path: path.clone(),
            source: e,
        })?;
        let ft = meta.file_type();
        let kind = if ft.is_symlink() {
            Kind::Symlink
        } else if ft.is_dir() {
            Kind::Dir
        } else if ft.is_file() {
            Kind::File
        } else {
            Kind::Other
        };
        let link = if kind == Kind::Symlink {
            Some(fs::read_link(&path).map_err(|e| LayerError::Read {
                path: path.clone(),
                source: e,
            })?)
        } else {
            None
        };
        let entry = Entry {
            kind,
            mode: meta.mode() & 0o7777,
            // A folder's size and mtime change with its listing, which the entries below say.
            size: if kind == Kind::Dir { 0 } else { meta.size() },
            mtime: if kind == Kind::Dir {
                (0, 0)
            } else {
                (meta.mtime(), meta.mtime_nsec())
            },
            ino: if kind == Kind::Dir { 0 } else { meta.ino() },
            link,
        };
        let rel = rel.join(&name);
        out.insert(rel.clone(), entry);
        if kind == Kind::Dir {
            walk(&path, &rel, out)?;
        }
    }
    Ok(())
}

/// Copies the changed entries of `root` into `out` (created; folders keep their modes, files
/// their modes and mtimes, symlinks their targets) and writes the removal list there when
/// something was removed.
pub fn export(root: &Path, changes: &Changes, out: &Path) -> Result<(), LayerError> {
    let write = |p: &Path| {
        let p = p.to_path_buf();
        move |e| LayerError::Write { path: p, source: e }
    };
    fs::create_dir_all(out).map_err(write(out))?;
    copy_mode(root, out)?;
    for rel in &changes.changed {
        let src = root.join(rel);
        let dst = out.join(rel);
        ensure_parents(root, out, rel)?;
        let meta = fs::symlink_metadata(&src).map_err(|e| LayerError::Read {
            path: src.clone(),
            source: e,
        })?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(&src).map_err(|e| LayerError::Read {
                path: src.clone(),
                source: e,
            })?;
            symlink(target, &dst).map_err(write(&dst))?;
        } else if ft.is_dir() {
            if !dst.is_dir() {
                fs::create_dir(&dst).map_err(write(&dst))?;
            }
            copy_mode(&src, &dst)?;
        } else {
            fs::copy(&src, &dst).map_err(write(&dst))?;
            let file = fs::File::options()
                .write(true)
                .open(&dst)
                .map_err(write(&dst))?;
            let modified = meta.modified().map_err(|e| LayerError::Read {
                path: src.clone(),
                source: e,
            })?;
            file.set_modified(modified).map_err(write(&dst))?;
        }
    }
    if !changes.removed.is_empty() {
        let mut list = Vec::new();
        for rel in &changes.removed {
            list.extend_from_slice(rel.as_os_str().as_bytes());
            list.push(0);
        }
        let path = out.join(REMOVED_LIST);
        fs::write(&path, list).map_err(write(&path))?;
    }
    Ok(())
}

/// Creates the folders above `rel` in `out` with the modes they have under `root`.
fn ensure_parents(root: &Path, out: &Path, rel: &Path) -> Result<(), LayerError> {
    let mut prefix = PathBuf::new();
    let Some(parent) = rel.parent() else {
        return Ok(());
    };
    for part in parent.components() {
        prefix.push(part);
        let dst = out.join(&prefix);
        if !dst.is_dir() {
            fs::create_dir(&dst).map_err(|e| LayerError::Write {
                path: dst.clone(),
                source: e,
            })?;
            copy_mode(&root.join(&prefix), &dst)?;
        }
    }
    Ok(())
}

fn copy_mode(src: &Path, dst: &Path) -> Result<(), LayerError> {
    let mode = fs::metadata(src)
        .map_err(|e| LayerError::Read {
            path: src.to_path_buf(),
            source: e,
        })?
        .mode();
    fs::set_permissions(dst, fs::Permissions::from_mode(mode & 0o7777)).map_err(|e| {
        LayerError::Write {
            path: dst.to_path_buf(),
            source: e,
        }
    })
}

/// Removes what the removal list inside `dir` names (absent entries are fine), then the list.
/// Returns how many entries the list named; 0 when there is no list.
pub fn apply_removals(dir: &Path) -> Result<usize, LayerError> {
    let list = dir.join(REMOVED_LIST);
    let bytes = match fs::read(&list) {
        Ok(b) => b,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => {
            return Err(LayerError::Read {
                path: list,
                source: e,
            });
        }
    };
    let entries: Vec<PathBuf> = bytes
        .split(|b| *b == 0)
        .filter(|e| !e.is_empty())
        .map(|e| PathBuf::from(OsStr::from_bytes(e)))
        .collect();
    for entry in &entries {
        let inside = entry
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if !inside {
            return Err(LayerError::BadRemoval {
                list,
                entry: entry.clone(),
            });
        }
    }
    for entry in &entries {
        let path = dir.join(entry);
        let removed = match fs::symlink_metadata(&path) {
            Ok(m) if m.is_dir() => fs::remove_dir_all(&path),
            Ok(_) => fs::remove_file(&path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        };
        removed.map_err(|e| LayerError::Write { path, source: e })?;
    }
    fs::remove_file(&list).map_err(|e| LayerError::Write {
        path: list,
        source: e,
    })?;
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(p: &Path, s: &str) {
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, s).unwrap();
    }

    /// A venv-like tree: one package to keep, one to replace, a console script and a symlink.
    fn venv(root: &Path) {
        write(&root.join("lib/site/keep/__init__.py"), "keep");
        write(&root.join("lib/site/old-1.0.dist-info/RECORD"), "old 1.0");
        write(&root.join("lib/site/old/__init__.py"), "old 1.0");
        write(&root.join("bin/airflow"), "#!python");
        fs::set_permissions(root.join("bin/airflow"), fs::Permissions::from_mode(0o775)).unwrap();
        symlink("/usr/bin/python3", root.join("bin/python")).unwrap();
    }

    #[test]
    fn an_unchanged_tree_has_no_changes() {
        let dir = tempfile::tempdir().unwrap();
        venv(dir.path());
        let a = Snapshot::take(dir.path()).unwrap();
        let b = Snapshot::take(dir.path()).unwrap();
        assert_eq!(a.changes(&b).unwrap(), Changes::default());
    }

    #[test]
    fn an_upgrade_exports_the_new_files_and_lists_the_old_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("venv");
        venv(&root);
        let before = Snapshot::take(&root).unwrap();
        // What an installer does when it replaces `old` 1.0 with 2.0 and adds a script.
        fs::remove_dir_all(root.join("lib/site/old-1.0.dist-info")).unwrap();
        fs::remove_file(root.join("lib/site/old/__init__.py")).unwrap();
        write(&root.join("lib/site/old/__init__.py"), "old 2.0");
        write(&root.join("lib/site/old-2.0.dist-info/RECORD"), "old 2.0");
        write(&root.join("bin/cowsay"), "#!python");
        fs::set_permissions(root.join("bin/cowsay"), fs::Permissions::from_mode(0o775)).unwrap();
        fs::set_permissions(root.join("bin/airflow"), fs::Permissions::from_mode(0o755)).unwrap();
        let after = Snapshot::take(&root).unwrap();

        let changes = before.changes(&after).unwrap();
        let names: Vec<_> = changes
            .changed
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            names,
            [
                "bin/airflow",
                "bin/cowsay",
                "lib/site/old/__init__.py",
                "lib/site/old-2.0.dist-info",
                "lib/site/old-2.0.dist-info/RECORD",
            ]
        );
        assert_eq!(
            changes.removed,
            [PathBuf::from("lib/site/old-1.0.dist-info")]
        );

        let out = dir.path().join("layer");
        export(&root, &changes, &out).unwrap();
        assert_eq!(
            fs::read_to_string(out.join("lib/site/old/__init__.py")).unwrap(),
            "old 2.0"
        );
        assert_eq!(
            fs::metadata(out.join("bin/cowsay")).unwrap().mode() & 0o777,
            0o775
        );
        assert_eq!(
            fs::metadata(root.join("bin/cowsay"))
                .unwrap()
                .modified()
                .unwrap(),
            fs::metadata(out.join("bin/cowsay"))
                .unwrap()
                .modified()
                .unwrap()
        );
        assert!(
            !out.join("lib/site/keep").exists(),
            "unchanged files stay out"
        );
        assert!(!out.join("bin/python").exists());

        // Applied over a copy of the tree as it was before, it gives the tree as it is after.
        let image = dir.path().join("image");
        fs::create_dir(&image).unwrap();
        venv(&image);
        copy_tree(&out, &image);
        assert_eq!(apply_removals(&image).unwrap(), 1);
        assert!(!image.join(REMOVED_LIST).exists());
        assert!(!image.join("lib/site/old-1.0.dist-info").exists());
        assert!(image.join("lib/site/old-2.0.dist-info/RECORD").is_file());
        assert!(image.join("lib/site/keep/__init__.py").is_file());
        // Once applied, there is nothing left to do.
        assert_eq!(apply_removals(&image).unwrap(), 0);
    }

    fn copy_tree(from: &Path, to: &Path) {
        for entry in fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let dst = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                fs::create_dir_all(&dst).unwrap();
                copy_tree(&entry.path(), &dst);
            } else {
                let _ = fs::remove_file(&dst);
                fs::copy(entry.path(), &dst).unwrap();
            }
        }
    }

    #[test]
    fn a_file_that_became_a_folder_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("pkg"), "module");
        let before = Snapshot::take(dir.path()).unwrap();
        fs::remove_file(dir.path().join("pkg")).unwrap();
        write(&dir.path().join("pkg/__init__.py"), "");
        let after = Snapshot::take(dir.path()).unwrap();
        let err = before.changes(&after).unwrap_err().to_string();
        assert!(
            err.contains("pkg") && err.contains("from a file to a folder"),
            "{err}"
        );
    }

    #[test]
    fn a_removal_list_that_leaves_the_folder_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        write(&dir.path().join("keep"), "");
        fs::write(dir.path().join(REMOVED_LIST), b"../etc/passwd\0").unwrap();
        let err = apply_removals(dir.path()).unwrap_err().to_string();
        assert!(err.contains("../etc/passwd"), "{err}");
        assert!(dir.path().join("keep").exists());
    }
}
