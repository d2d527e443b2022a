//! Readiness probes against real PostgreSQL, MariaDB, Redis and RabbitMQ servers on loopback.

use std::time::Duration;

use hangar_probe::probe::{ProbeError, probe};
use hangar_probe::target::Target;
use hangar_probe::wait::{Budget, Event, WaitError, wait_for};
use hangar_testkit::servers::{
    DEFAULT_PASSWORD, MariaDb, MariaDbOptions, PgAuth, PgOptions, Postgres, RabbitMq,
    RabbitMqOptions, Redis, RedisOptions, encode, free_port,
};

const WRONG: &str = "wr0ng-p@ss";

fn budget(count: u32, sleep_ms: u64) -> Budget {
    Budget {
        max_count: count,
        sleep: Duration::from_millis(sleep_ms),
    }
}

/// Waits for `url`; returns the result and the number of attempts that failed first.
fn wait_url(url: &str, b: Budget) -> (Result<(), WaitError>, u32) {
    let target = Target::from_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    let mut retries = 0;
    let res = wait_for(&target, &b, &mut |e| {
        if let Event::Retrying { .. } = e {
            retries += 1;
        }
    });
    (res, retries)
}

fn probe_url(url: &str) -> Result<(), ProbeError> {
    probe(&Target::from_url(url).unwrap(), Duration::from_secs(10))
}

/// Asserts the wait was rejected at the first attempt, with `needle` in the message, and that
/// no rendering of the error contains a password.
fn assert_rejected(url: &str, needle: &str, secrets: &[&str]) {
    let (res, retries) = wait_url(url, budget(20, 1000));
    let err = res.expect_err(&format!("a rejected probe must fail the wait: {url}"));
    assert!(matches!(err, WaitError::Rejected(_)), "{err:?}");
    assert_eq!(retries, 0, "a rejection must end the wait at once: {err}");
    let shown = format!("{err} {err:?}");
    assert!(shown.contains(needle), "expected {needle:?} in: {shown}");
    for s in secrets {
        assert!(!shown.contains(s), "the error shows a password: {shown}");
    }
}

fn assert_exhausted(url: &str) {
    let (res, retries) = wait_url(url, budget(3, 100));
    match res {
        Err(WaitError::Exhausted { attempts, last, .. }) => {
            assert!(attempts >= 2, "only {attempts} attempts");
            assert_eq!(retries + 1, attempts);
            assert!(matches!(last, ProbeError::Unreachable(_)), "{last:?}");
            assert!(!last.to_string().contains(DEFAULT_PASSWORD));
        }
        other => panic!("expected Exhausted for {url}, got {other:?}"),
    }
}

// --- PostgreSQL -----------------------------------------------------------------------------

#[test]
fn postgres_md5_user_ready_and_wrong_password_rejected() {
    let pg = Postgres::start(PgOptions {
        auth: PgAuth::Md5,
        ..PgOptions::default()
    });
    let (res, _) = wait_url(&pg.url(), budget(5, 500));
    res.expect("md5 login with the right password");
    assert_rejected(
        &pg.url_with("127.0.0.1", WRONG),
        "28P01",
        &[WRONG, "wr0ng", DEFAULT_PASSWORD],
    );
}

#[test]
fn postgres_scram_user_ready_over_tcp_ipv6_and_socket() {
    let pg = Postgres::start(PgOptions::default());
    assert_eq!(pg.options().auth, PgAuth::Scram);
    probe_url(&pg.url()).expect("scram over 127.0.0.1");
    probe_url(&pg.url_with("[::1]", DEFAULT_PASSWORD)).expect("scram over ::1");
    probe_url(&pg.url_with("localhost", DEFAULT_PASSWORD)).expect("scram via localhost");
    probe_url(&pg.socket_url()).expect("scram over the unix socket");
    // The test server has no TLS: sslmode=require is a configuration error, reported at once.
    assert_rejected(
        &format!("{}?sslmode=require", pg.url()),
        "does not accept TLS",
        &[DEFAULT_PASSWORD],
    );
    assert_rejected(
        &pg.url_with("127.0.0.1", WRONG),
        "password authentication failed",
        &[WRONG, DEFAULT_PASSWORD],
    );
    // Without a password the probe cannot log in; an auth request shows the server is up.
    probe_url(&format!(
        "postgresql://airflow@127.0.0.1:{}/airflow",
        pg.port()
    ))
    .expect("no password: server up");
}

