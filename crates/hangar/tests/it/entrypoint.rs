//! `hangar entrypoint` end to end: the real binary with real Apache Airflow (cached venvs from
//! PyPI), real PostgreSQL/Redis/RabbitMQ from the testkit, the real /etc/passwd in a mount
//! namespace. Run with `cargo test -p hangar --features full-tests --test it entrypoint::`.

use std::ffi::OsString;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hangar_testkit::airflow::{self, AirflowVenv};

const BIN: &str = env!("CARGO_BIN_EXE_hangar");

/// `hangar entrypoint ARGS` with a clean Airflow-related environment, `AIRFLOW_HOME` and
/// `AIRFLOW_USER_HOME_DIR` in `home`.
fn entrypoint(home: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.arg("entrypoint").args(args);
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if k.starts_with("AIRFLOW")
            || k.starts_with("_AIRFLOW")
            || k.starts_with("_PIP")
            || k.starts_with("CONNECTION_CHECK")
            || k.starts_with("HANGAR_")
            || k == "PYTHONPATH"
            || k == "DUMB_INIT_SETSID"
        {
            cmd.env_remove(&*k);
        }
    }
    cmd.env("AIRFLOW_HOME", home.join("airflow-home"))
        .env("AIRFLOW_USER_HOME_DIR", home.join("user-home"))
        .env("AIRFLOW__CORE__LOAD_EXAMPLES", "false")
        .stdin(Stdio::null());
    fs::create_dir_all(home.join("airflow-home")).unwrap();
    fs::create_dir_all(home.join("user-home")).unwrap();
    cmd
}

fn with_airflow(cmd: &mut Command, venv: &AirflowVenv) {
    cmd.env("PATH", venv.path_with_bin());
}

fn out(cmd: &mut Command) -> Output {
    cmd.output().expect("hangar runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn venv3() -> AirflowVenv {
    airflow::venv(airflow::AIRFLOW_3)
}

// ---------------------------------------------------------------- dispatch, real Airflow 3

#[test]
fn airflow_version_runs_real_airflow_3() {
    let v = venv3();
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = entrypoint(tmp.path(), &["airflow", "version"]);
    with_airflow(&mut cmd, &v);
    let o = out(&mut cmd);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o).trim(), airflow::AIRFLOW_3);
    assert!(stdout(&o).contains("3."));
    // Without the `airflow` prefix too.
    let mut cmd = entrypoint(tmp.path(), &["version"]);
    with_airflow(&mut cmd, &v);
    assert_eq!(stdout(&out(&mut cmd)).trim(), airflow::AIRFLOW_3);
}

#[test]
fn python_version_goes_through_the_venv_python() {
    let v = venv3();
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = entrypoint(tmp.path(), &["python", "--version"]);
    with_airflow(&mut cmd, &v);
    let o = out(&mut cmd);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert!(stdout(&o).starts_with("Python 3."), "{}", stdout(&o));
    // It is the venv's python: it can import airflow.
    let mut cmd = entrypoint(
        tmp.path(),
        &["python", "-c", "import airflow, sys; print(sys.prefix)"],
    );
    with_airflow(&mut cmd, &v);
    let o = out(&mut cmd);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(
        fs::canonicalize(stdout(&o).trim()).unwrap(),
        fs::canonicalize(v.root()).unwrap()
    );
}

#[test]
fn bash_stdout_is_exactly_the_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let o = out(&mut entrypoint(tmp.path(), &["bash", "-c", "echo hi"]));
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "hi\n");
    let o = out(&mut entrypoint(tmp.path(), &["bash", "--version"]));
    assert!(stdout(&o).contains("GNU bash,"));
    // Exit codes pass through.
    let o = out(&mut entrypoint(tmp.path(), &["bash", "-c", "exit 42"]));
    assert_eq!(o.status.code(), Some(42));
}

#[test]
fn no_arguments_and_bare_airflow_exit_2() {
    let v = venv3();
    let tmp = tempfile::tempdir().unwrap();
    for args in [&[][..], &["airflow"][..]] {
        let mut cmd = entrypoint(tmp.path(), args);
        with_airflow(&mut cmd, &v);
        let o = out(&mut cmd);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn multicall_name_entrypoint_behaves_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let link = tmp.path().join("entrypoint");
    std::os::unix::fs::symlink(BIN, &link).unwrap();
    let o = Command::new(&link)
        .args(["bash", "-c", "echo multi"])
        .env_remove("CONNECTION_CHECK_MAX_COUNT")
        .env_remove("HANGAR_WAIT_FOR_DB")
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "multi\n", "stderr: {}", stderr(&o));
}

