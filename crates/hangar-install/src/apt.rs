//! The apt steps of both stages: optional user commands, then one `apt-get install` of the
//! default or given package list plus the additional packages, then cleanup.

use crate::exec::Cmd;

/// Build-stage packages: compilers and the headers Airflow's optional C extensions need.
pub const DEV_DEFAULT: &[&str] = &[
    "build-essential",
    "pkg-config",
    "git",
    "libffi-dev",
    "libssl-dev",
    "libkrb5-dev",
    "libldap2-dev",
    "libsasl2-dev",
    "libgeos-dev",
    "libxml2-dev",
    "libxslt1-dev",
    "zlib1g-dev",
];
/// Final-image packages: shared libraries and small tools only, no compilers.
pub const RUNTIME_DEFAULT: &[&str] = &[
    "ca-certificates",
    "curl",
    "git",
    "libffi8",
    "libgssapi-krb5-2",
    "libkrb5-3",
    "libldap-2.5-0",
    "libsasl2-2",
    "libsasl2-modules",
    "libssl3",
    "libxml2",
    "libxslt1.1",
    "openssh-client",
    "procps",
    "rsync",
    "sqlite3",
    "tzdata",
];

/// Which stage the step runs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Dev,
    Runtime,
}

impl Stage {
    /// The stage's name, as `hangar install apt` and the `debs/` folders spell it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Stage::Dev => "dev",
            Stage::Runtime => "runtime",
        }
    }

    /// Where `hangar download --debs` puts the stage's `.deb` files in the context files,
    /// and where the step installs them from.
    #[must_use]
    pub fn debs_folder(self) -> &'static str {
        match self {
            Stage::Dev => "debs/dev",
            Stage::Runtime => "debs/runtime",
        }
    }
}

/// A file that exists when the base image's Python is Debian's own (the build stage then
/// needs `python3-dev`).
pub const DISTRO_PYTHON_MARK: &str = "/var/lib/dpkg/info/python3.list";

/// Inputs of one apt step.
#[derive(Debug, Clone, Default)]
pub struct AptInputs {
    pub command: String,
    pub additional_command: String,
    /// Empty = the stage's default list.
    pub deps: String,
    pub additional_deps: String,
    /// `KEY=VALUE` pairs, whitespace separated.
    pub env: String,
    pub mysql: bool,
    pub postgres: bool,
    pub mssql: bool,
    /// The base uses Debian's own python3 (needs `python3-dev` to compile extensions).
    pub distro_python: bool,
    /// CA bundle mounted as a secret, for apt's https sources and the user commands.
    pub ca_bundle: Option<String>,
    /// apt options that replace its sources (`--apt-sources`), for `update` and `install`.
    pub sources_options: Vec<String>,
    /// Downloaded `.deb` files (`hangar download --debs`): installed with the package list
    /// and no `apt-get update`, so the step needs no network.
    pub local_debs: Vec<String>,
}

/// The package list of a step, defaults and client libraries included, without duplicates.
pub fn packages(stage: Stage, i: &AptInputs) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut add = |p: &str| {
        if !out.iter().any(|o| o == p) {
            out.push(p.to_owned());
        }
    };
    if i.deps.trim().is_empty() {
        let defaults = match stage {
            Stage::Dev => DEV_DEFAULT,
            Stage::Runtime => RUNTIME_DEFAULT,
        };
        defaults.iter().for_each(|p| add(p));
    } else {
        i.deps.split_whitespace().for_each(&mut add);
    }
    let clients: &[(bool, &[&str], &[&str])] = &[
        (
            i.mysql,
            &["libmariadb-dev", "pkg-config"],
            &["libmariadb3", "mariadb-client"],
        ),
        (i.postgres, &["libpq-dev"], &["postgresql-client"]),
        (
            i.mssql,
            &["unixodbc-dev", "freetds-dev"],
            &["unixodbc", "tdsodbc"],
        ),
    ];
    for (enabled, dev, runtime) in clients {
        if *enabled {
            let list = if stage == Stage::Dev { dev } else { runtime };
            list.iter().for_each(|p| add(p));
        }
    }
    if stage == Stage::Dev && i.distro_python {
        add("python3-dev");
    }
    i.additional_deps.split_whitespace().for_each(&mut add);
    out
}

