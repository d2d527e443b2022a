//! `hangar install apt dev|runtime`: the apt packages of the build or the final stage.

use std::path::Path;

use super::{Paths, apt_sources, clients, run};
use crate::InstallError;
use crate::apt::{self, AptInputs};
use crate::args::BuildArgs;
use crate::exec::Exec;
use crate::manifest;

/// The apt inputs the build args give `stage`: its commands, packages, environment and
/// database clients, checked. What the build's filesystem adds (Debian's Python, the CA
/// bundle, local packages, replaced sources) is left at its default.
///
/// # Errors
/// A build arg of the stage is malformed.
pub fn stage_inputs(a: &BuildArgs, stage: apt::Stage) -> Result<AptInputs, InstallError> {
    let names: [&str; 6] = match stage {
        apt::Stage::Dev => [
            "DEV_APT_COMMAND",
            "ADDITIONAL_DEV_APT_COMMAND",
            "DEV_APT_DEPS",
            "ADDITIONAL_DEV_APT_DEPS",
            "ADDITIONAL_DEV_APT_ENV",
            "ADDITIONAL_DEV_ENV_VARS",
        ],
        apt::Stage::Runtime => [
            "RUNTIME_APT_COMMAND",
            "ADDITIONAL_RUNTIME_APT_COMMAND",
            "RUNTIME_APT_DEPS",
            "ADDITIONAL_RUNTIME_APT_DEPS",
            "ADDITIONAL_RUNTIME_APT_ENV",
            "ADDITIONAL_RUNTIME_ENV_VARS",
        ],
    };
    a.validate(&names)?;
    let c = clients(a)?;
    Ok(AptInputs {
        command: a.get(names[0]).to_owned(),
        additional_command: a.get(names[1]).to_owned(),
        deps: a.get(names[2]).to_owned(),
        additional_deps: a.get(names[3]).to_owned(),
        // The seed's `ADDITIONAL_*_ENV_VARS` adds its pairs to `ADDITIONAL_*_APT_ENV`'s.
        env: [a.get(names[4]), a.get(names[5])]
            .into_iter()
            .filter(|v| !v.is_empty())
            .collect::<Vec<_>>()
            .join(" "),
        mysql: c.mysql,
        postgres: c.postgres,
        mssql: c.mssql,
        ..AptInputs::default()
    })
}

/// `hangar install apt dev|runtime`.
pub fn apt_step(
    exec: &mut dyn Exec,
    a: &BuildArgs,
    stage: apt::Stage,
    paths: &Paths,
) -> Result<(), InstallError> {
    let from_args = stage_inputs(a, stage)?;
    let prefix = stage.name().to_ascii_uppercase();
    let ca = paths.secrets.join("hangar-ca");
    let sources = apt_sources::given(paths);
    // Checked before anything is installed; the final stage alone can keep the file.
    let keep = match stage {
        apt::Stage::Runtime => apt_sources::to_keep(a, paths)?,
        apt::Stage::Dev => None,
    };
    let inputs = AptInputs {
        distro_python: paths.at(Path::new(apt::DISTRO_PYTHON_MARK)).is_file(),
        ca_bundle: ca.is_file().then(|| ca.display().to_string()),
        local_debs: local_debs(stage, paths)?,
        sources_options: if sources.is_some() {
            apt_sources::apt_options()
        } else {
            Vec::new()
        },
        ..from_args
    };
    // Made after the user's commands (which may add sources), removed when the step ends.
    let mut prepared = None;
    for cmd in apt::commands(stage, &inputs) {
        if let (Some(file), None, "apt-get") = (&sources, &prepared, cmd.program.as_str()) {
            prepared = Some(apt_sources::prepare(paths, file)?);
        }
        let fix = if cmd.program == "sh" && cmd.args.first().is_some_and(|a| a == "-eu") {
            format!("check {prefix}_APT_COMMAND / ADDITIONAL_{prefix}_APT_COMMAND")
        } else {
            format!(
                "check the package names in {prefix}_APT_DEPS / ADDITIONAL_{prefix}_APT_DEPS and that the base image is Debian bookworm (or set {prefix}_APT_DEPS for another release)"
            )
        };
        run(exec, &cmd, &format!("the {} apt step", stage.name()), &fix)?;
    }
    drop(prepared);
    if let Some(text) = keep {
        let kept = apt_sources::keep(paths, &text)?;
        crate::exec::log(format_args!(
            "{}=true: the image's apt sources are {} (the base's Debian sources removed)",
            apt_sources::IN_IMAGE,
            kept.display()
        ));
    }
    Ok(())
}