#[test]
fn root_keeps_custom_pythonpath_after_the_airflow_site_packages() {
    assert_eq!(
        nix_uid(),
        0,
        "this test runs hangar as root (upstream's TestExecuteAsRoot); run the tests as root"
    );
    let v = venv3();
    let tmp = tempfile::tempdir().unwrap();
    let custom = tmp.path().join("custom-mount");
    fs::create_dir_all(&custom).unwrap();
    fs::write(custom.join("__init__.py"), "").unwrap();
    fs::write(custom.join("awesome.py"), "print(\"Awesome\")\n").unwrap();
    let mut cmd = entrypoint(tmp.path(), &["python", "-c", "import awesome"]);
    // The image's layout: ~airflow/.local/lib/pythonX.Y/site-packages.
    let site = tmp
        .path()
        .join("user-home/.local/lib")
        .join(v.python_dir_name())
        .join("site-packages");
    fs::create_dir_all(&site).unwrap();
    fs::write(site.join("marker_from_airflow_home.py"), "").unwrap();
    with_airflow(&mut cmd, &v);
    cmd.env("PYTHONPATH", &custom)
        .env("PYTHONDONTWRITEBYTECODE", "true");
    let o = out(&mut cmd);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "Awesome\n");
    assert!(stderr(&o).contains("run as root user"), "{}", stderr(&o));
    // The order: airflow's site-packages first, the user's value after it.
    let mut cmd = entrypoint(
        tmp.path(),
        &["python", "-c", "import os; print(os.environ['PYTHONPATH'])"],
    );
    with_airflow(&mut cmd, &v);
    cmd.env("PYTHONPATH", &custom);
    let o = out(&mut cmd);
    assert_eq!(
        stdout(&o).trim(),
        format!("{}:{}", site.display(), custom.display())
    );
}

fn nix_uid() -> u32 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|u| u.parse().ok())
        .expect("Uid line")
}

// ---------------------------------------------------------------- users and groups

fn setpriv() -> PathBuf {
    hangar_testkit::require_program("setpriv", "util-linux", &[])
}

/// Makes the test binary reachable for an unprivileged UID (its directories are root's).
fn binary_for_other_users(tmp: &Path) -> PathBuf {
    let dir = tmp.join("bin");
    fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("hangar");
    fs::copy(BIN, &copy).unwrap();
    for p in [tmp, dir.as_path()] {
        fs::set_permissions(p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    copy
}

#[test]
fn arbitrary_uid_gets_a_passwd_entry_in_the_real_etc_passwd() {
    let unshare = hangar_testkit::require_program("unshare", "util-linux", &[]);
    let setpriv = setpriv();
    let tmp = tempfile::tempdir().unwrap();
    let bin = binary_for_other_users(tmp.path());
    // A copy of the real file, group-writable for GID 0 as the image makes it, bind-mounted
    // over /etc/passwd in a private mount namespace.
    let copy = tmp.path().join("passwd");
    fs::copy("/etc/passwd", &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o664)).unwrap();
    let before = fs::read_to_string(&copy).unwrap();
    let script = format!(
        "mount --bind {copy} /etc/passwd && exec {setpriv} --reuid 12345 --regid 0 \
         --clear-groups {bin} entrypoint bash -c 'id -un; echo $HOME; umask'",
        copy = copy.display(),
        setpriv = setpriv.display(),
        bin = bin.display()
    );
    let o = Command::new(unshare)
        .args(["--mount", "--propagation", "private", "sh", "-c", &script])
        .env("AIRFLOW_USER_HOME_DIR", "/home/airflow")
        .env_remove("USER_NAME")
        .env_remove("HANGAR_PASSWD_FILE")
        .output()
        .unwrap();
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "default\n/home/airflow\n0002\n");
    let after = fs::read_to_string(&copy).unwrap();
    assert_eq!(
        after,
        format!("{before}default:x:12345:0:default user:/home/airflow:/sbin/nologin\n")
    );
    // The host's /etc/passwd is untouched.
    assert!(
        !fs::read_to_string("/etc/passwd")
            .unwrap()
            .contains(":12345:")
    );
}

#[test]
fn passwd_hook_file_gets_the_entry_and_unwritable_file_warns() {
    let setpriv = setpriv();
    let tmp = tempfile::tempdir().unwrap();
    let bin = binary_for_other_users(tmp.path());
    let pw = tmp.path().join("pw");
    fs::write(&pw, "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    fs::set_permissions(&pw, fs::Permissions::from_mode(0o664)).unwrap();
    let run = |pw: &Path| {
        Command::new(&setpriv)
            .args(["--reuid", "23456", "--regid", "0", "--clear-groups"])
            .arg(&bin)
            .args(["entrypoint", "bash", "-c", "echo $HOME"])
            .env("HANGAR_PASSWD_FILE", pw)
            .env("USER_NAME", "ops")
            .env("AIRFLOW_USER_HOME_DIR", "/srv/airflow")
            .output()
            .unwrap()
    };
    let o = run(&pw);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "/srv/airflow\n");
    assert_eq!(
        fs::read_to_string(&pw).unwrap(),
        "root:x:0:0:root:/root:/bin/bash\nops:x:23456:0:ops user:/srv/airflow:/sbin/nologin\n"
    );
    // Second start: the entry exists, nothing is appended.
    let o = run(&pw);
    assert!(o.status.success());
    assert_eq!(fs::read_to_string(&pw).unwrap().lines().count(), 2);
    // Read-only file: a warning naming the fix, and the command still runs.
    let ro = tmp.path().join("ro");
    fs::write(&ro, "root:x:0:0:root:/root:/bin/bash\n").unwrap();
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o644)).unwrap();
    let o = run(&ro);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert!(stderr(&o).contains("chmod g=u"), "{}", stderr(&o));
    assert_eq!(fs::read_to_string(&ro).unwrap().lines().count(), 1);
}

