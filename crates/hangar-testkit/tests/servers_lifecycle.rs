//! The test servers' life cycle: stopped on drop, and killed with the test process even when
//! it dies without running destructors.

#![allow(clippy::print_stdout)] // the child half of the test reports its server on stdout

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hangar_testkit::servers::{PgOptions, Postgres, Redis, RedisOptions};

fn refused_within(port: u16, limit: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if TcpStream::connect(("127.0.0.1", port)).is_err() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

fn process_gone(pid: u32) -> bool {
    // Gone, or a zombie waiting for its new parent to reap it.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn drop_and_stop_end_the_server() {
    let mut pg = Postgres::start(PgOptions::default());
    let port = pg.port();
    let pid = pg.pid().unwrap();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
    pg.stop();
    assert!(!pg.is_running());
    assert!(refused_within(port, Duration::from_secs(1)));
    assert!(process_gone(pid), "postmaster {pid} survived stop()");
    pg.run();
    assert!(TcpStream::connect(("127.0.0.1", port)).is_ok());
    let pid = pg.pid().unwrap();
    drop(pg);
    assert!(refused_within(port, Duration::from_secs(1)));
    assert!(process_gone(pid), "postmaster {pid} survived drop");
}

/// Child mode: start Redis, report it, die without destructors.
const CHILD_ENV: &str = "HANGAR_TESTKIT_DEATHSIG_CHILD";

#[test]
fn servers_die_with_the_test_process() {
    if std::env::var_os(CHILD_ENV).is_some() {
        let r = Redis::start(RedisOptions::default());
        let dir = r.log_path().parent().unwrap().display().to_string();
        println!("SERVER {} {} {dir}", r.pid().unwrap(), r.port());
        std::process::abort();
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "servers_die_with_the_test_process",
            "--nocapture",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = BufReader::new(child.stdout.take().unwrap());
    let line = out
        .lines()
        .map_while(Result::ok)
        .find(|l| l.starts_with("SERVER "))
        .expect("the child reported no server");
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child must have aborted");
    let mut parts = line.split_whitespace().skip(1);
    let pid: u32 = parts.next().unwrap().parse().unwrap();
    let port: u16 = parts.next().unwrap().parse().unwrap();
    let dir = parts.next().unwrap().to_owned();
    assert!(
        refused_within(port, Duration::from_secs(5)),
        "Redis on port {port} outlived the test process"
    );
    let start = Instant::now();
    while !process_gone(pid) && start.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        process_gone(pid),
        "redis-server {pid} outlived the test process"
    );
    // The aborted child could not remove its temp dir.
    if dir.contains("hangar-redis-") {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
