//! Benchmark: how soon `wait_for` proceeds after a server becomes ready (goal: ≤ 100 ms).
//!
//! `cargo run -p hangar-probe --example reaction [ROUNDS]`
//!
//! * TCP: a listener is bound in-process after a random delay of 0.3–2.5 s; the reaction is
//!   the time from `bind` to `wait_for` returning.
//! * PostgreSQL (real, from `hangar_testkit::servers`): the server is started late; the
//!   reaction is measured from the moment its log says "ready to accept connections" (seen
//!   by polling every 20 ms, so the numbers are upper bounds plus up to 20 ms of slack).

#![allow(clippy::print_stdout)] // a benchmark that reports on the terminal

use std::net::TcpListener;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hangar_probe::target::Target;
use hangar_probe::wait::{Budget, wait_for};
use hangar_testkit::servers::{PgOptions, Postgres, free_port};

fn stats(name: &str, mut v: Vec<Duration>) {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    let mean = v.iter().map(|d| ms(*d)).sum::<f64>() / v.len() as f64;
    println!(
        "{name}: n={} min={:.1} ms median={:.1} ms mean={:.1} ms max={:.1} ms",
        v.len(),
        ms(v[0]),
        ms(v[v.len() / 2]),
        mean,
        ms(v[v.len() - 1])
    );
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let budget = Budget::from_vars(Some("20"), Some("3")).unwrap();

    let mut tcp = Vec::new();
    for i in 0..rounds {
        let port = free_port();
        let delay = Duration::from_millis(300 + (i as u64 * 733) % 2200);
        let (tx, rx) = mpsc::channel();
        let t = std::thread::spawn(move || {
            std::thread::sleep(delay);
            let l = TcpListener::bind(("127.0.0.1", port)).unwrap();
            tx.send(Instant::now()).unwrap();
            std::thread::sleep(Duration::from_secs(1));
            drop(l);
        });
        let target = Target::Tcp {
            host: "127.0.0.1".into(),
            port,
        };
        wait_for(&target, &budget, &mut |_| {}).unwrap();
        let done = Instant::now();
        let bound = rx.recv().unwrap();
        tcp.push(done.saturating_duration_since(bound));
        t.join().unwrap();
    }
    stats("TCP listener bound late", tcp);

    let mut pg = Vec::new();
    for i in 0..rounds.min(5) {
        let server = Postgres::prepare(PgOptions::default());
        let target = Target::from_url(&server.url()).unwrap();
        let delay = Duration::from_millis(500 + i as u64 * 300);
        let (tx, rx) = mpsc::channel();
        let t = std::thread::spawn(move || {
            let mut server = server;
            std::thread::sleep(delay);
            server.run();
            tx.send(Instant::now()).unwrap();
            server
        });
        wait_for(&target, &budget, &mut |_| {}).unwrap();
        let done = Instant::now();
        let ready = rx.recv().unwrap();
        // Negative when the probe got in before the log poll noticed: count as 0.
        pg.push(done.saturating_duration_since(ready));
        drop(t.join().unwrap());
    }
    stats("PostgreSQL started late (upper bound)", pg);
}
