//! A throwaway MIT Kerberos realm on loopback: a real `krb5kdc` on a free port, its database
//! and configuration in a temporary directory, stopped when the [`Kdc`] is dropped.
//!
//! Follows the tested recipe in `shared/reference/kdc-recipe.sh`: `clockskew = 2` so expiry
//! tests are quick, `max_renewable_life` set in kdc.conf (else every TGT is non-renewable),
//! `krb5kdc -n` in the foreground so the child is the KDC itself.
#![allow(unsafe_code)]

use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

const INSTALL: &str = "krb5-kdc krb5-admin-server krb5-user";

/// A running (or stopped) test KDC.
#[derive(Debug)]
pub struct Kdc {
    dir: tempfile::TempDir,
    realm: String,
    port: u16,
    krb5kdc: PathBuf,
    kadmin: PathBuf,
    child: Option<Child>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Kdc {
    /// Creates a realm (`HANGAR<n>.TEST`) and starts its KDC on a free loopback port.
    pub fn start() -> Kdc {
        let krb5kdc = crate::require_program("krb5kdc", INSTALL, &["/usr/sbin"]);
        let kdb5_util = crate::require_program("kdb5_util", INSTALL, &["/usr/sbin"]);
        let kadmin = crate::require_program("kadmin.local", INSTALL, &["/usr/sbin"]);
        crate::require_program("klist", INSTALL, &[]);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let realm = format!("HANGAR{}X{n}.TEST", std::process::id());
        let dir = tempfile::Builder::new()
            .prefix("hangar-kdc.")
            .tempdir()
            .expect("temp dir for the KDC");
        let port = free_port();
        let w = dir.path().display().to_string();
        std::fs::write(
            dir.path().join("krb5.conf"),
            format!(
                "[libdefaults]\n    default_realm = {realm}\n    dns_lookup_kdc = false\n    dns_lookup_realm = false\n    \
                 rdns = false\n    clockskew = 2\n[realms]\n    {realm} = {{\n        \
                 kdc = 127.0.0.1:{port}\n    }}\n"
            ),
        )
        .expect("write krb5.conf");
        std::fs::write(
            dir.path().join("kdc.conf"),
            format!(
                "[kdcdefaults]\n    kdc_listen = 127.0.0.1:{port}\n    kdc_tcp_listen = 127.0.0.1:{port}\n[realms]\n    \
                 {realm} = {{\n        database_name = {w}/principal\n        key_stash_file = {w}/stash\n        \
                 acl_file = {w}/kadm5.acl\n        max_life = 1h\n        max_renewable_life = 1d\n    }}\n\
                 [logging]\n    kdc = FILE:{w}/kdc.log\n"
            ),
        )
        .expect("write kdc.conf");
        let mut kdc = Kdc {
            dir,
            realm,
            port,
            krb5kdc,
            kadmin,
            child: None,
        };
        crate::run_checked(
            "kdb5_util create",
            kdc.command(&kdb5_util).args([
                "create",
                "-s",
                "-r",
                &kdc.realm,
                "-P",
                "throwaway-test-master-key",
            ]),
        );
        kdc.resume();
        kdc
    }

    /// The realm name.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// The KDC's port on 127.0.0.1 (UDP and TCP).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The temporary directory holding the realm.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The client configuration (`KRB5_CONFIG`).
    pub fn krb5_config(&self) -> PathBuf {
        self.dir.path().join("krb5.conf")
    }

    /// The KDC configuration (`KRB5_KDC_PROFILE`).
    pub fn kdc_profile(&self) -> PathBuf {
        self.dir.path().join("kdc.conf")
    }

    /// The KDC's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("kdc.log")
    }

    /// Environment for clients and admin tools of this realm.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "KRB5_CONFIG".to_owned(),
                self.krb5_config().display().to_string(),
            ),
            (
                "KRB5_KDC_PROFILE".to_owned(),
                self.kdc_profile().display().to_string(),
            ),
        ]
    }

    /// A command with this realm's environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.envs(self.env());
        c
    }

    /// Runs a `kadmin.local` query, panicking with its output on failure.
    pub fn kadmin(&self, query: &str) -> String {
        let out = crate::run_checked(
            &format!("kadmin.local -q {query:?}"),
            self.command(&self.kadmin).args(["-q", query]),
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // kadmin.local exits 0 even when the query fails; it says so on its output.
        assert!(
            !text.contains("error"),
            "kadmin.local -q {query:?} failed: {text}"
        );
        text
    }

    /// Adds `name@REALM` with a random key and the given limits (`kadmin` durations such as
    /// `30s`, `5m`, `0`); returns the full principal name.
    pub fn add_principal(&self, name: &str, max_life: &str, max_renew: &str) -> String {
        let principal = format!("{name}@{}", self.realm);
        self.kadmin(&format!(
            "addprinc -randkey -maxlife {max_life} -maxrenewlife {max_renew} {principal}"
        ));
        principal
    }

    /// Writes the principal's current keys to `keytab` (keys are not re-randomised).
    pub fn export_keytab(&self, principal: &str, keytab: &Path) {
        self.kadmin(&format!(
            "ktadd -norandkey -k {} {principal}",
            keytab.display()
        ));
    }

    /// Stops the KDC (waits until it has exited).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = nix_kill(child.id());
            let _ = child.wait();
        }
    }

    /// Starts the KDC again on the same port and waits until it accepts connections.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "the KDC is already running");
        let stdout = std::fs::File::create(self.dir.path().join("kdc.stdout")).expect("kdc.stdout");
        let stderr = stdout.try_clone().expect("dup");
        let mut cmd = self.command(&self.krb5kdc);
        cmd.arg("-n")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        // SAFETY: prctl is async-signal-safe; the KDC dies with the test process.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("start krb5kdc");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                let log =
                    std::fs::read_to_string(self.dir.path().join("kdc.stdout")).unwrap_or_default();
                panic!("krb5kdc exited with {status} at start: {log}");
            }
            assert!(
                Instant::now() < deadline,
                "krb5kdc did not listen on {addr} within 10 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// True while the KDC process runs.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Kdc {
    fn drop(&mut self) {
        self.stop();
    }
}

fn nix_kill(pid: u32) -> std::io::Result<()> {
    let pid =
        libc::pid_t::try_from(pid).map_err(|_| std::io::Error::from_raw_os_error(libc::ESRCH))?;
    // SAFETY: plain kill(2) on our own child.
    if unsafe { libc::kill(pid, libc::SIGTERM) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// A port free for both TCP and UDP on 127.0.0.1.
fn free_port() -> u16 {
    for _ in 0..100 {
        let tcp = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let port = tcp.local_addr().expect("local addr").port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port for the KDC");
}