/// Environment of every command of the step.
pub fn env(i: &AptInputs) -> Vec<(String, String)> {
    let mut env = vec![("DEBIAN_FRONTEND".to_owned(), "noninteractive".to_owned())];
    if let Some(ca) = &i.ca_bundle {
        env.push(("SSL_CERT_FILE".to_owned(), ca.clone()));
        env.push(("CURL_CA_BUNDLE".to_owned(), ca.clone()));
    }
    for pair in i.env.split_whitespace() {
        if let Some((k, v)) = pair.split_once('=') {
            env.push((k.to_owned(), v.to_owned()));
        }
    }
    env
}

/// An `*_APT_COMMAND` as `sh -c` runs it: upstream's Dockerfile appended the additional
/// commands to its own with `&&`, so the seed writes them starting with `&&`; that leading
/// `&&` is dropped (a command given without one runs as written).
fn shell_command(c: &str) -> String {
    let c = c.trim();
    c.strip_prefix("&&").unwrap_or(c).trim().to_owned()
}

/// All commands of the step, in order.
pub fn commands(stage: Stage, i: &AptInputs) -> Vec<Cmd> {
    let env = env(i);
    let apt_opts: Vec<String> = i
        .ca_bundle
        .iter()
        .flat_map(|ca| ["-o".to_owned(), format!("Acquire::https::CAInfo={ca}")])
        .chain(i.sources_options.iter().cloned())
        .collect();
    let mut out = Vec::new();
    for c in [&i.command, &i.additional_command] {
        let c = shell_command(c);
        if !c.is_empty() {
            out.push(Cmd::new("sh").args(["-eu", "-c"]).arg(c).envs(&env));
        }
    }
    if i.local_debs.is_empty() {
        out.push(
            Cmd::new("apt-get")
                .args(apt_opts.iter().cloned())
                .args(["update", "-q"])
                .envs(&env),
        );
    }
    // With local files, the names resolve to them (or to what is installed); a name neither
    // provides fails the step.
    out.push(
        Cmd::new("apt-get")
            .args(apt_opts.iter().cloned())
            .args(["install", "-y", "-q", "--no-install-recommends"])
            .args(packages(stage, i))
            .args(i.local_debs.iter().cloned())
            .envs(&env),
    );
    if stage == Stage::Runtime {
        out.push(
            Cmd::new("apt-get")
                .args(["autoremove", "-y", "-q", "--purge"])
                .envs(&env),
        );
    }
    out.push(Cmd::new("apt-get").arg("clean").envs(&env));
    out.push(Cmd::new("sh").args([
        "-c",
        "rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt/* /var/log/dpkg.log /var/cache/debconf/*-old /var/log/alternatives.log /var/cache/ldconfig/aux-cache",
    ]));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs() -> AptInputs {
        AptInputs {
            mysql: true,
            postgres: true,
            mssql: false,
            ..Default::default()
        }
    }

    #[test]
    fn runtime_list_has_clients_and_no_compilers() {
        let p = packages(Stage::Runtime, &inputs());
        assert!(p.contains(&"libmariadb3".to_owned()) && p.contains(&"mariadb-client".to_owned()));
        assert!(p.contains(&"postgresql-client".to_owned()));
        assert!(!p.iter().any(|x| x.contains("build-essential")
            || x == "gcc"
            || x == "make"
            || x.ends_with("-dev")));
        let no_mysql = AptInputs {
            mysql: false,
            ..inputs()
        };
        let p = packages(Stage::Runtime, &no_mysql);
        assert!(!p.iter().any(|x| x.contains("mariadb")), "{p:?}");
    }

    #[test]
    fn dev_list_and_additions() {
        let i = AptInputs {
            additional_deps: "libopenmpi-dev  git".into(),
            distro_python: true,
            ..inputs()
        };
        let p = packages(Stage::Dev, &i);
        assert_eq!(p[0], "build-essential");
        assert!(p.contains(&"libmariadb-dev".to_owned()) && p.contains(&"libpq-dev".to_owned()));
        assert!(p.contains(&"python3-dev".to_owned()));
        assert_eq!(p.last().unwrap(), "libopenmpi-dev");
        assert_eq!(p.iter().filter(|x| *x == "git").count(), 1);
        let custom = AptInputs {
            deps: "gcc".into(),
            mysql: false,
            postgres: false,
            ..Default::default()
        };
        assert_eq!(packages(Stage::Dev, &custom), ["gcc"]);
    }

    #[test]
    fn local_debs_install_without_update() {
        let i = AptInputs {
            deps: "gcc".into(),
            local_debs: vec!["/docker-context-files/debs/dev/gcc-12_12.2.0_amd64.deb".into()],
            ..Default::default()
        };
        let shown: Vec<String> = commands(Stage::Dev, &i).iter().map(Cmd::display).collect();
        assert!(!shown.iter().any(|c| c.contains("update")), "{shown:?}");
        assert_eq!(
            shown[0],
            "apt-get install -y -q --no-install-recommends gcc /docker-context-files/debs/dev/gcc-12_12.2.0_amd64.deb"
        );
    }

    #[test]
    fn the_seeds_leading_and_and_is_dropped() {
        let i = AptInputs {
            command: "  ".into(),
            additional_command:
                " && curl -fsS https://example.invalid/key | apt-key add - && echo ok".into(),
            ..Default::default()
        };
        let shown: Vec<String> = commands(Stage::Dev, &i).iter().map(Cmd::display).collect();
        assert_eq!(
            shown[0],
            "sh -eu -c 'curl -fsS https://example.invalid/key | apt-key add - && echo ok'"
        );
        assert!(shown[1].contains("update"), "{shown:?}");
        // Only `&&` alone: nothing to run.
        let i = AptInputs {
            additional_command: "&&".into(),
            ..Default::default()
        };
        assert!(commands(Stage::Dev, &i)[0].display().contains("update"));
    }

    #[test]
    fn command_sequence_with_user_commands_env_and_ca() {
        let i = AptInputs {
            command: "echo one".into(),
            additional_command: "echo two".into(),
            deps: "vim".into(),
            env: "ACCEPT_EULA=Y".into(),
            ca_bundle: Some("/run/secrets/hangar-ca".into()),
            ..Default::default()
        };
        let cmds = commands(Stage::Runtime, &i);
        let shown: Vec<String> = cmds.iter().map(Cmd::display).collect();
        assert_eq!(shown[0], "sh -eu -c 'echo one'");
        assert_eq!(shown[1], "sh -eu -c 'echo two'");
        assert_eq!(
            shown[2],
            "apt-get -o Acquire::https::CAInfo=/run/secrets/hangar-ca update -q"
        );
        assert_eq!(
            shown[3],
            "apt-get -o Acquire::https::CAInfo=/run/secrets/hangar-ca install -y -q --no-install-recommends vim"
        );
        assert_eq!(shown[4], "apt-get autoremove -y -q --purge");
        assert_eq!(shown[5], "apt-get clean");
        assert!(
            cmds[0]
                .env
                .contains(&("ACCEPT_EULA".to_owned(), "Y".to_owned()))
        );
        assert!(
            cmds[3]
                .env
                .contains(&("DEBIAN_FRONTEND".to_owned(), "noninteractive".to_owned()))
        );
        let dev = commands(Stage::Dev, &AptInputs::default());
        assert_eq!(
            dev.len(),
            4,
            "no user commands, no autoremove in the build stage"
        );
    }
}
