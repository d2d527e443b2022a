//! Running one program inside an image with the engine that holds it, as the image's own user
//! and with the host's network only: how `hangar build --extend` reads a base image's Airflow
//! and how the DAG check imports DAGs with the image's Airflow. The command lines are pure
//! functions, unit-tested; [`run`] runs them.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use crate::engine::Engine;

/// A program to run in an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InImage {
    pub engine: Engine,
    /// Global `--storage-driver` of buildah and podman.
    pub storage_driver: Option<String>,
    /// `--isolation` of `buildah run` (from `BUILDAH_ISOLATION`).
    pub isolation: Option<String>,
    pub image: String,
    /// Host folders mounted read-only: (host path, path in the container).
    pub mounts: Vec<(PathBuf, String)>,
    /// Program and arguments; the image's entrypoint is not used.
    pub argv: Vec<String>,
    /// `user[:group]` to run as instead of the image's user.
    pub user: Option<String>,
    /// Variables set on top of the image's environment.
    pub env: Vec<(String, String)>,
}

/// Errors running a program in an image.
#[derive(Debug, thiserror::Error)]
pub enum InImageError {
    #[error("cannot start `{program}`: {source}. Install {hint}")]
    Spawn {
        program: String,
        hint: &'static str,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "{engine} cannot start a container of {image}: {stderr}. Check that the image exists in {engine}'s store \
         (`{engine} images`)"
    )]
    Start {
        engine: Engine,
        image: String,
        stderr: String,
    },
}

fn global(x: &InImage) -> Vec<OsString> {
    crate::engine::program_argv(x.engine, x.storage_driver.as_deref())
}

/// `--user` and `--env` of every engine (the same flags for `run` and `buildah run`).
fn user_and_env(x: &InImage) -> Vec<OsString> {
    let mut a = Vec::new();
    if let Some(user) = &x.user {
        a.push("--user".into());
        a.push(user.into());
    }
    for (k, v) in &x.env {
        a.push("--env".into());
        a.push(format!("{k}={v}").into());
    }
    a
}

fn volume(host: &std::path::Path, target: &str) -> OsString {
    let mut v = OsString::from(host);
    v.push(format!(":{target}:ro"));
    v
}

/// `docker run` / `podman run`: removed on exit, host network, entrypoint replaced.
#[must_use]
pub fn run_argv(x: &InImage) -> Vec<OsString> {
    let mut a = global(x);
    a.extend(["run", "--rm", "--network", "host"].map(OsString::from));
    if x.engine == Engine::Podman {
        a.push("--pull=never".into());
    }
    a.extend(user_and_env(x));
    for (host, target) in &x.mounts {
        a.push("-v".into());
        a.push(volume(host, target));
    }
    if let Some((program, args)) = x.argv.split_first() {
        a.push("--entrypoint".into());
        a.push(program.into());
        a.push(x.image.clone().into());
        a.extend(args.iter().map(OsString::from));
    }
    a
}

/// `buildah from`: a working container of the image, its name printed.
#[must_use]
pub fn buildah_from_argv(x: &InImage) -> Vec<OsString> {
    let mut a = global(x);
    a.extend(["from", "--pull-never", "--quiet"].map(OsString::from));
    a.push(x.image.clone().into());
    a
}

/// `buildah run` of the program in the working container `name`.
#[must_use]
pub fn buildah_run_argv(x: &InImage, name: &str) -> Vec<OsString> {
    let mut a = global(x);
    a.push("run".into());
    if let Some(i) = &x.isolation {
        a.push("--isolation".into());
        a.push(i.into());
    }
    a.extend(user_and_env(x));
    for (host, target) in &x.mounts {
        a.push("-v".into());
        a.push(volume(host, target));
    }
    a.push(name.into());
    a.push("--".into());
    a.extend(x.argv.iter().map(OsString::from));
    a
}

/// `buildah rm` of the working container.
#[must_use]
pub fn buildah_rm_argv(x: &InImage, name: &str) -> Vec<OsString> {
    let mut a = global(x);
    a.push("rm".into());
    a.push(name.into());
    a
}

/// Runs one engine command (`argv`, program first) with the engine's environment and no
/// stdin, capturing its output.
///
/// # Errors
/// The engine's program cannot be started.
pub fn output(engine: Engine, argv: &[OsString]) -> Result<Output, InImageError> {
    let mut c = Command::new(&argv[0]);
    c.args(&argv[1..]).stdin(Stdio::null());
    c.envs(engine.environment().iter().copied());
    c.output().map_err(|source| InImageError::Spawn {
        program: argv[0].to_string_lossy().into_owned(),
        hint: engine.package_hint(),
        source,
    })
}

/// What a script run with [`run_python`] gave back.
#[derive(Debug)]
pub enum ScriptOutcome<T> {
    /// The result line, parsed.
    Result(T),
    /// No result line: the exit status and the last lines of its output, for the error.
    NoResult { status: String, tail: String },
}

