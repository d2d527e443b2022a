use std::path::{Path, PathBuf};

use super::*;

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

/// Every file of the tree under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn writes_every_file_into_a_missing_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a/new/project");
    let written = new_project(&dir, false).unwrap();
    assert_eq!(written.dir, dir);
    assert!(written.overwritten.is_empty());
    let mut expected: Vec<PathBuf> = FILES.iter().map(|f| PathBuf::from(f.path)).collect();
    assert_eq!(written.files, expected);
    expected.sort();
    // Nothing else: no temporary file is left behind.
    assert_eq!(tree(&dir), expected);
    for file in FILES {
        assert_eq!(read(&dir, file.path), file.contents, "{}", file.path);
    }
    for name in [
        "hangar.toml",
        "requirements.txt",
        "packages.txt",
        "dags/example_dag.py",
        "plugins/.gitkeep",
        "include/.gitkeep",
        "tests/test_dag_integrity.py",
        ".dockerignore",
        "README.md",
    ] {
        assert!(dir.join(name).is_file(), "{name}");
    }
}

#[cfg(unix)]
#[test]
fn files_are_world_readable() {
    use std::os::unix::fs::PermissionsExt as _;
    let tmp = tempfile::tempdir().unwrap();
    new_project(tmp.path(), false).unwrap();
    let mode = std::fs::metadata(tmp.path().join("hangar.toml"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
}

#[test]
fn refuses_existing_files_naming_each_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("requirements.txt"), "pandas\n").unwrap();
    std::fs::create_dir(dir.join("dags")).unwrap();
    std::fs::write(dir.join("dags/example_dag.py"), "# mine\n").unwrap();

    let err = new_project(dir, false).unwrap_err();
    let ProjectError::Exists { files, .. } = &err else {
        panic!("{err:?}");
    };
    assert_eq!(
        files,
        &[
            PathBuf::from("requirements.txt"),
            PathBuf::from("dags/example_dag.py")
        ]
    );
    let message = err.to_string();
    assert!(
        message.contains("requirements.txt and dags/example_dag.py"),
        "{message}"
    );
    assert!(message.contains("--force"), "{message}");
    assert!(message.contains(&dir.display().to_string()), "{message}");

    // Untouched, and nothing added.
    assert_eq!(read(dir, "requirements.txt"), "pandas\n");
    assert_eq!(read(dir, "dags/example_dag.py"), "# mine\n");
    assert_eq!(
        tree(dir),
        [
            PathBuf::from("dags/example_dag.py"),
            PathBuf::from("requirements.txt")
        ]
    );
}

#[test]
fn force_overwrites_existing_files_and_keeps_others() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    std::fs::write(dir.join("hangar.toml"), "engine = \"docker\"\n").unwrap();
    std::fs::write(dir.join("notes.md"), "mine\n").unwrap();

    let written = new_project(dir, true).unwrap();
    assert_eq!(written.overwritten, [PathBuf::from("hangar.toml")]);
    assert_eq!(read(dir, "hangar.toml"), FILES[0].contents);
    assert_eq!(read(dir, "notes.md"), "mine\n");
}

#[test]
fn a_second_run_is_refused_and_allowed_with_force() {
    let tmp = tempfile::tempdir().unwrap();
    new_project(tmp.path(), false).unwrap();
    let err = new_project(tmp.path(), false).unwrap_err();
    assert!(matches!(&err, ProjectError::Exists { files, .. } if files.len() == FILES.len()));
    assert!(err.to_string().contains("project files"), "{err}");
    let again = new_project(tmp.path(), true).unwrap();
    assert_eq!(again.overwritten.len(), FILES.len());
}

#[test]
fn a_directory_in_place_of_a_file_is_refused_even_with_force() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(tmp.path().join("README.md")).unwrap();
    let err = new_project(tmp.path(), true).unwrap_err();
    assert!(
        matches!(&err, ProjectError::NotAFile { path } if path.ends_with("README.md")),
        "{err:?}"
    );
    // Checked before writing: the earlier files are not there either.
    assert!(!tmp.path().join("hangar.toml").exists());
}

#[test]
fn a_file_in_place_of_a_directory_is_refused_before_writing() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("tests"), "").unwrap();
    let err = new_project(tmp.path(), true).unwrap_err();
    assert!(
        matches!(&err, ProjectError::NotADirectory { path } if path.ends_with("tests")),
        "{err:?}"
    );
    assert!(err.to_string().contains("Move it away"), "{err}");
    assert!(!tmp.path().join("hangar.toml").exists());

    let file = tmp.path().join("tests");
    let err = new_project(&file, false).unwrap_err();
    assert!(
        matches!(&err, ProjectError::NotADirectory { path } if *path == file),
        "{err:?}"
    );
}

fn hangar_toml() -> &'static str {
    FILES
        .iter()
        .find(|f| f.path == "hangar.toml")
        .unwrap()
        .contents
}

#[test]
fn hangar_toml_parses_with_the_build_parser() {
    let raw = hangar_build::options::parse_file(hangar_toml(), Path::new("hangar.toml")).unwrap();
    let build = hangar_build::options::layered(
        hangar_build::options::RawOptions::default(),
        hangar_build::options::RawOptions::default(),
        Some((raw, Path::new("/project/hangar.toml"))),
    );
    let debug = format!("{build:?}");
    assert!(debug.contains("3.3.2"), "{debug}");
}

/// The commented examples are real keys: uncommented, the extend section included, the file
/// still parses.
#[test]
fn hangar_toml_commented_examples_parse_when_uncommented() {
    let text = hangar_toml();
    let uncommented: String = text
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(rest) if rest.contains(" = ") || rest.starts_with('[') => rest,
            _ => line,
        })
        .fold(String::new(), |acc, l| acc + l + "\n");
    assert!(
        uncommented.contains("\nadditional-extras = "),
        "{uncommented}"
    );
    let raw = hangar_build::options::parse_file(&uncommented, Path::new("hangar.toml")).unwrap();
    assert_eq!(
        raw.extend.map(|e| e.0).as_deref(),
        Some("apache/airflow:3.3.2")
    );
}

#[test]
fn the_example_dag_imports_on_airflow_2_and_3() {
    let dag = FILES
        .iter()
        .find(|f| f.path == "dags/example_dag.py")
        .unwrap();
    assert!(dag.contents.contains("from airflow.sdk import dag, task"));
    assert!(
        dag.contents
            .contains("from airflow.decorators import dag, task")
    );
    assert!(dag.contents.contains("schedule=None"));
}