#[test]
fn postgres_over_tls_logs_in_and_checks_the_certificate() {
    let mut pg = Postgres::prepare(PgOptions::default());
    pg.enable_tls();
    pg.run();
    let ca = pg.tls_ca().display().to_string();
    // sslmode=require: TLS without a certificate check, then SCRAM over it (as libpq).
    probe_url(&format!("{}?sslmode=require", pg.url())).expect("SCRAM over TLS");
    assert_rejected(
        &format!("{}?sslmode=require", pg.url_with("127.0.0.1", WRONG)),
        "28P01",
        &[WRONG],
    );
    // verify-ca checks the chain, verify-full also the address in the certificate.
    probe_url(&format!("{}?sslmode=verify-ca&sslrootcert={ca}", pg.url())).expect("verify-ca");
    probe_url(&format!(
        "{}?sslmode=verify-full&sslrootcert={ca}",
        pg.url()
    ))
    .expect("verify-full");
    // Without the test CA (the system's roots) the certificate is refused, at once.
    assert_rejected(
        &format!("{}?sslmode=verify-full", pg.url()),
        "TLS handshake failed",
        &[],
    );
    // Without sslmode the probe authenticates in plain text as before.
    probe_url(&pg.url()).expect("plain SCRAM login");
    probe_url(&format!("{}?sslmode=prefer", pg.url())).expect("prefer: plain login");
    assert_rejected(
        &format!("{}?sslmode=disable", pg.url_with("127.0.0.1", WRONG)),
        "28P01",
        &[WRONG],
    );
}

#[test]
fn postgres_refusing_plain_tcp_is_ready_under_libpq_default_sslmode() {
    let mut pg = Postgres::prepare(PgOptions::default());
    pg.enable_tls();
    pg.require_tls_over_tcp();
    pg.run();
    // libpq's default (prefer) and allow would connect with TLS: so does the probe, and logs in.
    probe_url(&pg.url()).expect("no sslmode: TLS login");
    probe_url(&format!("{}?sslmode=prefer", pg.url())).expect("prefer: TLS login");
    probe_url(&format!("{}?sslmode=require", pg.url())).expect("require: TLS login");
    assert_rejected(&pg.url_with("127.0.0.1", WRONG), "28P01", &[WRONG]);
    // sslmode=disable cannot connect to it, and says why.
    assert_rejected(&format!("{}?sslmode=disable", pg.url()), "28000", &[]);
}

#[test]
fn postgres_unknown_database_and_role_rejected() {
    let pg = Postgres::start(PgOptions {
        auth: PgAuth::Trust,
        ..PgOptions::default()
    });
    let port = pg.port();
    probe_url(&format!("postgresql://airflow@127.0.0.1:{port}/airflow")).expect("trust login");
    assert_rejected(
        &format!("postgresql://airflow:pw@127.0.0.1:{port}/nosuchdb"),
        "3D000",
        &[],
    );
    assert_rejected(
        &format!("postgresql://nobody:pw@127.0.0.1:{port}/airflow"),
        "28000",
        &[],
    );
}

#[test]
fn postgres_started_late_then_stopped() {
    let pg = Postgres::prepare(PgOptions::default());
    let url = pg.url();
    let handle = pg.start_after(Duration::from_millis(1500));
    let (res, retries) = wait_url(&url, budget(60, 1000));
    res.expect("the server started late");
    assert!(retries > 0, "the first attempts must have failed");
    let mut pg = handle.join().unwrap();
    pg.stop();
    assert!(matches!(probe_url(&url), Err(ProbeError::Unreachable(_))));
    pg.run();
    probe_url(&url).expect("restarted");
}