#[test]
fn gid_other_than_0_fails_except_for_the_airflow_uid() {
    let setpriv = setpriv();
    let tmp = tempfile::tempdir().unwrap();
    let bin = binary_for_other_users(tmp.path());
    let run = |uid: &str| {
        Command::new(&setpriv)
            .args(["--reuid", uid, "--regid", "1000", "--clear-groups"])
            .arg(&bin)
            .args(["entrypoint", "bash", "-c", "echo ran"])
            .env("HANGAR_PASSWD_FILE", "/etc/passwd")
            .output()
            .unwrap()
    };
    let o = run("12345");
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "", "the command must not run");
    assert!(stderr(&o).contains("GID"), "{}", stderr(&o));
    let o = run("50000");
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "ran\n");
    assert!(stderr(&o).contains("WARNING"), "{}", stderr(&o));
}

// ---------------------------------------------------------------- bad input

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn bad_variables_exit_with_distinct_codes_naming_the_variable() {
    let tmp = tempfile::tempdir().unwrap();
    type Case<'a> = (&'a [(&'a str, &'a str)], i32, &'a str);
    let cases: &[Case<'_>] = &[
        (
            &[("CONNECTION_CHECK_MAX_COUNT", "twenty")],
            64,
            "CONNECTION_CHECK_MAX_COUNT",
        ),
        (
            &[("CONNECTION_CHECK_SLEEP_TIME", "3s")],
            64,
            "CONNECTION_CHECK_SLEEP_TIME",
        ),
        (
            &[("HANGAR_WAIT_FOR_DB", "sometimes")],
            64,
            "HANGAR_WAIT_FOR_DB",
        ),
        (&[("DUMB_INIT_SETSID", "maybe")], 64, "DUMB_INIT_SETSID"),
        (
            &[
                ("HANGAR_WAIT_FOR_DB", "always"),
                (
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
                    "postgresql://u:hunter2@h:notaport/db",
                ),
            ],
            64,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        ),
        (
            &[
                ("HANGAR_WAIT_FOR_DB", "always"),
                (
                    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD",
                    "echo nope >&2; exit 3",
                ),
            ],
            71,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD",
        ),
    ];
    for (vars, code, name) in cases {
        let mut cmd = entrypoint(tmp.path(), &["bash", "-c", "echo ran"]);
        cmd.envs(vars.iter().copied());
        let o = out(&mut cmd);
        assert_eq!(o.status.code(), Some(*code), "{vars:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), "", "{vars:?}: the command must not run");
        assert!(stderr(&o).contains(name), "{vars:?}: {}", stderr(&o));
        assert!(
            !stderr(&o).contains("hunter2"),
            "password leaked: {}",
            stderr(&o)
        );
    }
}

#[test]
fn db_never_up_exhausts_the_budget_with_exit_1_and_a_masked_password() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = entrypoint(tmp.path(), &["bash", "-c", "echo ran"]);
    cmd.env("HANGAR_WAIT_FOR_DB", "always")
        .env(
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            format!("postgresql+psycopg2://airflow:s3cr%40t@127.0.0.1:{port}/airflow"),
        )
        .env("CONNECTION_CHECK_MAX_COUNT", "3")
        .env("CONNECTION_CHECK_SLEEP_TIME", "0.2");
    let start = Instant::now();
    let o = out(&mut cmd);
    let took = start.elapsed();
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "");
    let err = stderr(&o);
    assert!(err.contains(&port.to_string()), "{err}");
    assert!(!err.contains("s3cr"), "password leaked: {err}");
    assert!(err.contains("CONNECTION_CHECK_MAX_COUNT"), "{err}");
    assert!(
        took >= Duration::from_millis(500),
        "gave up too early: {took:?}"
    );
}

#[test]
fn zero_max_count_disables_the_wait() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = entrypoint(tmp.path(), &["bash", "-c", "echo ran"]);
    cmd.env("HANGAR_WAIT_FOR_DB", "always")
        .env(
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            format!("postgresql://a:b@127.0.0.1:{port}/x"),
        )
        .env("CONNECTION_CHECK_MAX_COUNT", "0");
    let o = out(&mut cmd);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "ran\n");
}

#[test]
fn non_server_commands_do_not_wait_for_the_db() {
    let tmp = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut cmd = entrypoint(tmp.path(), &["bash", "-c", "echo ran"]);
    cmd.env(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        format!("postgresql://a:b@127.0.0.1:{port}/x"),
    )
    .env("CONNECTION_CHECK_MAX_COUNT", "50");
    let start = Instant::now();
    let o = out(&mut cmd);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "ran\n");
    assert!(start.elapsed() < Duration::from_secs(5));
    // HANGAR_WAIT_FOR_DB=never also skips it for a server command (which then fails fast in
    // bash instead of airflow).
    let mut cmd = entrypoint(tmp.path(), &["bash", "-c", "exec airflow scheduler"]);
    cmd.env(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        format!("postgresql://a:b@127.0.0.1:{port}/x"),
    )
    .env("HANGAR_WAIT_FOR_DB", "never")
    .env("PATH", "/usr/bin:/bin");
    let o = out(&mut cmd);
    assert_eq!(o.status.code(), Some(127), "stderr: {}", stderr(&o));
}

