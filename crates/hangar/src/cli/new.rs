//! `hangar new [DIR]`: writes a new Airflow image project and says what to run next.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Directory of the project (created when missing).
    #[arg(default_value = ".", value_name = "DIR")]
    dir: PathBuf,
    /// Overwrite project files that already exist (other files are left alone).
    #[arg(long)]
    force: bool,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let written = hangar_project::new_project(&args.dir, args.force)?;
    println!("Wrote a new project in {}:", written.dir.display());
    for file in &written.files {
        let note = if written.overwritten.contains(file) {
            "  (overwritten)"
        } else {
            ""
        };
        println!("  {}{note}", file.display());
    }
    println!();
    println!("Next: {}", next_command(&written.dir));
    Ok(ExitCode::SUCCESS)
}

/// The command that builds the new project's image.
fn next_command(dir: &Path) -> String {
    if dir == Path::new(".") {
        "hangar build".to_owned()
    } else {
        format!("cd {} && hangar build", dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_command_changes_into_the_project() {
        assert_eq!(next_command(Path::new(".")), "hangar build");
        assert_eq!(
            next_command(Path::new("my-airflow")),
            "cd my-airflow && hangar build"
        );
    }
}