#[test]
fn postgres_in_recovery_is_not_ready_until_promoted() {
    let pg = Postgres::start(PgOptions {
        start_in_recovery: true,
        ..PgOptions::default()
    });
    let url = pg.url();
    match probe_url(&url) {
        Err(ProbeError::NotReady(m)) => assert!(m.contains("57P03"), "{m}"),
        other => panic!("expected NotReady(57P03), got {other:?}"),
    }
    let handle = std::thread::spawn(move || {
        let mut pg = pg;
        std::thread::sleep(Duration::from_millis(1500));
        pg.promote();
        pg
    });
    let (res, retries) = wait_url(&url, budget(60, 1000));
    res.expect("ready after promotion");
    assert!(retries > 0);
    drop(handle.join().unwrap());
}

#[test]
fn postgres_too_many_clients_is_not_ready() {
    let psql = hangar_testkit::require_program(
        "psql",
        "postgresql-client",
        &["/usr/lib/postgresql/15/bin"],
    );
    let mut pg = Postgres::prepare(PgOptions::default());
    pg.set_max_connections(3); // 2 reserved for superusers, 1 for everyone else
    pg.run();
    let url = pg.url();
    // A real client takes the one ordinary slot for 4 s (started again should it lose the
    // race for the slot against a probe). Killing it would not free the slot: the server
    // notices a vanished client only when its query ends.
    let spawn_blocker = || {
        std::process::Command::new(&psql)
            .args(["-h", "127.0.0.1", "-U", "airflow", "-d", "airflow", "-p"])
            .arg(pg.port().to_string())
            .args(["-c", "SELECT pg_sleep(4)"])
            .env("PGPASSWORD", DEFAULT_PASSWORD)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut blocker = spawn_blocker();
    let start = std::time::Instant::now();
    let refused = loop {
        std::thread::sleep(Duration::from_millis(300));
        if blocker.try_wait().unwrap().is_some() {
            blocker = spawn_blocker();
            continue;
        }
        match probe_url(&url) {
            Err(ProbeError::NotReady(m)) if m.contains("53300") => break m,
            other => assert!(
                start.elapsed() < Duration::from_secs(30),
                "never refused with 53300: {other:?}"
            ),
        }
    };
    assert!(
        refused.contains("too many clients") || refused.contains("connection slots"),
        "{refused}"
    );
    let (res, retries) = wait_url(&url, budget(30, 1000));
    res.expect("ready once the client is gone");
    assert!(retries > 0);
    let _ = blocker.wait();
}
#[test]
fn postgres_never_up_exhausts_budget() {
    assert_exhausted(&format!(
        "postgresql://airflow:{}@127.0.0.1:{}/airflow",
        encode(DEFAULT_PASSWORD),
        free_port()
    ));
}

// --- MariaDB --------------------------------------------------------------------------------

#[test]
fn mariadb_ready_rejected_and_socket() {
    let db = MariaDb::start(MariaDbOptions::default());
    let (res, _) = wait_url(&db.url(), budget(5, 500));
    res.expect("native password login");
    probe_url(&db.url_with("mysql+pymysql", DEFAULT_PASSWORD)).expect("pymysql URL");
    // Greeting only (no user).
    probe_url(&format!("mysql://127.0.0.1:{}", db.port())).expect("greeting");
    probe_url(&format!(
        "mysql://airflow:{}@localhost/airflow?unix_socket={}",
        encode(DEFAULT_PASSWORD),
        db.socket_path().display()
    ))
    .expect("unix socket");
    // An AMQP probe against MariaDB is a protocol mismatch, not "not ready".
    assert_rejected(
        &format!("amqp://127.0.0.1:{}//", db.port()),
        "protocol mismatch",
        &[],
    );
    assert_rejected(
        &db.url_with("mysql+mysqldb", WRONG),
        "1045",
        &[WRONG, DEFAULT_PASSWORD],
    );
    assert_rejected(
        &format!(
            "mysql://airflow:{}@127.0.0.1:{}/nosuchdb",
            encode(DEFAULT_PASSWORD),
            db.port()
        ),
        "nosuchdb",
        &[DEFAULT_PASSWORD],
    );
}

#[test]
fn mariadb_requiring_tls_logs_in_over_tls() {
    // A server that takes TLS connections only (require_secure_transport, the default of some
    // managed services): the probe uses TLS when offered, as mysqlclient does, and logs in.
    let mut db = MariaDb::prepare(MariaDbOptions::default());
    db.require_tls();
    db.run();
    probe_url(&db.url()).expect("login over TLS");
    assert_rejected(
        &db.url_with("mysql+mysqldb", WRONG),
        "1045",
        &[WRONG, DEFAULT_PASSWORD],
    );
    // The unix socket needs no TLS.
    probe_url(&format!(
        "mysql://airflow:{}@localhost/airflow?unix_socket={}",
        encode(DEFAULT_PASSWORD),
        db.socket_path().display()
    ))
    .expect("unix socket");
}

#[test]
fn mariadb_too_many_connections_is_not_ready() {
    let client = hangar_testkit::require_program("mariadb", "mariadb-client", &[]);
    let mut db = MariaDb::prepare(MariaDbOptions::default());
    db.set_max_connections(10); // MariaDB's minimum
    db.run();
    let url = db.url();
    // Real clients take the connection slots (unauthenticated connections do not count, so
    // they log in and sleep); MariaDB admits one connection beyond max_connections.
    let mut blockers = Vec::new();
    let spawn_blocker = || {
        std::process::Command::new(&client)
            .args(["--no-defaults", "-h", "127.0.0.1", "-u", "airflow"])
            .arg(format!("-P{}", db.port()))
            .arg(format!("-p{DEFAULT_PASSWORD}"))
            .args(["-e", "SELECT SLEEP(60)"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    for _ in 0..10 {
        blockers.push(spawn_blocker());
    }
    let start = std::time::Instant::now();
    let refused = loop {
        match probe_url(&url) {
            Err(ProbeError::NotReady(m)) if m.contains("1040") => break m,
            other => {
                assert!(
                    start.elapsed() < Duration::from_secs(30) && blockers.len() < 14,
                    "never refused with 1040: {other:?}"
                );
                blockers.push(spawn_blocker());
                std::thread::sleep(Duration::from_millis(500));
            }
        }
    };
    assert!(refused.contains("Too many connections"), "{refused}");
    let release = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1000));
        for mut b in blockers {
            let _ = b.kill();
            let _ = b.wait();
        }
    });
    let (res, retries) = wait_url(&url, budget(30, 1000));
    res.expect("ready once the connection is free");
    assert!(retries > 0);
    release.join().unwrap();
}