#[test]
fn user_creation_needs_a_password_and_a_failing_password_cmd_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = entrypoint(tmp.path(), &["bash", "-c", "echo ran"]);
    cmd.env("_AIRFLOW_WWW_USER_CREATE", "true");
    let o = out(&mut cmd);
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).contains("_AIRFLOW_WWW_USER_PASSWORD"),
        "{}",
        stderr(&o)
    );
    let mut cmd = entrypoint(tmp.path(), &["bash", "-c", "echo ran"]);
    cmd.env("_AIRFLOW_WWW_USER_CREATE", "true")
        .env("_AIRFLOW_WWW_USER_PASSWORD_CMD", "exit 9");
    let o = out(&mut cmd);
    assert_eq!(o.status.code(), Some(71), "stderr: {}", stderr(&o));
    assert!(
        stderr(&o).contains("_AIRFLOW_WWW_USER_PASSWORD_CMD"),
        "{}",
        stderr(&o)
    );
}

// ---------------------------------------------------------------- sqlite and Airflow 2

/// Tables in a sqlite file, read with the venv's Python (no sqlite3 CLI needed).
fn sqlite_tables(venv: &AirflowVenv, db: &Path) -> Vec<String> {
    let o = Command::new(venv.python())
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \
             print('\\n'.join(r[0] for r in c.execute(\"select name from sqlite_master where type='table'\")))",
        ])
        .arg(db)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o).lines().map(str::to_owned).collect()
}

#[test]
fn airflow_2_migrates_sqlite_and_creates_the_admin_user() {
    let v2 = airflow::venv(airflow::AIRFLOW_2);
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = entrypoint(tmp.path(), &["airflow", "version"]);
    with_airflow(&mut cmd, &v2);
    let o = out(&mut cmd);
    assert_eq!(stdout(&o).trim(), "2.10.5", "stderr: {}", stderr(&o));

    let db = tmp.path().join("af2.db");
    let mut cmd = entrypoint(tmp.path(), &[]);
    with_airflow(&mut cmd, &v2);
    cmd.env(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        format!("sqlite:///{}", db.display()),
    )
    .env("_AIRFLOW_DB_MIGRATE", "true")
    .env("_AIRFLOW_WWW_USER_CREATE", "true")
    .env("_AIRFLOW_WWW_USER_USERNAME", "captain")
    .env("_AIRFLOW_WWW_USER_PASSWORD_CMD", "echo pa55word");
    let o = out(&mut cmd);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    let tables = sqlite_tables(&v2, &db);
    assert!(tables.iter().any(|t| t == "alembic_version"), "{tables:?}");
    let users = || {
        let o = Command::new(v2.python())
            .args([
                "-c",
                "import sqlite3,sys\ntry: print([r[0] for r in sqlite3.connect(sys.argv[1]).execute('select username from ab_user')])\n\
                 except sqlite3.OperationalError as e: print(e)",
            ])
            .arg(&db)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o).trim().to_owned()
    };
    assert_eq!(users(), "['captain']");

    // _AIRFLOW_DB_RESET=true before a server command: `airflow db reset --yes` on the existing
    // sqlite DB (the user is gone), then the command; the deprecated _AIRFLOW_DB_UPGRADE
    // migrates with a warning. A stand-in `airflow` answers for the scheduler and hands
    // everything else to the real one.
    let stand_in = tmp.path().join("reset-bin");
    fs::create_dir_all(&stand_in).unwrap();
    let script = stand_in.join("airflow");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\nif [ \"$1\" = scheduler ]; then echo 'scheduler started'; exit 0; fi\nexec {} \"$@\"\n",
            v2.bin_dir().join("airflow").display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let mut path = OsString::from(&stand_in);
    path.push(":");
    path.push(v2.path_with_bin());
    let mut cmd = entrypoint(tmp.path(), &["scheduler"]);
    cmd.env("PATH", path)
        .env(
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
            format!("sqlite:///{}", db.display()),
        )
        .env("_AIRFLOW_DB_RESET", "true")
        .env("_AIRFLOW_DB_UPGRADE", "true");
    let o = out(&mut cmd);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o).lines().last(), Some("scheduler started"));
    assert!(
        stderr(&o).contains("_AIRFLOW_DB_UPGRADE is deprecated"),
        "{}",
        stderr(&o)
    );
    assert_ne!(users(), "['captain']", "the DB was reset");
    let tables = sqlite_tables(&v2, &db);
    assert!(tables.iter().any(|t| t == "alembic_version"), "{tables:?}");
}

/// Direct children of `pid` whose command line contains `needle`.
fn children_matching(pid: u32, needle: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(p) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|s| s.parse::<u32>().ok());
        let cmdline = fs::read(format!("/proc/{p}/cmdline"))
            .unwrap_or_default()
            .split(|&b| b == 0)
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect::<Vec<_>>()
            .join(" ");
        if ppid == Some(pid) && cmdline.contains(needle) {
            found.push(p);
        }
    }
    found
}