/// The JSON after `marker` on the last line that starts with it (the program may log around it).
#[must_use]
pub fn marked_json<T: serde::de::DeserializeOwned>(stdout: &str, marker: &str) -> Option<T> {
    stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix(marker))
        .and_then(|json| serde_json::from_str(json).ok())
}

/// Runs `python -c SCRIPT ARGS…` in `image` (with `runner`'s settings and `mounts`) and reads
/// the JSON line the script prints after `marker`.
///
/// # Errors
/// The engine cannot run it.
pub fn run_python<T: serde::de::DeserializeOwned>(
    runner: &InImage,
    image: &str,
    script: &str,
    args: &[String],
    mounts: Vec<(PathBuf, String)>,
    marker: &str,
) -> Result<ScriptOutcome<T>, InImageError> {
    let mut x = runner.clone();
    x.image = image.to_owned();
    x.argv = vec!["python".into(), "-c".into(), script.into()];
    x.argv.extend(args.iter().cloned());
    x.mounts = mounts;
    let out = run(&x)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if let Some(v) = marked_json(&stdout, marker) {
        return Ok(ScriptOutcome::Result(v));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stdout.lines().chain(stderr.lines()).collect();
    Ok(ScriptOutcome::NoResult {
        status: out.status.to_string(),
        tail: lines[lines.len().saturating_sub(15)..].join("\n"),
    })
}

/// Runs the program; its exit status and output are the caller's to read. With buildah the
/// working container is removed afterwards, whatever happened.
///
/// # Errors
/// The engine cannot be started, or (buildah) cannot make a container of the image.
pub fn run(x: &InImage) -> Result<Output, InImageError> {
    if x.engine != Engine::Buildah {
        return output(x.engine, &run_argv(x));
    }
    let from = output(x.engine, &buildah_from_argv(x))?;
    if !from.status.success() {
        return Err(InImageError::Start {
            engine: x.engine,
            image: x.image.clone(),
            stderr: String::from_utf8_lossy(&from.stderr).trim().to_owned(),
        });
    }
    let name = String::from_utf8_lossy(&from.stdout).trim().to_owned();
    let result = output(x.engine, &buildah_run_argv(x, &name));
    // The container is scratch: a failure to remove it leaves only a stopped working container.
    let _ = output(x.engine, &buildah_rm_argv(x, &name));
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::DockerClient;

    fn x(engine: Engine) -> InImage {
        InImage {
            engine,
            storage_driver: Some("vfs".into()),
            isolation: Some("chroot".into()),
            image: "my/airflow:1".into(),
            mounts: vec![(PathBuf::from("/home/me/dags"), "/hangar-dags".into())],
            argv: vec!["python".into(), "-c".into(), "print(1)".into()],
            user: None,
            env: Vec::new(),
        }
    }

    fn line(a: &[OsString]) -> String {
        a.iter()
            .map(|s| s.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn docker_and_podman_run_on_the_host_network_without_the_entrypoint() {
        assert_eq!(
            line(&run_argv(&x(Engine::Docker(DockerClient::Embedded)))),
            "docker run --rm --network host -v /home/me/dags:/hangar-dags:ro --entrypoint python my/airflow:1 -c print(1)"
        );
        assert_eq!(
            line(&run_argv(&x(Engine::Podman))),
            "podman --storage-driver vfs run --rm --network host --pull=never -v /home/me/dags:/hangar-dags:ro \
             --entrypoint python my/airflow:1 -c print(1)"
        );
    }

    #[test]
    fn user_and_variables_reach_every_engine() {
        for engine in [Engine::Docker(DockerClient::Embedded), Engine::Podman] {
            let mut y = x(engine);
            y.user = Some("12345:0".into());
            y.env = vec![("CONNECTION_CHECK_MAX_COUNT".into(), "0".into())];
            assert!(
                line(&run_argv(&y))
                    .contains(" --user 12345:0 --env CONNECTION_CHECK_MAX_COUNT=0 -v "),
                "{}",
                line(&run_argv(&y))
            );
        }
        let mut b = x(Engine::Buildah);
        b.user = Some("0:0".into());
        assert_eq!(
            line(&buildah_run_argv(&b, "w1")),
            "buildah --storage-driver vfs run --isolation chroot --user 0:0 -v /home/me/dags:/hangar-dags:ro w1 -- python -c print(1)"
        );
    }

    #[test]
    fn buildah_makes_runs_and_removes_a_working_container() {
        let b = x(Engine::Buildah);
        assert_eq!(
            line(&buildah_from_argv(&b)),
            "buildah --storage-driver vfs from --pull-never --quiet my/airflow:1"
        );
        assert_eq!(
            line(&buildah_run_argv(&b, "w1")),
            "buildah --storage-driver vfs run --isolation chroot -v /home/me/dags:/hangar-dags:ro w1 -- python -c print(1)"
        );
        assert_eq!(
            line(&buildah_rm_argv(&b, "w1")),
            "buildah --storage-driver vfs rm w1"
        );
    }
}