#[test]
fn mariadb_started_late() {
    let db = MariaDb::prepare(MariaDbOptions::default());
    let url = db.url();
    let handle = db.start_after(Duration::from_millis(1500));
    let (res, retries) = wait_url(&url, budget(60, 1000));
    res.expect("started late");
    assert!(retries > 0);
    drop(handle.join().unwrap());
}

#[test]
fn mariadb_never_up_exhausts_budget() {
    assert_exhausted(&format!(
        "mysql://airflow:{}@127.0.0.1:{}/airflow",
        encode(DEFAULT_PASSWORD),
        free_port()
    ));
}

// --- Redis ----------------------------------------------------------------------------------

#[test]
fn redis_password_and_acl_user() {
    let r = Redis::start(RedisOptions::default());
    let (res, _) = wait_url(&r.url(), budget(5, 500));
    res.expect("requirepass");
    probe_url(&r.acl_url("celery", "celery-pw")).expect("ACL user");
    probe_url(&format!(
        "redis://:{}@[::1]:{}/0",
        encode(DEFAULT_PASSWORD),
        r.port()
    ))
    .expect("IPv6");
    assert_rejected(
        &format!("redis://:{}@127.0.0.1:{}/0", encode(WRONG), r.port()),
        "WRONGPASS",
        &[WRONG, DEFAULT_PASSWORD],
    );
    assert_rejected(
        &r.acl_url("celery", WRONG),
        "WRONGPASS",
        &[WRONG, "celery-pw"],
    );
    assert_rejected(
        &format!("redis://127.0.0.1:{}/0", r.port()),
        "NOAUTH",
        &[DEFAULT_PASSWORD],
    );
}

