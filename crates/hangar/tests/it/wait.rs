//! `hangar wait db | broker | URL...` against real servers on loopback.
//! Run with `cargo test -p hangar --features full-tests --test it wait::`.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use hangar_testkit::servers::{
    PgAuth, PgOptions, Postgres, RabbitMq, RabbitMqOptions, Redis, RedisOptions, free_port,
};

const BIN: &str = env!("CARGO_BIN_EXE_hangar");

fn wait(args: &[&str], vars: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.arg("wait").args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("AIRFLOW") || k.starts_with("CONNECTION_CHECK") {
            cmd.env_remove(k);
        }
    }
    let home = tempfile::tempdir().unwrap();
    cmd.env("AIRFLOW_HOME", home.path());
    cmd.envs(vars.iter().copied());
    cmd.output().expect("hangar runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn urls_of_every_kind_when_ready() {
    let pg = Postgres::start(PgOptions {
        auth: PgAuth::Md5,
        ..PgOptions::default()
    });
    let redis = Redis::start(RedisOptions::default());
    let rabbit = RabbitMq::start(RabbitMqOptions::default());
    let tcp = format!("tcp://127.0.0.1:{}", pg.port());
    let o = wait(
        &[
            &pg.url(),
            &pg.socket_url(),
            &redis.url(),
            &rabbit.url(),
            &tcp,
        ],
        &[
            ("CONNECTION_CHECK_MAX_COUNT", "3"),
            ("CONNECTION_CHECK_SLEEP_TIME", "1"),
        ],
    );
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert!(o.stdout.is_empty(), "nothing on stdout");
    assert!(!stderr(&o).contains("s3cr@t"), "{}", stderr(&o));

    // RabbitMQ with a wrong password: refused at login, exit 77 at once, password masked.
    let bad = format!(
        "amqp://{}:Xyzzy-not-it@127.0.0.1:{}//",
        rabbit.options().user,
        rabbit.port()
    );
    let start = Instant::now();
    let o = wait(&[&bad], &[("CONNECTION_CHECK_MAX_COUNT", "10")]);
    assert_eq!(o.status.code(), Some(77), "stderr: {}", stderr(&o));
    assert!(start.elapsed() < Duration::from_secs(15));
    assert!(!stderr(&o).contains("Xyzzy"), "{}", stderr(&o));
    // RabbitMQ gone: the budget runs out, exit 1.
    let url = rabbit.url();
    drop(rabbit);
    let o = wait(
        &[&url],
        &[
            ("CONNECTION_CHECK_MAX_COUNT", "2"),
            ("CONNECTION_CHECK_SLEEP_TIME", "0.3"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert!(
        stderr(&o).contains("did not answer within the budget"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn tls_urls_of_every_kind_when_ready() {
    let mut pg = Postgres::prepare(PgOptions::default());
    pg.enable_tls();
    pg.run();
    let mut redis = Redis::prepare(RedisOptions::default());
    redis.enable_tls();
    redis.run();
    let mut rabbit = RabbitMq::prepare(RabbitMqOptions::default());
    rabbit.enable_tls();
    rabbit.run();
    let pg_url = format!(
        "{}?sslmode=verify-full&sslrootcert={}",
        pg.url(),
        pg.tls_ca().display()
    );
    let redis_url = format!(
        "{}?ssl_check_hostname=true&ssl_ca_certs={}",
        redis.tls_url(),
        redis.tls_ca().display()
    );
    let budget = [
        ("CONNECTION_CHECK_MAX_COUNT", "3"),
        ("CONNECTION_CHECK_SLEEP_TIME", "1"),
    ];
    // The AMQPS broker's CA through SSL_CERT_FILE, as a deployment mounting its CA would.
    let mut vars = budget.to_vec();
    let rabbit_ca = rabbit.tls_ca().display().to_string();
    vars.push(("SSL_CERT_FILE", &rabbit_ca));
    let o = wait(&[&rabbit.tls_url()], &vars);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let o = wait(&[&pg_url, &redis_url], &budget);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert!(o.stdout.is_empty(), "nothing on stdout");
    // A certificate the system's roots do not know ends the wait at once (77).
    let o = wait(&[&redis.tls_url()], &budget);
    assert_eq!(o.status.code(), Some(77), "stderr: {}", stderr(&o));
    assert!(
        stderr(&o).contains("TLS handshake failed"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn db_from_airflow_config_started_late() {
    let pg = Postgres::prepare(PgOptions::default());
    let url = pg.url();
    let handle = pg.start_after(Duration::from_millis(1500));
    let start = Instant::now();
    let o = wait(
        &["db"],
        &[
            ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", &url),
            ("CONNECTION_CHECK_MAX_COUNT", "30"),
            ("CONNECTION_CHECK_SLEEP_TIME", "1"),
        ],
    );
    let _pg = handle.join().unwrap();
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    assert!(start.elapsed() >= Duration::from_millis(1500));
}

#[test]
fn broker_never_up_exhausts_with_exit_1_and_masked_password() {
    let port = free_port();
    let url = format!("redis://:Xyzzy-pw@127.0.0.1:{port}/0");
    let start = Instant::now();
    let o = wait(
        &["broker"],
        &[
            ("AIRFLOW__CELERY__BROKER_URL", &url),
            ("CONNECTION_CHECK_MAX_COUNT", "3"),
            ("CONNECTION_CHECK_SLEEP_TIME", "0.3"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
    assert!(start.elapsed() >= Duration::from_millis(600));
    assert!(stderr(&o).contains(&port.to_string()), "{}", stderr(&o));
    assert!(
        !stderr(&o).contains("Xyzzy"),
        "password leaked: {}",
        stderr(&o)
    );
}

#[test]
fn broker_redis_acl_wrong_password_fails_fast() {
    let redis = Redis::start(RedisOptions::default());
    let bad = redis.acl_url("celery", "Xyzzy-not-it");
    let start = Instant::now();
    let o = wait(&["broker"], &[("AIRFLOW__CELERY__BROKER_URL", &bad)]);
    assert_eq!(o.status.code(), Some(77), "stderr: {}", stderr(&o));
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(!stderr(&o).contains("Xyzzy"), "{}", stderr(&o));
}

#[test]
fn bad_input_and_disabled_budget() {
    let o = wait(&["postgresql://u:Xyzzy@h:port/db"], &[]);
    assert_eq!(o.status.code(), Some(64), "stderr: {}", stderr(&o));
    assert!(!stderr(&o).contains("Xyzzy"), "{}", stderr(&o));
    let o = wait(&["db"], &[("CONNECTION_CHECK_SLEEP_TIME", "soon")]);
    assert_eq!(o.status.code(), Some(64), "stderr: {}", stderr(&o));
    assert!(
        stderr(&o).contains("CONNECTION_CHECK_SLEEP_TIME"),
        "{}",
        stderr(&o)
    );
    // 0 disables every wait: success at once even though nothing listens.
    let url = format!("tcp://127.0.0.1:{}", free_port());
    let o = wait(&[&url], &[("CONNECTION_CHECK_MAX_COUNT", "0")]);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    // A failing _CMD names its variable.
    let o = wait(
        &["db"],
        &[("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD", "exit 4")],
    );
    assert_eq!(o.status.code(), Some(71), "stderr: {}", stderr(&o));
    assert!(stderr(&o).contains("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD"));
}

#[test]
fn sqlite_db_is_ready_when_its_directory_is_writable() {
    let dir = tempfile::tempdir().unwrap();
    let ok = format!("sqlite:///{}/airflow.db", dir.path().display());
    let o = wait(&["db"], &[("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", &ok)]);
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let missing = format!("sqlite:///{}/no/such/dir/airflow.db", dir.path().display());
    let o = wait(
        &["db"],
        &[
            ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", &missing),
            ("CONNECTION_CHECK_MAX_COUNT", "2"),
            ("CONNECTION_CHECK_SLEEP_TIME", "0.1"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "stderr: {}", stderr(&o));
}