#[test]
fn sqlite_is_created_for_the_scheduler_which_stops_on_sigterm() {
    let v = venv3();
    let tmp = tempfile::tempdir().unwrap();
    let mut cmd = entrypoint(tmp.path(), &["scheduler"]);
    with_airflow(&mut cmd, &v);
    let log = tmp.path().join("scheduler.log");
    cmd.stdout(Stdio::null())
        .stderr(fs::File::create(&log).unwrap());
    let db = tmp.path().join("airflow-home/airflow.db");
    assert!(!db.exists());
    let mut child = cmd.spawn().unwrap();
    let pid = child.id();
    let deadline = Instant::now() + Duration::from_secs(240);
    let scheduler = loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut s = String::new();
            fs::File::open(&log)
                .unwrap()
                .read_to_string(&mut s)
                .unwrap();
            panic!("the entrypoint exited early ({status}); stderr:\n{s}");
        }
        let kids = children_matching(pid, "scheduler");
        if db.exists() && !kids.is_empty() {
            break kids[0];
        }
        assert!(
            Instant::now() < deadline,
            "the scheduler did not start in time"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    // The sqlite DB was migrated before the scheduler started.
    let tables = sqlite_tables(&v, &db);
    assert!(tables.iter().any(|t| t == "dag_run"), "{tables:?}");
    // Let it settle, then stop the container the way docker does: SIGTERM to PID 1.
    std::thread::sleep(Duration::from_secs(3));
    assert!(Path::new(&format!("/proc/{scheduler}")).exists());
    nix_kill(pid, 15);
    let read_log = || {
        let mut s = String::new();
        fs::File::open(&log)
            .unwrap()
            .read_to_string(&mut s)
            .unwrap();
        s
    };
    let wait = |child: &mut std::process::Child, secs| {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(s) = child.try_wait().unwrap() {
                break Some(s);
            }
            if Instant::now() > deadline {
                break None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    // The scheduler handles SIGTERM and exits by itself: its code is ours (0), or 143 if it
    // died of the signal. Airflow 3's handler can also hang (it raises SystemExit wherever the
    // main thread is, seen inside logging's lock): then, as docker does at the end of the
    // grace period, the scheduler is killed, and hangar must pass that on as 137 at once.
    let status = match wait(&mut child, 60) {
        Some(s) => s,
        None => {
            nix_kill(scheduler, 9);
            let Some(s) = wait(&mut child, 10) else {
                let _ = child.kill();
                panic!(
                    "hangar did not exit after its command was killed; stderr:\n{}",
                    read_log()
                );
            };
            assert_eq!(s.code(), Some(137), "stderr:\n{}", read_log());
            s
        }
    };
    let s = read_log();
    assert!(
        matches!(status.code(), Some(0 | 143 | 137)),
        "exit {status}; stderr:\n{s}"
    );
    assert!(
        !Path::new(&format!("/proc/{scheduler}/cmdline")).exists() || {
            fs::read_to_string(format!("/proc/{scheduler}/stat"))
                .map_or(true, |st| st.contains(") Z"))
        }
    );
}

fn nix_kill(pid: u32, sig: i32) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill -{sig} {pid}");
}

// ---------------------------------------------------------------- real servers

use hangar_testkit::servers::{
    MariaDb, MariaDbOptions, PgAuth, PgOptions, Postgres, Redis, RedisOptions,
};

/// `hangar entrypoint bash -c 'echo ran'` that waits for the metadata DB at `url`.
fn db_wait(tmp: &Path, url: &str, max: &str, sleep: &str) -> Command {
    let mut cmd = entrypoint(tmp, &["bash", "-c", "echo ran"]);
    cmd.env("HANGAR_WAIT_FOR_DB", "always")
        .env("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", url)
        .env("CONNECTION_CHECK_MAX_COUNT", max)
        .env("CONNECTION_CHECK_SLEEP_TIME", sleep);
    cmd
}

#[test]
fn postgres_ready_md5_and_scram_then_the_command_runs() {
    let tmp = tempfile::tempdir().unwrap();
    for auth in [PgAuth::Md5, PgAuth::Scram] {
        let pg = Postgres::start(PgOptions {
            auth,
            ..PgOptions::default()
        });
        let o = out(&mut db_wait(tmp.path(), &pg.url(), "5", "1"));
        assert!(o.status.success(), "{auth:?}: {}", stderr(&o));
        assert_eq!(stdout(&o), "ran\n");
    }
}

#[test]
fn postgres_started_late_is_waited_for() {
    let tmp = tempfile::tempdir().unwrap();
    let pg = Postgres::prepare(PgOptions::default());
    let url = pg.url();
    let handle = pg.start_after(Duration::from_millis(1500));
    let start = Instant::now();
    let o = out(&mut db_wait(tmp.path(), &url, "30", "1"));
    let took = start.elapsed();
    let _pg = handle.join().unwrap();
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "ran\n");
    assert!(
        took >= Duration::from_millis(1500),
        "did not wait: {took:?}"
    );
    let err = stderr(&o);
    assert!(err.contains("waiting for the metadata database"), "{err}");
    assert!(!err.contains("s3cr@t"), "password leaked: {err}");
}