#[test]
fn rediss_logs_in_over_tls_and_checks_the_certificate() {
    let mut r = Redis::prepare(RedisOptions::default());
    r.enable_tls();
    r.run();
    let ca = r.tls_ca().display().to_string();
    // redis-py's default for rediss (ssl_cert_reqs=required) checks the chain; with
    // ssl_check_hostname the address too.
    probe_url(&format!("{}?ssl_ca_certs={ca}", r.tls_url())).expect("rediss, test CA");
    probe_url(&format!(
        "{}?ssl_cert_reqs=CERT_REQUIRED&ssl_check_hostname=true&ssl_ca_certs={ca}",
        r.acl_tls_url("celery", "celery-pw")
    ))
    .expect("rediss ACL user, host name checked");
    probe_url(&format!("{}?ssl_cert_reqs=none", r.tls_url())).expect("rediss, no check");
    assert_rejected(
        &format!(
            "rediss://:{}@127.0.0.1:{}/0?ssl_cert_reqs=none",
            encode(WRONG),
            r.port()
        ),
        "WRONGPASS",
        &[WRONG, DEFAULT_PASSWORD],
    );
    // The system's roots do not know the test CA: refused at once, password never sent.
    assert_rejected(&r.tls_url(), "TLS handshake failed", &[DEFAULT_PASSWORD]);
}

#[test]
fn redis_open_server_and_started_late() {
    let r = Redis::prepare(RedisOptions {
        password: None,
        acl_users: vec![],
    });
    let url = r.url();
    let handle = r.start_after(Duration::from_millis(1000));
    let (res, retries) = wait_url(&url, budget(30, 1000));
    res.expect("started late");
    assert!(retries > 0);
    drop(handle.join().unwrap());
}

#[test]
fn redis_loading_dataset_is_not_ready_then_ready() {
    // 20k keys at 50 µs or more each: a few seconds of `-LOADING`.
    let mut r = Redis::prepare(RedisOptions::default());
    r.seed_slow_dataset(20_000, 50);
    r.run();
    match probe_url(&r.url()) {
        Err(ProbeError::NotReady(m)) => assert!(m.contains("LOADING"), "{m}"),
        other => panic!("expected NotReady(LOADING), got {other:?}"),
    }
    let target = Target::from_url(&r.url()).unwrap();
    let mut loading_seen = 0;
    wait_for(&target, &budget(60, 1000), &mut |e| {
        if let Event::Retrying { error, .. } = e
            && matches!(error, ProbeError::NotReady(m) if m.contains("LOADING"))
        {
            loading_seen += 1;
        }
    })
    .expect("ready once the dataset is loaded");
    assert!(loading_seen > 0, "the wait must have seen -LOADING first");
}

#[test]
fn redis_never_up_exhausts_budget() {
    assert_exhausted(&format!(
        "redis://:{}@127.0.0.1:{}/0",
        encode(DEFAULT_PASSWORD),
        free_port()
    ));
}

// --- RabbitMQ -------------------------------------------------------------------------------

