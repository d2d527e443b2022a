//! The migration graph read from the files of real Airflow releases (2.10 and 3.x, from PyPI)
//! agrees with Alembic's own reading of the same folder: the same revisions and the same head.

use std::process::Command;

use hangar_probe::migrations::{Migrations, Status};
use hangar_testkit::airflow::{AIRFLOW_2, AIRFLOW_3, venv};

/// Prints the number of revisions and the heads of Airflow's migrations, through Alembic.
const ALEMBIC: &str = "import os, airflow.migrations as m\n\
from alembic.script import ScriptDirectory\n\
s = ScriptDirectory(os.path.dirname(m.__file__))\n\
print(len(list(s.walk_revisions())), ' '.join(sorted(s.get_heads())))\n";

fn agrees_with_alembic(version: &str) {
    let venv = venv(version);
    let dir = venv.site_packages().join("airflow/migrations/versions");
    let graph = Migrations::read_dir(&dir).unwrap();
    let out = Command::new(venv.python())
        .args(["-c", ALEMBIC])
        .env("AIRFLOW_HOME", tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout.lines().last().unwrap();
    let (count, heads) = line.split_once(' ').unwrap();
    assert_eq!(
        graph.heads(),
        heads.split(' ').collect::<Vec<_>>(),
        "Airflow {version}"
    );
    let head = graph.heads()[0].to_owned();
    assert_eq!(graph.status(&[head]), Status::Current);
    assert_eq!(
        count.parse::<usize>().unwrap(),
        graph.len(),
        "Airflow {version}: revisions"
    );
}

#[test]
fn airflow_3_migrations_agree_with_alembic() {
    agrees_with_alembic(AIRFLOW_3);
}

#[test]
fn airflow_2_migrations_agree_with_alembic() {
    agrees_with_alembic(AIRFLOW_2);
}