#[test]
fn server_commands_wait_for_postgres_by_themselves() {
    // No HANGAR_WAIT_FOR_DB: `scheduler`, also inside `bash -c "exec airflow scheduler"`,
    // waits for the configured database; the stand-in `airflow` shows the command ran after.
    let tmp = tempfile::tempdir().unwrap();
    let path = airflow_stand_in(tmp.path());
    let pg = Postgres::prepare(PgOptions::default());
    let url = pg.url();
    let handle = pg.start_after(Duration::from_millis(1500));
    let run = |args: &[&str]| {
        let mut cmd = entrypoint(tmp.path(), args);
        cmd.env("PATH", &path)
            .env("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", &url)
            .env("CONNECTION_CHECK_MAX_COUNT", "30")
            .env("CONNECTION_CHECK_SLEEP_TIME", "1");
        out(&mut cmd)
    };
    let start = Instant::now();
    let o = run(&["bash", "-c", "exec airflow scheduler"]);
    let took = start.elapsed();
    let pg = handle.join().unwrap();
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "airflow scheduler\n");
    assert!(
        took >= Duration::from_millis(1500),
        "did not wait: {took:?}"
    );
    assert!(
        stderr(&o).contains("waiting for the metadata database"),
        "{}",
        stderr(&o)
    );
    // A server command straight away, now that the server is up; then with it gone.
    let o = run(&["scheduler"]);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "airflow scheduler\n");
    drop(pg);
    let mut cmd = entrypoint(tmp.path(), &["triggerer"]);
    cmd.env("PATH", &path)
        .env("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", &url)
        .env("CONNECTION_CHECK_MAX_COUNT", "2")
        .env("CONNECTION_CHECK_SLEEP_TIME", "0.2");
    let o = out(&mut cmd);
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "", "the command must not run");
}

#[test]
fn postgres_wrong_password_is_a_clear_error_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    let pg = Postgres::start(PgOptions::default());
    let url = pg.url_with("127.0.0.1", "Xyzzy-not-it");
    let start = Instant::now();
    let o = out(&mut db_wait(tmp.path(), &url, "20", "3"));
    assert_eq!(o.status.code(), Some(77), "stderr: {}", stderr(&o));
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(stdout(&o), "");
    let err = stderr(&o);
    assert!(err.contains("password"), "{err}");
    assert!(!err.contains("Xyzzy"), "password leaked: {err}");
}

#[test]
fn mariadb_ready_and_wrong_password() {
    let tmp = tempfile::tempdir().unwrap();
    let db = MariaDb::start(MariaDbOptions::default());
    let o = out(&mut db_wait(tmp.path(), &db.url(), "5", "1"));
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "ran\n");
    let bad = db.url_with("mysql+mysqldb", "Xyzzy-not-it");
    let o = out(&mut db_wait(tmp.path(), &bad, "20", "3"));
    assert_eq!(o.status.code(), Some(77), "stderr: {}", stderr(&o));
    assert!(!stderr(&o).contains("Xyzzy"), "{}", stderr(&o));
    // Never up (the server is gone): the budget runs out, exit 1.
    let url = db.url();
    drop(db);
    let o = out(&mut db_wait(tmp.path(), &url, "2", "0.3"));
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).contains("did not answer within the budget"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn db_url_from_a_cmd_variable_and_from_airflow_cfg() {
    let tmp = tempfile::tempdir().unwrap();
    let pg = Postgres::start(PgOptions::default());
    // _CMD
    let mut cmd = db_wait(tmp.path(), "unused", "5", "1");
    cmd.env_remove("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN").env(
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD",
        format!(
            "printf '%s\\n' '{}'",
            pg.url_with("127.0.0.1", "Xyzzy-not-it")
        ),
    );
    let o = out(&mut cmd);
    assert_eq!(
        o.status.code(),
        Some(77),
        "the _CMD URL was used: {}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"),
        "{}",
        stderr(&o)
    );
    // airflow.cfg [database] sql_alchemy_conn
    let home = tmp.path().join("airflow-home");
    fs::create_dir_all(&home).unwrap();
    fs::write(
        home.join("airflow.cfg"),
        format!(
            "[database]\nsql_alchemy_conn = {}\n",
            pg.url().replace('%', "%%")
        ),
    )
    .unwrap();
    let mut cmd = db_wait(tmp.path(), "unused", "5", "1");
    cmd.env_remove("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN");
    let o = out(&mut cmd);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "ran\n");
}

#[test]
fn airflow_3_db_migrate_true_without_command_against_postgres() {
    let v = venv3();
    let tmp = tempfile::tempdir().unwrap();
    let pg = Postgres::start(PgOptions::default());
    let mut cmd = entrypoint(tmp.path(), &[]);
    with_airflow(&mut cmd, &v);
    cmd.env("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", pg.url())
        .env("_AIRFLOW_DB_MIGRATE", "true");
    let o = out(&mut cmd);
    assert_eq!(o.status.code(), Some(0), "stderr: {}", stderr(&o));
    // stdout holds airflow's own log lines only, nothing of hangar's.
    assert!(!stdout(&o).contains("hangar:"), "{}", stdout(&o));
    let check = Command::new(v.python())
        .args([
            "-c",
            "import sys, sqlalchemy as sa; e = sa.create_engine(sys.argv[1]); \
             print(sorted(t for t in sa.inspect(e).get_table_names() if t in ('dag_run', 'alembic_version')))",
        ])
        .arg(pg.url())
        .output()
        .unwrap();
    assert_eq!(
        stdout(&check).trim(),
        "['alembic_version', 'dag_run']",
        "{}",
        stderr(&check)
    );
}

