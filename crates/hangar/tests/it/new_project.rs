//! `hangar new DIR`: the project files, and a second run refused without `--force`.

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hangar");

#[test]
fn writes_a_project_then_refuses_to_overwrite_it() {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("p");
    let out = Command::new(BIN).arg("new").arg(&project).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for file in [
        "hangar.toml",
        "requirements.txt",
        "packages.txt",
        "dags/example_dag.py",
        "tests/test_dag_integrity.py",
        ".dockerignore",
    ] {
        assert!(project.join(file).is_file(), "{file} missing");
    }
    std::fs::write(project.join("requirements.txt"), "mine\n").unwrap();
    let again = Command::new(BIN).arg("new").arg(&project).output().unwrap();
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("--force") && stderr.contains("requirements.txt"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(project.join("requirements.txt")).unwrap(),
        "mine\n"
    );
    let forced = Command::new(BIN)
        .args(["new", "--force"])
        .arg(&project)
        .output()
        .unwrap();
    assert!(
        forced.status.success(),
        "{}",
        String::from_utf8_lossy(&forced.stderr)
    );
    assert_ne!(
        std::fs::read_to_string(project.join("requirements.txt")).unwrap(),
        "mine\n"
    );
}
