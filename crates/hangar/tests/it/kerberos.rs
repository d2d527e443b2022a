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
    /// The thread collecting stderr; joined once the child has exited, so that
    /// [`Running::lines`] then holds every line.
    reader: Option<std::thread::JoinHandle<()>>,
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
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Running {
            child,
            lines,
            reader: Some(reader),
        }
    }

    /// Waits for the stderr reader to see the end of the output (after the child exited).
    fn drain(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
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

    /// Waits for hangar to exit by itself.
    fn wait_exit(&mut self, timeout: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                self.drain();
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "hangar still runs after {timeout:?}:\n{}",
                self.lines().join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
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
                self.drain();
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
    // 12 s tickets renewable for 24 s: keytab at t0, renewals at ~t0+8 and ~t0+16 (the second
    // clipped to renew-until), then a new keytab exchange near t0+21.
    let realm = Realm::new("12s", "24s");
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
    let refreshed = run.wait_for("event=ticket_refreshed", 4, Duration::from_secs(40));
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
fn survives_a_short_kdc_outage_and_recovers_within_one_backoff_step() {
    // A refresh every ~3 s (20 s tickets, 17 s margin), so the KDC goes away while the
    // refresher is due and the last good ticket is still valid: readers must keep seeing it,
    // the refresher keeps retrying (warning once per reason), and the first retry after the KDC
    // is back gets a ticket. Longer outages (past expiry, back-off growth) are covered with fake
    // time in hangar-kerberos's refresher state tests.
    let mut realm = Realm::new("20s", "10m");
    let cache = realm.path("ccache");
    let mut cmd = realm.refresher(&cache);
    cmd.args([
        "--retry-initial",
        "0.5",
        "--retry-max",
        "2",
        "--margin",
        "17",
    ])
    .arg("--verbose");
    let mut run = Running::spawn(cmd);
    run.wait_for("event=ticket_refreshed", 2, Duration::from_secs(20));
    let watcher = Watcher::start(realm.kdc.krb5_config(), cache.clone());
    realm.kdc.stop();
    // Four failed attempts: the first, and three retries after 0.5, 1 and 2 s.
    run.wait_for("event=refresh_failed", 4, Duration::from_secs(20));
    let failures_logged = run.count("level=warn event=refresh_failed");
    assert!(
        (1..=2).contains(&failures_logged),
        "each failure reason is logged once at warn level, got {failures_logged}:\n{}",
        run.lines().join("\n")
    );
    realm.kdc.resume();
    let resumed_at = Instant::now();
    // Within one back-off step (2 s) plus a KDC round trip on a loaded machine.
    run.wait_for("event=recovered", 1, Duration::from_secs(2 + 4));
    assert!(
        resumed_at.elapsed() < Duration::from_secs(2 + 4),
        "recovered {:?} after the KDC came back",
        resumed_at.elapsed()
    );
    assert!(realm.klist_valid(&cache));
    // Keep going for one more refresh with the KDC up.
    let before = run.count("event=ticket_refreshed");
    run.wait_for(
        "event=ticket_refreshed",
        before + 1,
        Duration::from_secs(10),
    );
    let bad = watcher.finish();
    assert!(
        bad.is_empty(),
        "readers saw a broken or expired cache although the last good ticket was valid: {bad:?}"
    );
    assert!(run.terminate().success());
}

#[test]
fn readers_never_see_a_broken_cache_across_many_refreshes() {
    let realm = Realm::new("30s", "10m");
    let cache = realm.path("shared/ccache");
    std::fs::create_dir(realm.path("shared")).unwrap();
    let mut cmd = realm.refresher(&cache);
    // Refresh every second, always from the keytab, handing the cache to `nobody:nogroup`,
    // mode 640.
    cmd.env("AIRFLOW__KERBEROS__REINIT_FREQUENCY", "1").args([
        "--cache-owner",
        "nobody",
        "--cache-group",
        "nogroup",
        "--cache-mode",
        "640",
    ]);
    let mut run = Running::spawn(cmd);
    run.wait_for("event=ticket_refreshed", 1, Duration::from_secs(15));
    let watcher = Watcher::start(realm.kdc.krb5_config(), cache.clone());
    run.wait_for("event=ticket_refreshed", 9, Duration::from_secs(25));
    let bad = watcher.finish();
    assert!(bad.is_empty(), "readers saw a broken cache: {bad:?}");
    assert!(run.terminate().success());
    let meta = std::fs::metadata(&cache).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.mode() & 0o7777, 0o640);
    assert_eq!(meta.uid(), 65534, "owned by nobody");
    assert_eq!(meta.gid(), 65534, "group nogroup");
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
    // The 4 s ticket expires; the probe says so as soon as it has.
    let deadline = Instant::now() + Duration::from_secs(10);
    while check("0") == Some(0) {
        assert!(
            Instant::now() < deadline,
            "still valid 10 s after a 4 s ticket"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
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

    // Other cache types are written in place (no owner/mode options for them).
    let dir = realm.path("dircc");
    std::fs::create_dir(&dir).unwrap();
    let dir_cache = format!("DIR:{}", dir.display());
    let mut c = realm.hangar();
    c.arg(&realm.principal)
        .arg("-k")
        .arg(&realm.keytab)
        .args(["-o", "--ccache", &dir_cache]);
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = Command::new("klist")
        .env("KRB5_CONFIG", realm.kdc.krb5_config())
        .args(["-s", "-c", &dir_cache])
        .status()
        .unwrap();
    assert!(listed.success(), "klist -s -c {dir_cache}");
    let out = realm
        .hangar()
        .args(["check", "--ccache", &dir_cache])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut c = realm.hangar();
    c.arg(&realm.principal).arg("-k").arg(&realm.keytab);
    c.args(["-o", "--cache-mode", "640", "--ccache", &dir_cache]);
    let out = c.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(8),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("need a FILE: cache"));

    // Everything from airflow.cfg in AIRFLOW_HOME, no arguments (like the chart's init container).
    let from_cfg = realm.path("from-cfg");
    std::fs::write(
        realm.path("airflow.cfg"),
        format!(
            "[kerberos]\nprincipal = {}\nkeytab = {}\nccache = FILE:{}\ninclude_ip = False\n",
            realm.principal,
            realm.keytab.display(),
            from_cfg.display()
        ),
    )
    .unwrap();
    let out = realm
        .hangar()
        .arg("-o")
        .env_remove("AIRFLOW__KERBEROS__INCLUDE_IP")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(realm.klist_valid(&from_cfg));
    let ok = realm.hangar().arg("check").output().unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "check reads [kerberos] ccache too"
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
    let mut realm = Realm::new("30s", "10m");
    let run = |cmd: &mut Command| {
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // `hangar kerberos [-o] PRINCIPAL -k KEYTAB --ccache CACHE`: (exit code, stderr).
    let start = |realm: &Realm, one_time: bool, principal: &str, keytab: &Path, cache: &Path| {
        let mut c = realm.hangar();
        if one_time {
            c.arg("-o");
        }
        run(c
            .arg(principal)
            .arg("-k")
            .arg(keytab)
            .arg("--ccache")
            .arg(cache))
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

    // Start-up errors are structured log lines too.
    let mut c = realm.hangar();
    c.arg(&realm.principal)
        .args([
            "--log-format",
            "json",
            "--keytab",
            "/nonexistent/airflow.keytab",
        ])
        .arg("--ccache")
        .arg(&cache);
    let (code, err) = run(&mut c);
    assert_eq!(code, Some(5), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with('{') && l.contains(r#""event":"giving_up""#))
        .unwrap_or_else(|| panic!("no JSON giving_up line: {err}"));
    assert!(
        line.contains(r#""level":"error""#) && line.contains("/nonexistent/airflow.keytab"),
        "{line}"
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
    let (code, err) = start(&realm, false, &realm.principal, &garbage, &cache);
    assert_eq!(code, Some(6), "{err}");
    assert!(
        err.contains(&garbage.display().to_string()) && err.contains("re-export the keytab"),
        "{err}"
    );

    // Principal not in the keytab: 7.
    let other = realm.kdc.add_principal("other", "30s", "0");
    let (code, err) = start(&realm, false, &other, &realm.keytab, &cache);
    assert_eq!(code, Some(7), "{err}");
    assert!(err.contains(&other) && err.contains("klist -k"), "{err}");

    // Principal in the keytab but deleted from the KDC: 7 as well.
    let gone = realm.kdc.add_principal("gone", "30s", "0");
    let gone_kt = realm.path("gone.keytab");
    realm.kdc.export_keytab(&gone, &gone_kt);
    realm.kdc.kadmin(&format!("delprinc -force {gone}"));
    let (code, err) = start(&realm, false, &gone, &gone_kt, &cache);
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
    assert!(
        err.lines()
            .any(|l| l.contains("event=giving_up") && l.contains("FORWARDABLE")),
        "a wrong setting is logged as giving_up: {err}"
    );

    // Cache directory that does not exist: 8.
    let (code, err) = run(realm.refresher(&realm.path("no/such/dir/ccache")).arg("-o"));
    assert_eq!(code, Some(8), "{err}");
    assert!(err.contains("no/such/dir"), "{err}");

    assert!(!cache.exists(), "no cache is written by a failed start");

    // With the KDC down, the keytab is still read at start: a principal it lacks is 7 and a
    // garbage keytab 6, not the unreachable KDC's 1 (-o: a regression exits instead of retrying).
    realm.kdc.stop();
    let (code, err) = start(&realm, true, &other, &realm.keytab, &cache);
    assert_eq!(code, Some(7), "{err}");
    assert!(
        err.contains(&other) && err.contains("no usable key") && err.contains("klist -k"),
        "{err}"
    );
    let (code, err) = start(&realm, true, &realm.principal, &garbage, &cache);
    assert_eq!(code, Some(6), "{err}");
    assert!(err.contains(&garbage.display().to_string()), "{err}");
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
    cmd.args(["--retry-initial", "0.2", "--retry-max", "1", "--verbose"]);
    let mut run = Running::spawn(cmd);
    // Retries are logged at debug level (--verbose); only the first of a reason is a warning.
    run.wait_for("event=refresh_failed", 5, Duration::from_secs(15));
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

    // --exit-on-error (k5start's -x) also ends a running refresher at its first failed
    // refresh, keeping the last good cache.
    let mut cmd = realm.refresher(&cache);
    cmd.env("AIRFLOW__KERBEROS__REINIT_FREQUENCY", "1")
        .arg("--exit-on-error");
    let mut run = Running::spawn(cmd);
    run.wait_for("event=ticket_refreshed", 2, Duration::from_secs(15));
    realm.kdc.stop();
    let status = run.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "{:#?}", run.lines());
    assert!(run.count("event=giving_up") == 1, "{:#?}", run.lines());
    assert!(realm.klist_valid(&cache), "the last good cache stays");
}

#[test]
fn address_bound_tickets_are_refreshed_from_the_keytab_when_renewal_is_refused() {
    // Airflow's default include_ip=True binds tickets to the host's addresses; the KDC, reached
    // over loopback, refuses to renew them ("Incorrect net address"), which ends `airflow
    // kerberos`. hangar falls back to the keytab without a warning.
    let realm = Realm::new("20s", "10m");
    let cache = realm.path("ccache");
    // A 17 s margin on 20 s tickets: the second refresh is due ~3 s after the first.
    let mut cmd = realm.refresher(&cache);
    cmd.env_remove("AIRFLOW__KERBEROS__INCLUDE_IP")
        .args(["--margin", "17", "--verbose"]);
    let mut run = Running::spawn(cmd);
    run.wait_for("event=ticket_refreshed", 1, Duration::from_secs(15));
    let listing = String::from_utf8_lossy(&realm.klist(&["-a"], &cache).stdout).into_owned();
    let bound = !listing.contains("Addresses: (none)");
    let refreshed = run.wait_for("event=ticket_refreshed", 2, Duration::from_secs(15));
    assert!(realm.klist_valid(&cache));
    if bound {
        assert!(
            run.count("reason=\"Incorrect net address\"") >= 1,
            "{:#?}",
            run.lines()
        );
        assert_eq!(
            field(&refreshed[1], "method"),
            Some("keytab"),
            "{refreshed:?}"
        );
    } else {
        // A host with loopback only: the ticket carries no address and renews normally.
        assert_eq!(field(&refreshed[1], "method"), Some("renew"), "{listing}");
    }
    assert_eq!(run.count("level=warn"), 0, "{:#?}", run.lines());
    assert!(run.terminate().success());
}

#[test]
fn sigterm_and_exit_when_end_the_refresher_cleanly() {
    let realm = Realm::new("30s", "10m");
    let cache = realm.path("ccache");
    let mut run = Running::spawn(realm.refresher(&cache));
    run.wait_for("event=ticket_refreshed", 1, Duration::from_secs(15));
    // SIGHUP: an immediate refresh from the keytab, long before the ticket is due.
    let pid = run.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    run.wait_for("event=refresh_requested", 1, Duration::from_secs(5));
    let again = run.wait_for("event=ticket_refreshed", 2, Duration::from_secs(5));
    assert_eq!(field(&again[1], "method"), Some("keytab"), "{again:?}");
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
    // It exits by itself within 5 s of the exit file appearing.
    let status = run.wait_exit(Duration::from_secs(5));
    assert_eq!(status.code(), Some(0));
    assert!(
        run.lines()
            .iter()
            .any(|l| l.contains("\"reason\":\"exit file present\"")),
        "{:#?}",
        run.lines()
    );
}

#[test]
fn missing_libkrb5_is_a_clear_error_naming_the_package() {
    // Hide libkrb5 in a private mount namespace: the binary still starts (it does not link
    // libkrb5), and only the Kerberos command fails, naming the package to install.
    hangar_testkit::require_program("unshare", "util-linux", &[]);
    let lib = std::fs::canonicalize("/usr/lib/x86_64-linux-gnu/libkrb5.so.3")
        .or_else(|_| std::fs::canonicalize("/usr/lib/aarch64-linux-gnu/libkrb5.so.3"))
        .expect("libkrb5.so.3 is installed on the test machine (apt-get install -y libkrb5-3)");
    let script = format!(
        "mount --bind /dev/null {lib} && {h} --version && {h} kerberos -o -k /nonexistent.keytab2 x; echo rc=$?; \
         {h} kerberos check --ccache /etc/hostname; echo rc=$?",
        lib = lib.display(),
        h = HANGAR
    );
    let keytab = tempfile::NamedTempFile::new().unwrap();
    let script = script.replace("/nonexistent.keytab2", &keytab.path().display().to_string());
    let out = Command::new("unshare")
        .args(["--mount", "sh", "-c", &script])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.starts_with("hangar "),
        "--version works without libkrb5: {stdout} {stderr}"
    );
    assert_eq!(stdout.matches("rc=3").count(), 2, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("libkrb5.so.3") && stderr.contains("apt-get install -y libkrb5-3"),
        "{stderr}"
    );
}

/// buildah/podman with a storage root of their own (cached between runs): no waiting on other
/// builds' storage locks, and only a Debian base plus this test's image live in it.
struct Store {
    root: PathBuf,
    runroot: PathBuf,
}

impl Store {
    fn new() -> Store {
        let root = hangar_testkit::cache_dir("kerberos-sidecar-storage");
        let runroot = PathBuf::from("/run/hangar-krb-test"); // podman wants a short path
        std::fs::create_dir_all(&runroot).unwrap();
        Store { root, runroot }
    }

    fn tool(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.arg("--storage-driver")
            .arg("vfs")
            .arg("--root")
            .arg(&self.root)
            .arg("--runroot")
            .arg(&self.runroot);
        c
    }

    fn buildah(&self, args: &[&str]) -> String {
        let out = self
            .tool("buildah")
            .args(args)
            .output()
            .expect("run buildah");
        assert!(
            out.status.success(),
            "buildah {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A Debian bookworm base with libkrb5-3, made once with debootstrap.
    fn debian_base(&self) -> &'static str {
        const BASE: &str = "localhost/debian-base:bookworm";
        let listed = self
            .tool("buildah")
            .args(["images", "-q", BASE])
            .output()
            .unwrap();
        if listed.status.success() && !listed.stdout.is_empty() {
            return BASE;
        }
        let debootstrap =
            hangar_testkit::require_program("debootstrap", "debootstrap", &["/usr/sbin"]);
        let sources =
            std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources").unwrap_or_default();
        let mirror = sources
            .lines()
            .find_map(|l| l.strip_prefix("URIs:"))
            .map_or("http://deb.debian.org/debian", str::trim)
            .to_owned();
        let rootfs = tempfile::tempdir().unwrap();
        let out = Command::new(debootstrap)
            .args(["--variant=minbase", "--include=libkrb5-3", "bookworm"])
            .arg(rootfs.path())
            .arg(&mirror)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "debootstrap: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ctr = self.buildah(&["from", "scratch"]);
        let mnt = self.buildah(&["mount", &ctr]);
        let cp = Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", rootfs.path().display()))
            .arg(&mnt)
            .status();
        assert!(cp.unwrap().success());
        self.buildah(&["umount", &ctr]);
        self.buildah(&["commit", "-q", &ctr, BASE]);
        self.buildah(&["rm", &ctr]);
        BASE
    }
}

/// `hangar` built with the `kerberos` command only, as the sidecar image carries it, into a
/// target directory of its own so that it never replaces the full build the other tests run.
pub(crate) fn kerberos_only_binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = root.join("target/kerberos-only");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&root)
        .args(["build", "--release", "--locked", "-p", "hangar"])
        .args([
            "--no-default-features",
            "--features",
            "kerberos",
            "--target-dir",
        ])
        .arg(&target)
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "cargo build (kerberos only): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let binary = target.join("release/hangar");
    let help = Command::new(&binary).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(help.contains("kerberos"), "{help}");
    for other in ["build", "entrypoint", "init", "wait", "install"] {
        let out = Command::new(&binary)
            .args(["help", other])
            .output()
            .unwrap();
        assert!(
            !out.status.success(),
            "the kerberos-only build has `{other}`"
        );
    }
    binary
}

#[test]
fn sidecar_image_obtains_a_ticket_as_uid_50000() {
    hangar_testkit::require_program("buildah", "buildah", &[]);
    hangar_testkit::require_program("podman", "podman runc", &[]);
    let binary = kerberos_only_binary();
    let realm = Realm::new("30s", "10m");
    let store = Store::new();
    let base = store.debian_base();
    // The build context holds the kerberos-only binary where the Dockerfile expects it, and
    // the repository's .dockerignore, which must let that binary through.
    let ctx = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(ctx.path().join("target/release")).unwrap();
    std::fs::copy(&binary, ctx.path().join("target/release/hangar")).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.dockerignore"),
        ctx.path().join(".dockerignore"),
    )
    .unwrap();
    let image = format!(
        "localhost/hangar-kerberos-sidecar:test-{}",
        std::process::id()
    );
    let dockerfile = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/sidecar/Dockerfile");
    struct Rmi<'a>(&'a Store, &'a str);
    impl Drop for Rmi<'_> {
        fn drop(&mut self) {
            let _ = self.0.tool("buildah").args(["rmi", "-f", self.1]).output();
        }
    }
    let out = store
        .tool("buildah")
        .args([
            "bud",
            "-q",
            "--isolation",
            "chroot",
            "--pull-never",
            "--target",
            "kerberos-sidecar",
        ])
        .arg("--build-arg")
        .arg(format!("BASE_IMAGE={base}"))
        .arg("-f")
        .arg(&dockerfile)
        .args(["-t", &image])
        .arg(ctx.path())
        .output()
        .unwrap();
    let _cleanup = Rmi(&store, &image);
    assert!(
        out.status.success(),
        "buildah bud: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Nothing but the refresher: no shell, no package manager.
    let ctr = store.buildah(&["from", "-q", &image]);
    let mnt = PathBuf::from(store.buildah(&["mount", &ctr]));
    let has = |p: &str| mnt.join(p).exists();
    assert!(has("usr/local/bin/hangar") && has("lib64/ld-linux-x86-64.so.2"));
    assert!(!has("bin/sh") && !has("usr/bin/apt-get") && !has("usr/bin/python3"));
    store.buildah(&["umount", &ctr]);
    store.buildah(&["rm", &ctr]);

    // Run it like the examples: krb5.conf and keytab read-only, the cache on a shared volume.
    let keytab = realm.path("sidecar.keytab");
    std::fs::copy(&realm.keytab, &keytab).unwrap();
    std::fs::set_permissions(&keytab, std::fs::Permissions::from_mode(0o644)).unwrap();
    let ccdir = realm.path("ccache-volume");
    std::fs::create_dir(&ccdir).unwrap();
    std::os::unix::fs::chown(&ccdir, Some(50000), Some(0)).unwrap();
    let conf = realm.path("containers.conf");
    std::fs::write(
        &conf,
        "[containers]\ndefault_ulimits = []\npids_limit = 0\n",
    )
    .unwrap();
    let podman = |args: &[&str]| {
        let mut c = store.tool("podman");
        c.env("CONTAINERS_CONF", &conf)
            .args([
                "run",
                "--rm",
                "--runtime",
                "runc",
                "--network",
                "host",
                "-v",
            ])
            .arg(format!(
                "{}:/etc/krb5.conf:ro",
                realm.kdc.krb5_config().display()
            ))
            .arg("-v")
            .arg(format!("{}:/etc/airflow.keytab:ro", keytab.display()))
            .arg("-v")
            .arg(format!("{}:/var/kerberos-ccache", ccdir.display()))
            .args([
                "-e",
                "AIRFLOW__KERBEROS__INCLUDE_IP=false",
                "-e",
                "AIRFLOW__KERBEROS__KEYTAB=/etc/airflow.keytab",
            ])
            .arg(&image)
            .args(args);
        c.output().unwrap()
    };
    let out = podman(&["kerberos", "--one-time", &realm.principal]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cache = ccdir.join("cache");
    assert!(realm.klist_valid(&cache));
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(&cache).unwrap().uid(),
        50000,
        "written by the image's user"
    );
    let out = podman(&["kerberos", "check", "--min-remaining", "10"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The shipped deployment examples keep the security properties they promise: the keytab reaches
/// only the refresher, the ticket cache is shared and read-only in the worker, both see
/// KRB5_CONFIG and KRB5CCNAME, and the refresher is probed with `hangar kerberos check`.
mod deploy {
    use std::path::{Path, PathBuf};

    use serde_yaml_ng::Value;

    use crate::yaml::{load_all, s, seq, strings};

    fn repo() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    /// A container is the refresher when its command line runs `hangar kerberos` (not `check`).
    fn is_refresher(c: &Value) -> bool {
        let argv: Vec<String> = strings(&c["command"])
            .into_iter()
            .chain(strings(&c["args"]))
            .collect();
        argv.iter().any(|a| a == "kerberos")
    }

    fn env_of(c: &Value) -> Vec<(String, String)> {
        seq(&c["env"])
            .iter()
            .map(|e| (s(&e["name"]).to_owned(), s(&e["value"]).to_owned()))
            .collect()
    }

    fn probe_commands(c: &Value) -> Vec<Vec<String>> {
        ["startupProbe", "livenessProbe", "readinessProbe"]
            .iter()
            .map(|p| strings(&c[*p]["exec"]["command"]))
            .filter(|cmd| !cmd.is_empty())
            .collect()
    }

    fn check_pod_spec(file: &str, spec: &Value, native_sidecar: bool) {
        let volumes = seq(&spec["volumes"]);
        let keytab_volumes: Vec<String> = volumes
            .iter()
            .filter(|v| v.get("secret").is_some())
            .map(|v| s(&v["name"]).to_owned())
            .collect();
        assert_eq!(keytab_volumes.len(), 1, "{file}: one keytab Secret volume");
        let keytab = &keytab_volumes[0];

        let init = seq(&spec["initContainers"]);
        let main = seq(&spec["containers"]);
        let all: Vec<&Value> = init.iter().chain(main.iter()).collect();
        let refreshers: Vec<&Value> = all.iter().copied().filter(|c| is_refresher(c)).collect();
        let workers: Vec<&Value> = main.iter().filter(|c| !is_refresher(c)).collect();
        assert!(!workers.is_empty(), "{file}: a worker container");
        assert!(!refreshers.is_empty(), "{file}: a refresher container");

        // The cache volume: where the refresher's KRB5CCNAME lives; it must be an emptyDir.
        let volume_at = |c: &Value, dir: &str| {
            seq(&c["volumeMounts"])
                .iter()
                .find(|m| s(&m["mountPath"]) == dir)
                .map(|m| s(&m["name"]).to_owned())
        };
        let cache_var = env_of(refreshers[0])
            .into_iter()
            .find(|(k, _)| k == "KRB5CCNAME")
            .map(|(_, v)| v)
            .unwrap_or_else(|| panic!("{file}: the refresher sets KRB5CCNAME"));
        let cache_dir = Path::new(cache_var.trim_start_matches("FILE:"))
            .parent()
            .unwrap();
        let ccache = &volume_at(refreshers[0], cache_dir.to_str().unwrap())
            .unwrap_or_else(|| panic!("{file}: the refresher mounts a volume at {cache_dir:?}"));
        let ccache_volume = volumes.iter().find(|v| s(&v["name"]) == ccache).unwrap();
        assert!(
            ccache_volume.get("emptyDir").is_some(),
            "{file}: the cache is an emptyDir"
        );

        let mut ccache_path = None;
        for c in &all {
            let name = s(&c["name"]);
            let mounts = seq(&c["volumeMounts"]);
            let mount = |vol: &str| mounts.iter().find(|m| s(&m["name"]) == vol).cloned();
            let env = env_of(c);
            let var = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            assert!(
                var("KRB5_CONFIG").is_some(),
                "{file}: {name} sets KRB5_CONFIG"
            );
            let krb5ccname =
                var("KRB5CCNAME").unwrap_or_else(|| panic!("{file}: {name} sets KRB5CCNAME"));
            let cc =
                mount(ccache).unwrap_or_else(|| panic!("{file}: {name} mounts the ccache volume"));
            let mount_path = s(&cc["mountPath"]).to_owned();
            assert!(
                krb5ccname
                    .trim_start_matches("FILE:")
                    .starts_with(&format!("{mount_path}/")),
                "{file}: {name}'s KRB5CCNAME {krb5ccname} is on the shared volume {mount_path}"
            );
            ccache_path.get_or_insert(krb5ccname.clone());
            assert_eq!(
                ccache_path.as_deref(),
                Some(krb5ccname.as_str()),
                "{file}: same cache everywhere"
            );
            let read_only = cc["readOnly"].as_bool().unwrap_or(false);
            if is_refresher(c) {
                assert!(
                    mount(keytab).is_some(),
                    "{file}: refresher {name} mounts the keytab"
                );
                assert!(!read_only, "{file}: refresher {name} writes the cache");
            } else {
                assert!(
                    mount(keytab).is_none(),
                    "{file}: the keytab must not reach worker {name}"
                );
                assert!(read_only, "{file}: the cache is read-only in worker {name}");
                assert!(
                    !env.iter()
                        .any(|(k, v)| k.contains("KEYTAB") || v.contains("keytab")),
                    "{file}: worker {name} has no keytab setting"
                );
            }
        }
        // The long-running refresher is probed with `hangar kerberos check`.
        let long_running: Vec<&&Value> = refreshers
            .iter()
            .filter(|c| {
                !strings(&c["command"])
                    .iter()
                    .any(|a| a == "--one-time" || a == "-o")
            })
            .collect();
        assert_eq!(long_running.len(), 1, "{file}: one long-running refresher");
        let probes = probe_commands(long_running[0]);
        assert!(!probes.is_empty(), "{file}: the refresher has probes");
        for p in &probes {
            assert!(
                p.windows(3).any(|w| w == ["hangar", "kerberos", "check"]),
                "{file}: probe {p:?}"
            );
        }
        // --exit-when: the file is on a volume the refresher shares with a worker that can write it.
        let argv = strings(&long_running[0]["command"]);
        if let Some(i) = argv.iter().position(|a| a == "--exit-when") {
            let flag = Path::new(&argv[i + 1]);
            let dir = flag.parent().unwrap().to_str().unwrap();
            let vol = volume_at(long_running[0], dir).unwrap_or_else(|| {
                panic!("{file}: the refresher mounts the --exit-when directory")
            });
            assert!(
                workers
                    .iter()
                    .any(|w| seq(&w["volumeMounts"]).iter().any(|m| {
                        s(&m["name"]) == vol && !m["readOnly"].as_bool().unwrap_or(false)
                    })),
                "{file}: a worker can create {}",
                flag.display()
            );
            let script = workers
                .iter()
                .flat_map(|w| strings(&w["command"]))
                .collect::<String>();
            assert!(
                script.contains(&format!("touch {}", flag.display())),
                "{file}: {script}"
            );
        }
        if native_sidecar {
            let sidecar = init
                .iter()
                .find(|c| is_refresher(c))
                .expect("refresher among initContainers");
            assert_eq!(
                s(&sidecar["restartPolicy"]),
                "Always",
                "{file}: native sidecar"
            );
        }
    }

    #[test]
    fn kubernetes_examples_keep_the_keytab_in_the_sidecar() {
        for (file, native) in [
            ("worker-deployment.yaml", false),
            ("worker-native-sidecar.yaml", true),
        ] {
            let docs = load_all(&repo().join("deploy/kubernetes").join(file));
            let deployments: Vec<&Value> = docs
                .iter()
                .filter(|d| s(&d["kind"]) == "Deployment")
                .collect();
            assert_eq!(deployments.len(), 1, "{file}: one Deployment");
            check_pod_spec(file, &deployments[0]["spec"]["template"]["spec"], native);
        }
        // KubernetesExecutor pod template: classic sidecar ended through --exit-when.
        let file = "pod-template-file.yaml";
        let pod = load_all(&repo().join("deploy/kubernetes").join(file)).remove(0);
        assert_eq!(s(&pod["kind"]), "Pod");
        assert_eq!(s(&pod["spec"]["restartPolicy"]), "Never");
        assert!(
            seq(&pod["spec"]["containers"])
                .iter()
                .any(|c| s(&c["name"]) == "base"),
            "{file}: Airflow fills the container named base"
        );
        check_pod_spec(file, &pod["spec"], false);
        let sidecar = seq(&pod["spec"]["containers"])
            .into_iter()
            .find(is_refresher)
            .unwrap();
        assert!(
            strings(&sidecar["command"]).contains(&"--exit-when".to_owned()),
            "{file}"
        );
        let cm = load_all(&repo().join("deploy/kubernetes/krb5-config.yaml"));
        assert_eq!(s(&cm[0]["kind"]), "ConfigMap");
        assert!(s(&cm[0]["data"]["krb5.conf"]).contains("[realms]"));
    }

    #[test]
    fn compose_example_keeps_the_keytab_in_the_refresher() {
        let file = "deploy/compose/compose.yaml";
        let doc = load_all(&repo().join(file)).remove(0);
        let services = doc["services"].as_mapping().expect("services");
        let named = |svc: &Value| {
            let argv = strings(&svc["command"]);
            argv.first().is_some_and(|a| a == "kerberos")
        };
        let (refresher_name, refresher) = services
            .iter()
            .find(|(_, v)| named(v))
            .map(|(k, v)| (s(k).to_owned(), v.clone()))
            .expect("refresher");
        let workers: Vec<(String, Value)> = services
            .iter()
            .filter(|(_, v)| !named(v))
            .map(|(k, v)| (s(k).to_owned(), v.clone()))
            .collect();
        assert!(!workers.is_empty());
        let volume_of = |svc: &Value, target: &str| {
            seq(&svc["volumes"])
                .into_iter()
                .find(|m| s(&m["target"]) == target)
        };
        let env = |svc: &Value, k: &str| svc["environment"][k].as_str().map(str::to_owned);

        // Keytab: a secret of the refresher only.
        assert!(
            !strings(&refresher["secrets"]).is_empty(),
            "{refresher_name} gets the keytab secret"
        );
        assert!(
            env(&refresher, "AIRFLOW__KERBEROS__KEYTAB")
                .unwrap()
                .starts_with("/run/secrets/")
        );
        let cache = env(&refresher, "KRB5CCNAME").expect("KRB5CCNAME");
        let cache_dir = Path::new(cache.trim_start_matches("FILE:"))
            .parent()
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        let rv = volume_of(&refresher, &cache_dir).expect("refresher mounts the cache volume");
        assert!(!rv["read_only"].as_bool().unwrap_or(false));
        assert!(env(&refresher, "KRB5_CONFIG").is_some());
        let hc = strings(&refresher["healthcheck"]["test"]);
        assert!(
            hc.windows(3).any(|w| w == ["hangar", "kerberos", "check"]),
            "healthcheck {hc:?}"
        );

        for (name, w) in &workers {
            assert!(w.get("secrets").is_none(), "{name} must not get the keytab");
            assert!(
                !seq(&w["volumes"])
                    .iter()
                    .any(|m| s(&m["source"]).contains("keytab")),
                "{name} must not mount the keytab"
            );
            let wv = volume_of(w, &cache_dir)
                .unwrap_or_else(|| panic!("{name} mounts the cache volume"));
            assert_eq!(
                s(&wv["source"]),
                s(&rv["source"]),
                "{name} shares the refresher's volume"
            );
            assert_eq!(
                wv["read_only"].as_bool(),
                Some(true),
                "{name} mounts the cache read-only"
            );
            assert_eq!(env(w, "KRB5CCNAME").as_deref(), Some(cache.as_str()));
            assert!(env(w, "KRB5_CONFIG").is_some());
            assert_eq!(
                s(&w["depends_on"][refresher_name.as_str()]["condition"]),
                "service_healthy",
                "{name} waits for a valid ticket"
            );
        }
        assert!(
            doc["volumes"].get(s(&rv["source"])).is_some(),
            "named volume declared"
        );
    }

    #[test]
    fn sidecar_dockerfile_has_the_named_target_and_no_shell() {
        let text = std::fs::read_to_string(repo().join("deploy/sidecar/Dockerfile")).unwrap();
        let stages: Vec<&str> = text.lines().filter(|l| l.starts_with("FROM ")).collect();
        assert!(
            stages.last().unwrap().ends_with("AS kerberos-sidecar"),
            "{stages:?}"
        );
        assert!(
            stages.last().unwrap().starts_with("FROM scratch"),
            "final stage starts empty"
        );
        assert!(!text.contains("<<"), "no heredocs (buildah 1.28)");
    }
}