#[test]
fn rabbitmq_started_late_login_and_rejections() {
    let rmq = RabbitMq::prepare(RabbitMqOptions::default());
    let url = rmq.url();
    let handle = rmq.start_after(Duration::from_millis(1000));
    let (res, retries) = wait_url(&url, budget(120, 1000));
    res.expect("RabbitMQ started late");
    assert!(retries > 0);
    let rmq = handle.join().unwrap();
    let port = rmq.port();
    let before = std::fs::read_to_string(rmq.log_path()).unwrap().len();
    probe_url(&rmq.url()).expect("login, open vhost /, close");
    probe_url(&format!("pyamqp://127.0.0.1:{port}//")).expect("no credentials: Connection.Start");
    assert_rejected(
        &format!("amqp://airflow:{}@127.0.0.1:{port}//", encode(WRONG)),
        "ACCESS_REFUSED",
        &[WRONG, DEFAULT_PASSWORD],
    );
    assert_rejected(
        &format!(
            "amqp://airflow:{}@127.0.0.1:{port}/nosuchvhost",
            encode(DEFAULT_PASSWORD)
        ),
        "nosuchvhost",
        &[DEFAULT_PASSWORD],
    );
    // The logged-in probe closed its connection politely. RabbitMQ logs asynchronously: give
    // it a moment.
    std::thread::sleep(Duration::from_millis(500));
    let log = std::fs::read_to_string(rmq.log_path()).unwrap();
    let after = &log[before..];
    assert!(
        after.contains("authenticated and granted access"),
        "{after}"
    );
    // Only the probe without credentials (which stops at Connection.Start) may hang up; the
    // three that logged in (one accepted, two refused) must not.
    let hangups = after
        .matches("client unexpectedly closed TCP connection")
        .count();
    assert!(hangups <= 1, "{hangups} hang-ups:\n{after}");
    // A Redis probe against RabbitMQ is rejected as another protocol.
    let redis = format!("redis://127.0.0.1:{port}/0");
    assert_rejected(&redis, "protocol mismatch", &[]);
}

#[test]
fn amqps_logs_in_over_tls_and_checks_the_certificate() {
    let mut rmq = RabbitMq::prepare(RabbitMqOptions::default());
    rmq.enable_tls();
    rmq.run();
    let ca = rmq.tls_ca().display().to_string();
    let url = rmq.tls_url();
    // The default check (the chain) against the test CA, or none at all.
    probe_url(&format!("{url}?ssl_ca_certs={ca}")).expect("amqps login, test CA");
    probe_url(&format!("{url}?ssl_cert_reqs=none")).expect("amqps login, no check");
    assert_rejected(
        &format!(
            "amqps://airflow:{}@127.0.0.1:{}//?ssl_cert_reqs=none",
            encode(WRONG),
            rmq.tls_port()
        ),
        "ACCESS_REFUSED",
        &[WRONG, DEFAULT_PASSWORD],
    );
    // The system's roots do not know the test CA: refused at once, password never sent.
    assert_rejected(&url, "TLS handshake failed", &[DEFAULT_PASSWORD]);
}

#[test]
fn amqp_never_up_exhausts_budget() {
    assert_exhausted(&format!("amqp://guest:guest@127.0.0.1:{}//", free_port()));
}

// --- Plain TCP and SQLite -------------------------------------------------------------------

#[test]
fn tcp_and_sqlite_targets() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    probe_url(&format!("tcp://127.0.0.1:{port}")).expect("listening port");
    probe_url(&format!("mssql+pyodbc://sa:pw@127.0.0.1:{port}/db")).expect("mssql = TCP");
    drop(listener);
    assert!(matches!(
        probe_url(&format!("tcp://127.0.0.1:{port}")),
        Err(ProbeError::Unreachable(_))
    ));

    let dir = tempfile::tempdir().unwrap();
    probe_url(&format!("sqlite:///{}/airflow.db", dir.path().display())).expect("dir writable");
    let missing = format!("sqlite:///{}/nope/airflow.db", dir.path().display());
    assert!(matches!(probe_url(&missing), Err(ProbeError::NotReady(_))));
    probe_url("sqlite://").expect("memory");
}
