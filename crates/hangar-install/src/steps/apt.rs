//! `hangar install apt dev|runtime`: the apt packages of the build or the final stage.

use std::path::Path;

use super::{Paths, clients, run};
use crate::InstallError;
use crate::apt::{self, AptInputs};
use crate::args::BuildArgs;
use crate::exec::Exec;

/// `hangar install apt dev|runtime`.
pub fn apt_step(
    exec: &mut dyn Exec,
    a: &BuildArgs,
    stage: apt::Stage,
    paths: &Paths,
) -> Result<(), InstallError> {
    let (prefix, names): (&str, [&str; 5]) = match stage {
        apt::Stage::Dev => (
            "DEV",
            [
                "DEV_APT_COMMAND",
                "ADDITIONAL_DEV_APT_COMMAND",
                "DEV_APT_DEPS",
                "ADDITIONAL_DEV_APT_DEPS",
                "ADDITIONAL_DEV_APT_ENV",
            ],
        ),
        apt::Stage::Runtime => (
            "RUNTIME",
            [
                "RUNTIME_APT_COMMAND",
                "ADDITIONAL_RUNTIME_APT_COMMAND",
                "RUNTIME_APT_DEPS",
                "ADDITIONAL_RUNTIME_APT_DEPS",
                "ADDITIONAL_RUNTIME_APT_ENV",
            ],
        ),
    };
    a.validate(&names)?;
    let c = clients(a)?;
    let ca = paths.secrets.join("hangar-ca");
    let inputs = AptInputs {
        command: a.get(names[0]).to_owned(),
        additional_command: a.get(names[1]).to_owned(),
        deps: a.get(names[2]).to_owned(),
        additional_deps: a.get(names[3]).to_owned(),
        env: a.get(names[4]).to_owned(),
        mysql: c.mysql,
        postgres: c.postgres,
        mssql: c.mssql,
        distro_python: paths
            .at(Path::new("/var/lib/dpkg/info/python3.list"))
            .is_file(),
        ca_bundle: ca.is_file().then(|| ca.display().to_string()),
    };
    for cmd in apt::commands(stage, &inputs) {
        let fix = if cmd.program == "sh" && cmd.args.first().is_some_and(|a| a == "-eu") {
            format!("check {prefix}_APT_COMMAND / ADDITIONAL_{prefix}_APT_COMMAND")
        } else {
            format!(
                "check the package names in {prefix}_APT_DEPS / ADDITIONAL_{prefix}_APT_DEPS and that the base image is Debian bookworm (or set {prefix}_APT_DEPS for another release)"
            )
        };
        run(
            exec,
            &cmd,
            &format!("the {} apt step", prefix.to_lowercase()),
            &fix,
        )?;
    }
    Ok(())
}
