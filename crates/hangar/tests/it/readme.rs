//! The README's first command, run exactly as written: the one line under "The two commands"
//! installs buildah and debootstrap, installs hangar with `cargo install`, makes the Python base
//! image from Debian packages with `hangar base` and builds Airflow on it with `hangar build`.
//! The image it tags must then pass `hangar verify` and run `airflow version`.
//!
//! The line is read from README.md at run time, so a change to the README is what is tested.
//! Only the environment is the test's own: `cargo install` puts hangar in a temporary root
//! (first on `PATH`) and compiles in a target folder under the test cache; the engines use the
//! test kit's container store with chroot isolation (RUN steps on the host's network, never a
//! bridge). Needs apt's package lists (`apt-get update`), the Debian mirror, PyPI and the crate
//! registry, as the command itself does.

use std::path::{Path, PathBuf};

/// The heading of the README section whose first `sh` block is the main job.
const SECTION: &str = "## The two commands";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/hangar sits two levels below the workspace root")
        .to_path_buf()
}

/// The single line of the first ```` ```sh ```` block after [`SECTION`] in `readme`.
fn first_command(readme: &str) -> Result<String, String> {
    let section = readme
        .split_once(SECTION)
        .map(|(_, rest)| rest)
        .ok_or_else(|| format!("README.md has no `{SECTION}` heading"))?;
    let block = section
        .split_once("```sh\n")
        .map(|(_, rest)| rest)
        .and_then(|rest| rest.split_once("\n```").map(|(block, _)| block))
        .ok_or_else(|| format!("no ```sh block after `{SECTION}`"))?;
    let lines: Vec<&str> = block.lines().filter(|l| !l.trim().is_empty()).collect();
    match lines.as_slice() {
        [line] => Ok((*line).to_owned()),
        _ => Err(format!(
            "the first command should be one line, found {}:\n{block}",
            lines.len()
        )),
    }
}

/// The value of `--flag VALUE` in a command line split on whitespace.
fn flag_value<'a>(line: &'a str, flag: &str) -> Option<&'a str> {
    let mut words = line.split_whitespace();
    words.find(|w| *w == flag)?;
    words.next()
}

#[test]
fn the_first_command_reads_as_one_line_with_its_tag() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let line = first_command(&readme).unwrap();
    for part in [
        "apt-get install",
        "cargo install",
        "hangar base",
        "hangar build",
    ] {
        assert!(
            line.contains(part),
            "the first command lacks `{part}`: {line}"
        );
    }
    assert!(flag_value(&line, "--tag").is_some(), "{line}");
    assert!(first_command("# x\n").is_err());
    assert!(first_command("## The two commands\n```sh\na\nb\n```\n").is_err());
    assert_eq!(
        first_command("## The two commands\ntext\n```sh\nrun it\n```\n```sh\nnot this\n```\n"),
        Ok("run it".to_owned())
    );
}

#[cfg(feature = "full-tests")]
mod run {
    use std::process::{Command, Stdio};
    use std::time::Instant;

    use hangar_testkit::cache_dir;
    use hangar_testkit::images::{self, ImageGuard, build_lock, image_exists, prune_dangling};

    use super::{first_command, flag_value, workspace_root};
    use crate::image_checks::text;
    use crate::verify::hangar_on_test_store;

    #[test]
    fn the_first_command_builds_an_image_that_passes_verify() {
        let _lock = build_lock();
        let root = workspace_root();
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
        let line = first_command(&readme).unwrap();
        let tag = flag_value(&line, "--tag").expect("the first command names --tag");
        let image = format!("localhost/{tag}");
        let base = flag_value(&line, "--python-base-image")
            .unwrap_or("localhost/hangar-python-base:bookworm")
            .to_owned();
        let _image_guard = ImageGuard::new(&image);
        let _base_guard = ImageGuard::new(&base);

        let install_root = tempfile::tempdir().unwrap();
        let path = std::env::join_paths(std::iter::once(install_root.path().join("bin")).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .unwrap();
        let mut sh = Command::new("sh");
        for (k, v) in hangar_on_test_store().get_envs() {
            if let Some(v) = v {
                sh.env(k, v);
            }
        }
        sh.env("CARGO_INSTALL_ROOT", install_root.path())
            .env("CARGO_TARGET_DIR", cache_dir("readme-cargo-target"))
            .env("PATH", path)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .current_dir(&root)
            .args(["-c", &line])
            .stdin(Stdio::null());
        eprintln!("running the README's first command:\n  {line}");
        let started = Instant::now();
        let status = sh.status().expect("run sh");
        eprintln!(
            "the README's first command ended with {status} after {} s",
            started.elapsed().as_secs()
        );
        assert!(
            status.success(),
            "the README's first command failed: {status}"
        );

        assert!(
            install_root.path().join("bin/hangar").is_file(),
            "cargo install did not put hangar in {}",
            install_root.path().display()
        );
        assert!(image_exists(&base), "`hangar base` left no {base}");
        assert!(image_exists(&image), "the first command tagged no {image}");

        let verify = hangar_on_test_store()
            .args(["verify", "--engine", "podman", &image])
            .output()
            .unwrap();
        eprintln!("hangar verify {image}:\n{}", text(&verify));
        assert!(verify.status.success(), "{}", text(&verify));

        // The line names no Airflow version: hangar's default is what it installs.
        let expected = flag_value(&line, "--install-airflow-version")
            .or_else(|| flag_value(&line, "--airflow-version"))
            .unwrap_or(hangar_buildargs::DEFAULT_AIRFLOW_VERSION);
        let run = images::podman_run(&image, &[], &["airflow", "version"]);
        assert!(run.status.success(), "{}", text(&run));
        let version = String::from_utf8_lossy(&run.stdout);
        assert_eq!(version.trim(), expected, "{}", text(&run));
        drop(_image_guard);
        drop(_base_guard);
        prune_dangling();
    }
}