/// A stand-in for `airflow` on PATH that reports its arguments: lets a test observe that the
/// entrypoint got past the broker wait to the command, without running a real Celery worker.
fn airflow_stand_in(dir: &Path) -> OsString {
    let bin = dir.join("stand-in-bin");
    fs::create_dir_all(&bin).unwrap();
    let script = bin.join("airflow");
    fs::write(&script, "#!/bin/sh\necho \"airflow $*\"\n").unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let mut path = OsString::from(bin);
    path.push(":/usr/bin:/bin");
    path
}

#[test]
fn broker_wait_for_celery_commands_with_redis() {
    let tmp = tempfile::tempdir().unwrap();
    let path = airflow_stand_in(tmp.path());
    let redis = Redis::prepare(RedisOptions::default());
    let url = redis.acl_url("celery", "celery-pw");
    let handle = redis.start_after(Duration::from_millis(1200));
    let run = |args: &[&str], executor: &str| {
        let mut cmd = entrypoint(tmp.path(), args);
        cmd.env("PATH", &path)
            .env("HANGAR_WAIT_FOR_DB", "never")
            .env("AIRFLOW__CORE__EXECUTOR", executor)
            .env("AIRFLOW__CELERY__BROKER_URL", &url)
            .env("CONNECTION_CHECK_MAX_COUNT", "30")
            .env("CONNECTION_CHECK_SLEEP_TIME", "1");
        out(&mut cmd)
    };
    let start = Instant::now();
    let o = run(&["celery", "worker"], "LocalExecutor,CeleryExecutor");
    let _redis = handle.join().unwrap();
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "airflow celery worker\n");
    assert!(start.elapsed() >= Duration::from_millis(1200));
    assert!(stderr(&o).contains("Celery broker"), "{}", stderr(&o));
    assert!(!stderr(&o).contains("celery-pw"), "{}", stderr(&o));
    // Not a Celery executor, or not a broker command: no wait at all even when it is down.
    drop(_redis);
    for (args, executor) in [
        (&["scheduler"][..], "LocalExecutor"),
        (&["api-server"][..], "CeleryExecutor"),
    ] {
        let start = Instant::now();
        let o = run(args, executor);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        assert!(start.elapsed() < Duration::from_secs(5), "{args:?} waited");
    }
    // Down and a Celery command: exit 1 after the budget.
    let mut cmd = entrypoint(tmp.path(), &["bash", "-c", "exec airflow scheduler"]);
    cmd.env("PATH", &path)
        .env("HANGAR_WAIT_FOR_DB", "never")
        .env("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
        .env("AIRFLOW__CELERY__BROKER_URL", &url)
        .env("CONNECTION_CHECK_MAX_COUNT", "2")
        .env("CONNECTION_CHECK_SLEEP_TIME", "0.2");
    let o = out(&mut cmd);
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("Celery broker"), "{}", stderr(&o));
}

