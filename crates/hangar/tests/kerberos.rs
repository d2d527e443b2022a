//! `hangar kerberos` against a real MIT KDC on loopback (one realm per test, 20-30 s tickets).

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hangar_testkit::kdc::Kdc;

const HANGAR: &str = env!("CARGO_BIN_EXE_hangar");

/// A realm with one principal and its keytab, plus a work directory for caches.
struct Realm {
    kdc: Kdc,
    principal: String,
    keytab: PathBuf,
    work: tempfile::TempDir,
}

impl Realm {
    fn new(max_life: &str, max_renew: &str) -> Realm {
        let kdc = Kdc::start();
        let principal = kdc.add_principal("airflow/worker.example.test", max_life, max_renew);
        let work = tempfile::Builder::new()
            .prefix("hangar-krb-test.")
            .tempdir()
            .unwrap();
        std::fs::set_permissions(work.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let keytab = work.path().join("airflow.keytab");
        kdc.export_keytab(&principal, &keytab);
        Realm {
            kdc,
            principal,
            keytab,
            work,
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.work.path().join(name)
    }

    /// `hangar kerberos` with a clean environment pointing at this realm.
    fn hangar(&self) -> Command {
        let mut c = Command::new(HANGAR);
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("AIRFLOW_HOME", self.work.path())
            .env("KRB5_CONFIG", self.kdc.krb5_config())
            .env("AIRFLOW__KERBEROS__INCLUDE_IP", "false")
            .arg("kerberos");
        c
    }

    /// The refresher for this realm's principal writing `cache`.
    fn refresher(&self, cache: &Path) -> Command {
        let mut c = self.hangar();
        c.arg(&self.principal)
            .arg("--keytab")
            .arg(&self.keytab)
            .arg("--ccache")
            .arg(format!("FILE:{}", cache.display()));
        c
    }

    fn klist(&self, args: &[&str], cache: &Path) -> Output {
        Command::new("klist")
            .env("KRB5_CONFIG", self.kdc.krb5_config())
            .args(args)
            .arg("-c")
            .arg(format!("FILE:{}", cache.display()))
            .output()
            .expect("run klist")
    }

    fn klist_valid(&self, cache: &Path) -> bool {
        self.klist(&["-s"], cache).status.success()
    }
}

/// A running refresher whose stderr lines are collected.
struct Running {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Running {
    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start hangar");
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Running { child, lines }
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn count(&self, needle: &str) -> usize {
        self.lines().iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits until `n` lines contain `needle`; returns them.
    fn wait_for(&mut self, needle: &str, n: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let hits: Vec<String> = self
                .lines()
                .into_iter()
                .filter(|l| l.contains(needle))
                .collect();
            if hits.len() >= n {
                return hits;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "hangar exited ({status}) before {n}× {needle:?}:\n{}",
                    self.lines().join("\n")
                );
            }
            assert!(
                Instant::now() < deadline,
                "no {n}× {needle:?} within {timeout:?}:\n{}",
                self.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = i32::try_from(self.child.id()).unwrap();
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(Instant::now() < deadline, "hangar did not exit on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
}

/// Watches a cache from other threads: `klist -s` in a loop, and a raw reader checking that
/// the file is always a complete ccache (version 0x0504 and at least a principal and a ticket).
struct Watcher {
    stop: Arc<AtomicBool>,
    handles: Vec<std::thread::JoinHandle<Vec<(Instant, String)>>>,
}

impl Watcher {
    fn start(krb5_config: PathBuf, cache: PathBuf) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let mut handles = Vec::new();
        {
            let stop = stop.clone();
            let cache = cache.clone();
            handles.push(std::thread::spawn(move || {
                let mut bad = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let out = Command::new("klist")
                        .env("KRB5_CONFIG", &krb5_config)
                        .arg("-s")
                        .arg("-c")
                        .arg(format!("FILE:{}", cache.display()))
                        .output()
                        .unwrap();
                    if !out.status.success() {
                        bad.push((Instant::now(), "klist -s failed".to_owned()));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                bad
            }));
        }
        {
            let stop = stop.clone();
            handles.push(std::thread::spawn(move || {
                let mut bad = Vec::new();
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    match std::fs::read(&cache) {
                        Ok(b) if b.len() > 200 && b[0] == 5 && b[1] == 4 => reads += 1,
                        Ok(b) => {
                            bad.push((Instant::now(), format!("torn cache: {} bytes", b.len())))
                        }
                        Err(e) => bad.push((Instant::now(), format!("cannot read cache: {e}"))),
                    }
                }
                assert!(reads > 100, "the raw reader read only {reads} times");
                bad
            }));
        }
        Watcher { stop, handles }
    }

    fn finish(self) -> Vec<(Instant, String)> {
        self.stop.store(true, Ordering::Relaxed);
        self.handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    }
}

#[test]
fn obtains_renews_and_reinitialises_after_renew_until() {
    // 20 s tickets renewable for 40 s: keytab at t0, renewals at ~t0+14 and ~t0+28 (the second
    // clipped to renew-until), then a new keytab exchange near t0+36.
    let realm = Realm::new("20s", "40s");
    let cache = realm.path("ccache");
    let mut run = Running::spawn(realm.refresher(&cache));
    let first = run.wait_for("event=ticket_refreshed", 1, Duration::from_secs(15));
    assert_eq!(field(&first[0], "method"), Some("keytab"), "{first:?}");
    let watcher = Watcher::start(realm.kdc.krb5_config(), cache.clone());
    let flags = String::from_utf8_lossy(&realm.klist(&["-f"], &cache).stdout).into_owned();
    assert!(
        flags.contains(&format!("krbtgt/{0}@{0}", realm.kdc.realm())),
        "{flags}"
    );
    assert!(
        flags.contains("Flags: FRI"),
        "forwardable and renewable by default: {flags}"
    );
    let refreshed = run.wait_for("event=ticket_refreshed", 4, Duration::from_secs(60));
    let methods: Vec<_> = refreshed
        .iter()
        .map(|l| field(l, "method").unwrap())
        .collect();
    assert_eq!(
        methods,
        ["keytab", "renew", "renew", "keytab"],
        "{refreshed:#?}"
    );
    // The renewals kept the renew-until; the new keytab exchange moved it.
    let until: Vec<_> = refreshed
        .iter()
        .map(|l| field(l, "renew_until").unwrap())
        .collect();
    assert_eq!(until[0], until[1]);
    assert_eq!(until[0], until[2]);
    assert_ne!(until[0], until[3]);
    let renewed = String::from_utf8_lossy(&realm.klist(&[], &cache).stdout).into_owned();
    assert!(realm.klist_valid(&cache), "{renewed}");
    let bad = watcher.finish();
    assert!(
        bad.is_empty(),
        "readers saw a broken or expired cache: {bad:?}"
    );
    assert!(run.terminate().success());
    assert_eq!(run.count("level=warn"), 0, "{:#?}", run.lines());
}

#[test]
fn survives_a_kdc_outage_of_three_lifetimes() {
    let mut realm = Realm::new("20s", "10m");
    let cache = realm.path("ccache");
    let mut cmd = realm.refresher(&cache);
    cmd.args(["--retry-initial", "0.5", "--retry-max", "4"]);
    let mut run = Running::spawn(cmd);
    run.wait_for("event=ticket_refreshed", 2, Duration::from_secs(30));
    let watcher = Watcher::start(realm.kdc.krb5_config(), cache.clone());
    std::thread::sleep(Duration::from_secs(2));
    let stopped_at = Instant::now();
    realm.kdc.stop();
    std::thread::sleep(Duration::from_secs(60));
    assert!(
        run.child.try_wait().unwrap().is_none(),
        "the refresher must keep running during the outage"
    );
    assert!(
        !realm.klist_valid(&cache),
        "the 20 s ticket cannot be valid after 60 s without a KDC"
    );
    let failures_logged = run.count("level=warn event=refresh_failed");
    assert!(
        (1..=3).contains(&failures_logged),
        "each failure reason is logged once at warn level, got {failures_logged}:\n{}",
        run.lines().join("\n")
    );
    realm.kdc.resume();
    let resumed_at = Instant::now();
    while !realm.klist_valid(&cache) {
        assert!(
            resumed_at.elapsed() < Duration::from_secs(4 + 4),
            "no valid ticket within one backoff step (4 s) plus a KDC round trip after the KDC came back:\n{}",
            run.lines().join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let recovered_at = Instant::now();
    run.wait_for("event=recovered", 1, Duration::from_secs(5));
    // Keep going for one more refresh with the KDC up.
    let before = run.count("event=ticket_refreshed");
    run.wait_for(
        "event=ticket_refreshed",
        before + 1,
        Duration::from_secs(20),
    );
    let bad = watcher.finish();
    let unexpected: Vec<_> = bad
        .iter()
        .filter(|(t, _)| *t < stopped_at || *t > recovered_at + Duration::from_millis(200))
        .collect();
    assert!(
        unexpected.is_empty(),
        "the cache was broken or expired while the KDC was up: {unexpected:?}"
    );
    assert!(
        bad.iter().all(|(_, what)| what == "klist -s failed"),
        "the cache file was torn: {bad:?}"
    );
    assert!(run.terminate().success());
}

#[test]
fn readers_never_see_a_broken_cache_across_many_refreshes() {
    let realm = Realm::new("30s", "10m");
    let cache = realm.path("shared/ccache");
    std::fs::create_dir(realm.path("shared")).unwrap();
    let mut cmd = realm.refresher(&cache);
    // Refresh every second, always from the keytab, handing the cache to `nobody`, mode 640.
    cmd.env("AIRFLOW__KERBEROS__REINIT_FREQUENCY", "1").args([
        "--cache-owner",
        "nobody",
        "--cache-mode",
        "640",
    ]);
    let mut run = Running::spawn(cmd);
    run.wait_for("event=ticket_refreshed", 1, Duration::from_secs(15));
    let watcher = Watcher::start(realm.kdc.krb5_config(), cache.clone());
    run.wait_for("event=ticket_refreshed", 13, Duration::from_secs(30));
    let bad = watcher.finish();
    assert!(bad.is_empty(), "readers saw a broken cache: {bad:?}");
    assert!(run.terminate().success());
    let meta = std::fs::metadata(&cache).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.mode() & 0o7777, 0o640);
    assert_eq!(meta.uid(), 65534, "owned by nobody");
    let leftovers: Vec<_> = std::fs::read_dir(realm.path("shared"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["ccache"], "no temporary files left behind");
}

#[test]
fn one_time_mode_flags_and_check_exit_codes() {
    let realm = Realm::new("4s", "10m");
    let cache = realm.path("ccache");
    let check = |min: &str| {
        realm
            .hangar()
            .args(["check", "--min-remaining", min, "--ccache"])
            .arg(&cache)
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(check("0"), Some(10), "no cache yet");
    let out = realm.refresher(&cache).arg("-o").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(realm.klist_valid(&cache));
    let ok = realm
        .hangar()
        .args(["check", "--ccache"])
        .arg(&cache)
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).contains(&realm.principal));
    assert_eq!(check("3600"), Some(13), "valid, but not for an hour");
    // KRB5CCNAME is honoured when neither --ccache nor [kerberos] ccache is given.
    let via_env = realm
        .hangar()
        .arg("check")
        .env("KRB5CCNAME", format!("FILE:{}", cache.display()))
        .output();
    assert_eq!(via_env.unwrap().status.code(), Some(0));
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(check("0"), Some(12), "expired");
    // A cache with a principal but no credentials.
    let empty = realm.path("empty");
    std::fs::write(&empty, empty_ccache("someone", realm.kdc.realm())).unwrap();
    let out = realm
        .hangar()
        .args(["check", "--ccache"])
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(11),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Flags: forwardable off, config entries stripped, one-time refresh keeps X-CACHECONF otherwise.
    assert!(
        std::fs::read(&cache)
            .unwrap()
            .windows(12)
            .any(|w| w == b"X-CACHECONF:")
    );
    let plain = realm.path("plain");
    let out = realm
        .refresher(&plain)
        .args(["-o", "--strip-cache-config"])
        .env("AIRFLOW__KERBEROS__FORWARDABLE", "false")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !std::fs::read(&plain)
            .unwrap()
            .windows(12)
            .any(|w| w == b"X-CACHECONF:")
    );
    let listing = String::from_utf8_lossy(&realm.klist(&["-f", "-a"], &plain).stdout).into_owned();
    assert!(listing.contains("Flags: RI"), "not forwardable: {listing}");
    assert!(
        listing.contains("Addresses: (none)"),
        "addressless: {listing}"
    );
}

/// A version 4 ccache holding only a default principal.
fn empty_ccache(name: &str, realm: &str) -> Vec<u8> {
    let mut b = vec![5, 4, 0, 0];
    b.extend_from_slice(&1u32.to_be_bytes()); // KRB5_NT_PRINCIPAL
    b.extend_from_slice(&1u32.to_be_bytes()); // one component
    for s in [realm, name] {
        b.extend_from_slice(&u32::try_from(s.len()).unwrap().to_be_bytes());
        b.extend_from_slice(s.as_bytes());
    }
    b
}

#[test]
fn permanent_errors_exit_with_distinct_codes_and_name_the_fix() {
    let realm = Realm::new("30s", "10m");
    let run = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let cache = realm.path("ccache");

    // Missing keytab: 5, names the file.
    let mut c = realm.hangar();
    c.arg(&realm.principal)
        .args(["--keytab", "/nonexistent/airflow.keytab", "--ccache"])
        .arg(&cache);
    let (code, err) = run(&mut c);
    assert_eq!(code, Some(5), "{err}");
    assert!(
        err.contains("/nonexistent/airflow.keytab") && err.contains("--keytab"),
        "{err}"
    );

    // Unreadable keytab (mode 000, run as nobody): 5.
    let locked = realm.path("locked.keytab");
    std::fs::copy(&realm.keytab, &locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    hangar_testkit::require_program("setpriv", "util-linux", &[]);
    let mut c = Command::new("setpriv");
    c.args([
        "--reuid",
        "65534",
        "--regid",
        "65534",
        "--clear-groups",
        HANGAR,
        "kerberos",
    ])
    .env_clear()
    .env("KRB5_CONFIG", realm.kdc.krb5_config())
    .env("AIRFLOW_HOME", realm.work.path())
    .arg(&realm.principal)
    .arg("--keytab")
    .arg(&locked)
    .arg("--ccache")
    .arg(realm.path("nobody-cache"));
    let (code, err) = run(&mut c);
    assert_eq!(code, Some(5), "{err}");
    assert!(
        err.contains("Permission denied") && err.contains("uid 65534"),
        "{err}"
    );

    // Garbage keytab: 6.
    let garbage = realm.path("garbage.keytab");
    std::fs::write(&garbage, b"this is not a keytab at all").unwrap();
    let (code, err) = run(realm
        .hangar()
        .arg(&realm.principal)
        .arg("-k")
        .arg(&garbage)
        .arg("--ccache")
        .arg(&cache));
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains("keytab"), "{err}");

    // Principal not in the keytab: 7.
    let other = realm.kdc.add_principal("other", "30s", "0");
    let (code, err) = run(realm
        .hangar()
        .arg(&other)
        .arg("-k")
        .arg(&realm.keytab)
        .arg("--ccache")
        .arg(&cache));
    assert_eq!(code, Some(7), "{err}");
    assert!(err.contains(&other) && err.contains("klist -k"), "{err}");

    // Principal in the keytab but deleted from the KDC: 7 as well.
    let gone = realm.kdc.add_principal("gone", "30s", "0");
    let gone_kt = realm.path("gone.keytab");
    realm.kdc.export_keytab(&gone, &gone_kt);
    realm.kdc.kadmin(&format!("delprinc -force {gone}"));
    let (code, err) = run(realm
        .hangar()
        .arg(&gone)
        .arg("-k")
        .arg(&gone_kt)
        .arg("--ccache")
        .arg(&cache));
    assert_eq!(code, Some(7), "{err}");

    // Malformed krb5.conf: 4, names KRB5_CONFIG.
    let bad_conf = realm.path("bad-krb5.conf");
    std::fs::write(
        &bad_conf,
        "[libdefaults]\n  default_realm = X\n  [realms\n  X = {\n",
    )
    .unwrap();
    let mut c = realm.refresher(&cache);
    c.env("KRB5_CONFIG", &bad_conf);
    let (code, err) = run(&mut c);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains(&bad_conf.display().to_string()), "{err}");

    // KRB5_CONFIG naming a missing file: 4.
    let mut c = realm.refresher(&cache);
    c.env("KRB5_CONFIG", realm.path("missing-krb5.conf"));
    let (code, err) = run(&mut c);
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("missing-krb5.conf"), "{err}");

    // Bad configuration value: 64 (as hangar-config's wrong-form values).
    let mut c = realm.refresher(&cache);
    c.env("AIRFLOW__KERBEROS__FORWARDABLE", "perhaps");
    let (code, err) = run(&mut c);
    assert_eq!(code, Some(64), "{err}");
    assert!(err.contains("AIRFLOW__KERBEROS__FORWARDABLE"), "{err}");

    // Cache directory that does not exist: 8.
    let (code, err) = run(realm.refresher(&realm.path("no/such/dir/ccache")).arg("-o"));
    assert_eq!(code, Some(8), "{err}");
    assert!(err.contains("no/such/dir"), "{err}");

    assert!(!cache.exists(), "no cache is written by a failed start");
}

#[test]
fn unreachable_kdc_fails_one_time_but_daemon_retries_until_it_returns() {
    let mut realm = Realm::new("30s", "10m");
    realm.kdc.stop();
    let cache = realm.path("ccache");
    let out = realm.refresher(&cache).arg("-o").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Cannot contact any KDC"), "{err}");
    let out = realm
        .refresher(&cache)
        .arg("--exit-on-error")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));

    let mut cmd = realm.refresher(&cache);
    cmd.args(["--retry-initial", "0.2", "--retry-max", "1"]);
    let mut run = Running::spawn(cmd);
    run.wait_for("event=refresh_failed", 1, Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(
        run.count("level=warn event=refresh_failed"),
        1,
        "logged once: {:#?}",
        run.lines()
    );
    realm.kdc.resume();
    run.wait_for("event=ticket_refreshed", 1, Duration::from_secs(5));
    assert!(realm.klist_valid(&cache));
    assert!(run.terminate().success());
}

#[test]
fn sigterm_and_exit_when_end_the_refresher_cleanly() {
    let realm = Realm::new("30s", "10m");
    let cache = realm.path("ccache");
    let mut run = Running::spawn(realm.refresher(&cache));
    run.wait_for("event=ticket_refreshed", 1, Duration::from_secs(15));
    let status = run.terminate();
    assert_eq!(status.code(), Some(0));
    assert!(
        run.lines().last().unwrap().contains("event=exiting"),
        "{:#?}",
        run.lines()
    );
    assert!(realm.klist_valid(&cache), "the cache stays after exit");

    let flag = realm.path("main-container-done");
    let mut cmd = realm.refresher(&cache);
    cmd.arg("--exit-when")
        .arg(&flag)
        .args(["--log-format", "json"]);
    let mut run = Running::spawn(cmd);
    run.wait_for("\"event\":\"ticket_refreshed\"", 1, Duration::from_secs(15));
    std::fs::write(&flag, b"").unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(s) = run.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "did not exit after the exit file appeared"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    assert!(
        run.lines()
            .iter()
            .any(|l| l.contains("\"reason\":\"exit file present\"")),
        "{:#?}",
        run.lines()
    );
}