/// The `.deb` files of `debs/dev` or `debs/runtime` in the context files (as paths in the
/// build), after the folder was checked against its manifest.
fn local_debs(stage: apt::Stage, paths: &Paths) -> Result<Vec<String>, InstallError> {
    let dir = paths.context_files.join(stage.debs_folder());
    let Ok(rd) = std::fs::read_dir(paths.at(&dir)) else {
        return Ok(Vec::new());
    };
    let mut debs: Vec<String> = rd
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".deb"))
        .map(|n| dir.join(n).display().to_string())
        .collect();
    if debs.is_empty() {
        return Ok(debs);
    }
    debs.sort();
    if let Some(n) = manifest::verify(&paths.at(&paths.context_files))? {
        crate::exec::log(format_args!(
            "context files: {n} files match {}; installing {} local packages",
            manifest::MANIFEST,
            debs.len()
        ));
    }
    Ok(debs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::{Cmd, Recorder};
    use crate::steps::testing::paths;

    /// The seed's corporate example: `ADDITIONAL_*_ENV_VARS` and `&&`-prefixed commands.
    #[test]
    fn the_seeds_names_reach_the_apt_commands() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        for (stage, prefix) in [(apt::Stage::Dev, "DEV"), (apt::Stage::Runtime, "RUNTIME")] {
            let env_vars = format!("ADDITIONAL_{prefix}_ENV_VARS");
            let apt_env = format!("ADDITIONAL_{prefix}_APT_ENV");
            let command = format!("ADDITIONAL_{prefix}_APT_COMMAND");
            let a = BuildArgs::from_pairs(&[
                (env_vars.as_str(), "ACCEPT_EULA=Y"),
                (apt_env.as_str(), "FOO=1"),
                (command.as_str(), "&& echo added"),
                ("INSTALL_MYSQL_CLIENT", "false"),
                ("INSTALL_MSSQL_CLIENT", "false"),
            ]);
            let mut rec = Recorder::default();
            apt_step(&mut rec, &a, stage, &p).unwrap();
            let first: &Cmd = &rec.commands[0];
            assert_eq!(first.display(), "sh -eu -c 'echo added'");
            let apt = rec.commands.iter().filter(|c| {
                let d = c.display();
                d.starts_with("apt-get") || d.starts_with("sh -eu")
            });
            for cmd in apt {
                for kv in [("ACCEPT_EULA", "Y"), ("FOO", "1")] {
                    assert!(
                        cmd.env.contains(&(kv.0.to_owned(), kv.1.to_owned())),
                        "{prefix}: {kv:?} missing from {}",
                        cmd.display()
                    );
                }
            }
            let warnings = a.warnings();
            assert!(
                warnings
                    .iter()
                    .any(|w| w.contains(&env_vars) && w.contains(&apt_env)),
                "{warnings:?}"
            );
        }
        let bad = BuildArgs::from_pairs(&[("ADDITIONAL_RUNTIME_ENV_VARS", "ACCEPT_EULA")]);
        let e = apt_step(&mut Recorder::default(), &bad, apt::Stage::Runtime, &p).unwrap_err();
        assert!(e.to_string().contains("ADDITIONAL_RUNTIME_ENV_VARS"), "{e}");
    }

    #[test]
    fn downloaded_debs_install_offline_after_the_manifest_check() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        let ctx = dir.path().join("docker-context-files");
        std::fs::create_dir_all(ctx.join("debs/dev")).unwrap();
        std::fs::write(ctx.join("debs/dev/gcc_1_amd64.deb"), "deb").unwrap();
        let sum = manifest::sha256_file(&ctx.join("debs/dev/gcc_1_amd64.deb")).unwrap();
        std::fs::write(
            ctx.join(manifest::MANIFEST),
            manifest::render(&[("debs/dev/gcc_1_amd64.deb".into(), sum)]),
        )
        .unwrap();
        let a =
            BuildArgs::from_pairs(&[("DEV_APT_DEPS", "gcc"), ("INSTALL_MYSQL_CLIENT", "false")]);
        let mut rec = Recorder::default();
        apt_step(&mut rec, &a, apt::Stage::Dev, &p).unwrap();
        let shown: Vec<String> = rec.commands.iter().map(Cmd::display).collect();
        assert!(!shown.iter().any(|c| c.contains("update")), "{shown:?}");
        assert!(
            shown[0].ends_with(" /docker-context-files/debs/dev/gcc_1_amd64.deb"),
            "{shown:?}"
        );
        // The runtime stage has no debs of its own: it updates and installs as usual.
        let mut rec = Recorder::default();
        apt_step(&mut rec, &a, apt::Stage::Runtime, &p).unwrap();
        assert!(rec.commands[0].display().contains("update"));

        std::fs::write(ctx.join("debs/dev/gcc_1_amd64.deb"), "tampered").unwrap();
        let e = apt_step(&mut Recorder::default(), &a, apt::Stage::Dev, &p).unwrap_err();
        assert!(e.to_string().contains("debs/dev/gcc_1_amd64.deb"), "{e}");
    }

    #[test]
    fn the_final_stage_keeps_the_sources_after_installing_and_checks_them_first() {
        let dir = tempfile::tempdir().unwrap();
        let p = paths(dir.path());
        let secret = dir.path().join("run/secrets/apt-sources");
        std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
        std::fs::write(
            &secret,
            "deb http://me:pw@mirror.corp/debian bookworm main\n",
        )
        .unwrap();
        let a = BuildArgs::from_pairs(&[
            (apt_sources::IN_IMAGE, "true"),
            ("INSTALL_MYSQL_CLIENT", "false"),
        ]);
        let mut rec = Recorder::default();
        let e = apt_step(&mut rec, &a, apt::Stage::Runtime, &p).unwrap_err();
        assert!(e.to_string().contains(apt_sources::IN_IMAGE), "{e}");
        assert!(
            rec.commands.is_empty(),
            "ran before the check: {:?}",
            rec.commands
        );

        std::fs::write(&secret, "deb http://mirror.corp/debian bookworm main\n").unwrap();
        let mut rec = Recorder::default();
        apt_step(&mut rec, &a, apt::Stage::Runtime, &p).unwrap();
        assert!(!rec.commands.is_empty());
        let kept = dir.path().join("etc/apt/sources.list.d/hangar.list");
        assert!(kept.is_file());
        // The build stage never keeps it.
        std::fs::remove_file(&kept).unwrap();
        apt_step(&mut Recorder::default(), &a, apt::Stage::Dev, &p).unwrap();
        assert!(!kept.exists());
    }
}
