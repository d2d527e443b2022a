//! The files of a new project and their contents (the texts live in `templates/`).

/// One file of a new project.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProjectFile {
    /// Path relative to the project directory, with `/` separators.
    pub path: &'static str,
    /// What the file holds.
    pub contents: &'static str,
}

/// Every file `hangar new` writes, in the order it writes them.
pub const FILES: &[ProjectFile] = &[
    ProjectFile {
        path: "hangar.toml",
        contents: include_str!("../templates/hangar.toml"),
    },
    ProjectFile {
        path: "requirements.txt",
        contents: include_str!("../templates/requirements.txt"),
    },
    ProjectFile {
        path: "packages.txt",
        contents: include_str!("../templates/packages.txt"),
    },
    ProjectFile {
        path: "dags/example_dag.py",
        contents: include_str!("../templates/dags/example_dag.py"),
    },
    // Empty files keep the directories in version control.
    ProjectFile {
        path: "plugins/.gitkeep",
        contents: "",
    },
    ProjectFile {
        path: "include/.gitkeep",
        contents: "",
    },
    ProjectFile {
        path: "tests/test_dag_integrity.py",
        contents: include_str!("../templates/tests/test_dag_integrity.py"),
    },
    ProjectFile {
        path: ".dockerignore",
        contents: include_str!("../templates/dockerignore"),
    },
    ProjectFile {
        path: "README.md",
        contents: include_str!("../templates/README.md"),
    },
];