#[test]
fn broker_overrides_and_undeterminable_urls() {
    let tmp = tempfile::tempdir().unwrap();
    let path = airflow_stand_in(tmp.path());
    let redis = Redis::start(RedisOptions {
        password: None,
        acl_users: vec![],
    });
    // The URL points nowhere; DB_HOST/DB_PORT redirect the check to the running Redis.
    let mut cmd = entrypoint(tmp.path(), &["celery", "flower"]);
    cmd.env("PATH", &path)
        .env("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
        .env("AIRFLOW__CELERY__BROKER_URL", "redis://nowhere.invalid:1/0")
        .env("DB_HOST", "127.0.0.1")
        .env("DB_PORT", redis.port().to_string())
        .env("CONNECTION_CHECK_MAX_COUNT", "3")
        .env("CONNECTION_CHECK_SLEEP_TIME", "0.2");
    let o = out(&mut cmd);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "airflow celery flower\n");
    // A broker whose host/port cannot be determined is skipped with a message.
    let mut cmd = entrypoint(tmp.path(), &["worker"]);
    cmd.env("PATH", &path)
        .env("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
        .env("AIRFLOW__CELERY__BROKER_URL", "sqla+sqlite:///x.db");
    let o = out(&mut cmd);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert!(
        stderr(&o).contains("could not be determined"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn secret_db_url_falls_back_to_airflow_db_check_with_retries() {
    let v = venv3();
    let tmp = tempfile::tempdir().unwrap();
    let secret = |path: OsString| {
        let mut cmd = entrypoint(tmp.path(), &["bash", "-c", "echo ran"]);
        cmd.env("PATH", path)
            .env("HANGAR_WAIT_FOR_DB", "always")
            .env(
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_SECRET",
                "metadata_db_url",
            )
            .env("CONNECTION_CHECK_MAX_COUNT", "2")
            .env("CONNECTION_CHECK_SLEEP_TIME", "0.1");
        out(&mut cmd)
    };
    // Real Airflow resolves the (absent) secret, falls back to its sqlite default and
    // `airflow db check` passes.
    let o = secret(v.path_with_bin());
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "ran\n");
    assert!(stderr(&o).contains("airflow db check"), "{}", stderr(&o));
    // Without Airflow every check fails: two attempts, then exit 1 with the last result.
    let o = secret("/usr/bin:/bin".into());
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o), "");
    assert!(
        stderr(&o).contains("maximum number of retries (2)"),
        "{}",
        stderr(&o)
    );
}

/// Runs `hangar entrypoint bash -c …` as PID 1 of a new pid namespace with `DUMB_INIT_SETSID`
/// set to `setsid`, sends hangar SIGTERM, and returns (the command's exit code, whether the
/// command got TERM, whether its background grandchild got TERM).
fn entrypoint_as_pid_1_sigterm(setsid: &str) -> (Option<i32>, bool, bool) {
    let unshare = hangar_testkit::require_program("unshare", "util-linux", &[]);
    let tmp = tempfile::tempdir().unwrap();
    let marker = tmp.path().join("got-term");
    let grandchild = tmp.path().join("grandchild-got-term");
    let ready = tmp.path().join("ready");
    // The command starts a background grandchild, reports who PID 1 is, then waits for
    // SIGTERM, which hangar (PID 1 of the new pid namespace) must forward: to the whole
    // process group with DUMB_INIT_SETSID=1, to the command alone with 0.
    let script = format!(
        "(trap 'echo term > {g}; exit 0' TERM; while :; do sleep 0.05; done) & \
         trap 'echo term > {m}; sleep 0.5; exit 7' TERM; cat /proc/1/comm > {r}; \
         while :; do sleep 0.05; done",
        g = grandchild.display(),
        m = marker.display(),
        r = ready.display()
    );
    let mut cmd = Command::new(unshare);
    cmd.args(["--pid", "--fork", "--mount-proc"])
        .arg(BIN)
        .args(["entrypoint", "bash", "-c", &script])
        .env("DUMB_INIT_SETSID", setsid)
        .env_remove("HANGAR_WAIT_FOR_DB")
        .env_remove("CONNECTION_CHECK_MAX_COUNT")
        .stdin(Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready.exists() {
        assert!(Instant::now() < deadline, "the command did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(fs::read_to_string(&ready).unwrap().trim(), "hangar");
    // hangar is the child of unshare (which forked); signal it by its host pid.
    let hangar_pid = children_matching(child.id(), "entrypoint")
        .into_iter()
        .next()
        .expect("hangar runs under unshare");
    nix_kill(hangar_pid, 15);
    let status = child.wait().unwrap();
    let got = |p: &Path| fs::read_to_string(p).is_ok_and(|t| t.trim() == "term");
    (status.code(), got(&marker), got(&grandchild))
}

#[test]
fn as_pid_1_the_entrypoint_forwards_sigterm_to_the_process_group() {
    let (code, child, grandchild) = entrypoint_as_pid_1_sigterm("1");
    assert!(child, "the command got SIGTERM");
    assert!(grandchild, "its process group got SIGTERM");
    assert_eq!(code, Some(7), "the command's exit code is passed on");
}

#[test]
fn as_pid_1_with_setsid_0_the_entrypoint_signals_the_command_only() {
    let (code, child, grandchild) = entrypoint_as_pid_1_sigterm("0");
    assert!(child, "the command got SIGTERM");
    assert!(
        !grandchild,
        "DUMB_INIT_SETSID=0 leaves the rest of the group alone"
    );
    assert_eq!(code, Some(7), "the command's exit code is passed on");
}

#[test]
fn pip_additional_requirements_are_installed_before_the_command() {
    // A throwaway venv (never the cached Airflow ones: this test installs into it).
    let tmp = tempfile::tempdir().unwrap();
    let venv = tmp.path().join("venv");
    let st = Command::new("/usr/bin/python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python3 -m venv (apt-get install -y python3-venv)");
    assert!(st.success());
    let mut path = OsString::from(venv.join("bin"));
    path.push(":/usr/bin:/bin");
    let run = |reqs: &str| {
        let mut cmd = entrypoint(
            tmp.path(),
            &["python", "-c", "import six; print('six', six.__version__)"],
        );
        cmd.env("PATH", &path)
            .env("_PIP_ADDITIONAL_REQUIREMENTS", reqs);
        out(&mut cmd)
    };
    let o = run("six==1.16.0");
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert_eq!(stdout(&o).lines().last(), Some("six 1.16.0"));
    assert!(stderr(&o).contains("NEVER use"), "{}", stderr(&o));
    // A requirement pip cannot satisfy stops the entrypoint with pip's code; no command runs.
    let o = run("hangar-test-no-such-package-0x5f3759df");
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert!(!stdout(&o).contains("six 1.16.0"));
    assert!(stderr(&o).contains("pip install"), "{}", stderr(&o));
}
