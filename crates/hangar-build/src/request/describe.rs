//! The `--dry-run` description of a plan.

use std::fmt::Write as _;

use super::Plan;
use crate::context::{
    AIRFLOW_SOURCES_DIR, CONTEXT_FILES_DIR, DockerfileSource, HANGAR_BINARY_DIR, hangar_binary_path,
};
use crate::options::Origin;
use crate::platform::Binaries;

/// ` (origin)` when the origin is known.
fn origin_note(origin: Option<&Origin>) -> String {
    origin.map(|o| format!("  ({o})")).unwrap_or_default()
}

impl Plan {
    /// A human-readable description for `--dry-run`: build args with their origins, secrets
    /// (paths only) and the context plan with the hangar binary of each target.
    #[must_use]
    pub fn describe(&self, binaries: &Binaries) -> String {
        let mut s = String::from("build args:\n");
        let args = &self.spec.build_args;
        let width = args.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in args {
            let origin = origin_note(self.sources.build_args.get(k));
            let _ = writeln!(s, "  {k:width$} = {v:?}{origin}");
        }
        s.push_str("secrets:\n");
        if self.spec.secrets.is_empty() && self.context.generated_secrets.is_empty() {
            s.push_str("  (none)\n");
        }
        for sec in &self.spec.secrets {
            let origin = origin_note(self.sources.secrets.get(&sec.id));
            let _ = writeln!(s, "  {} <- {}{origin}", sec.id, sec.src.display());
        }
        for g in &self.context.generated_secrets {
            let origin = origin_note(self.sources.secrets.get(&g.id));
            let _ = writeln!(s, "  {} <- written by hangar, not shown{origin}", g.id);
        }
        s.push_str("tags:\n");
        if self.spec.tags.is_empty() {
            s.push_str("  (none: the image is known by its ID only)\n");
        }
        for t in &self.spec.tags {
            let _ = writeln!(s, "  {t}");
        }
        s.push_str("context:\n");
        match &self.context.dockerfile {
            DockerfileSource::Embedded => s.push_str("  Dockerfile <- hangar's own Dockerfile\n"),
            DockerfileSource::File(p) => {
                let _ = writeln!(s, "  Dockerfile <- {}", p.display());
            }
            DockerfileSource::Extend(project) => {
                s.push_str("  Dockerfile <- hangar's extend Dockerfile\n");
                let _ = writeln!(
                    s,
                    "  {} <- {} (requirements.txt, plugins/, include/, dags/)",
                    crate::extend::project::CONTEXT_DIR,
                    project.dir.display()
                );
            }
        }
        for (arch, exe) in binaries.iter() {
            let _ = writeln!(s, "  {} <- {}", hangar_binary_path(*arch), exe.display());
        }
        if binaries.0.is_empty() {
            let _ = writeln!(
                s,
                "  {HANGAR_BINARY_DIR}/ (empty: the image compiles hangar, HANGAR_BINARY_SOURCE=build)"
            );
        }
        match &self.context.context_files {
            Some(p) => {
                let _ = writeln!(s, "  {CONTEXT_FILES_DIR}/ <- {}", p.display());
            }
            None => {
                let _ = writeln!(s, "  {CONTEXT_FILES_DIR}/ (empty)");
            }
        }
        for f in &self.context.extra_context_files {
            let _ = writeln!(s, "  {CONTEXT_FILES_DIR}/ <- {}", f.display());
        }
        if let Some(t) = &self.context.airflow_sources {
            let _ = writeln!(s, "  {AIRFLOW_SOURCES_DIR}/ <- {}", t.display());
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::RawOptions;
    use crate::request::tests::{TestCatalogue, flags};
    use crate::request::{EnvFacts, resolve};

    #[test]
    fn lists_args_with_origins_secrets_tags_and_context() {
        let dir = tempfile::tempdir().unwrap();
        let netrc = dir.path().join("netrc");
        std::fs::write(&netrc, "machine m\n").unwrap();
        let o = flags(RawOptions {
            python: Some("3.12".into()),
            netrc: Some(netrc.clone()),
            ..RawOptions::default()
        });
        let plan = resolve(&o, &EnvFacts::default(), &TestCatalogue).unwrap();
        let binaries = Binaries(vec![(
            crate::platform::Arch::Amd64,
            "/usr/bin/hangar".into(),
        )]);
        let text = plan.describe(&binaries);
        assert!(
            text.contains("  PYTHON_MAJOR_MINOR_VERSION = \"3.12\"  (flag --python)\n"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "secrets:\n  netrc <- {}  (flag --netrc)\n",
                netrc.display()
            )),
            "{text}"
        );
        assert!(
            text.contains("tags:\n  (none: the image is known by its ID only)\n"),
            "{text}"
        );
        assert!(
            text.ends_with(
                "context:\n  Dockerfile <- hangar's own Dockerfile\n  .hangar/amd64/hangar <- \
                 /usr/bin/hangar\n  docker-context-files/ (empty)\n"
            ),
            "{text}"
        );
    }
}
