//! A real Docker daemon for one test: Debian's `dockerd` (docker.io) with a data root, exec
//! root and socket of its own under a temporary directory, no network changes (no bridge,
//! no iptables, no forwarding), reached only through its unix socket. Stopped on drop.
//!
//! Debian's client, `/usr/bin/docker` (20.10), still builds with the daemon's embedded
//! BuildKit (`DOCKER_BUILDKIT=1 docker build`); newer clients need the buildx plugin for that.
//! Containers and builds use `--network host`: the daemon has no bridge network.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use crate::servers::common::spawn_child;
use crate::{require_program, run_checked};

/// Debian's docker client, which has the embedded-BuildKit switch.
pub const DEBIAN_CLIENT: &str = "/usr/bin/docker";

/// How long `dockerd` may take to answer, and to stop after SIGTERM.
const START_DEADLINE: Duration = Duration::from_secs(60);
const STOP_DEADLINE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(100);

/// The applets linked in the busybox base image.
const APPLETS: [&str; 12] = [
    "sh", "echo", "cat", "test", "grep", "wc", "true", "false", "ls", "env", "sleep", "id",
];

/// A running `dockerd` of this test's own; stopped (SIGTERM, then SIGKILL) on drop.
pub struct Dockerd {
    child: Child,
    dir: tempfile::TempDir,
    host: String,
}

/// Debian's docker client, or a failure naming the package.
pub fn debian_client() -> PathBuf {
    let client = PathBuf::from(DEBIAN_CLIENT);
    assert!(
        client.is_file(),
        "`{DEBIAN_CLIENT}` (Debian's docker client) is required by this test and was not found. \
         Install it with: apt-get update && apt-get install -y docker.io"
    );
    client
}

impl Dockerd {
    /// Starts `dockerd` and waits until `docker version` answers through its socket.
    pub fn start() -> Dockerd {
        let dockerd = require_program("dockerd", "docker.io", &["/usr/sbin", "/usr/bin"]);
        debian_client();
        // Short: the daemon's and containerd's unix sockets live below it.
        let dir = tempfile::Builder::new()
            .prefix("hangar-dockerd")
            .tempdir_in("/tmp")
            .expect("cannot create the dockerd directory");
        let d = dir.path();
        let socket = d.join("docker.sock");
        let host = format!("unix://{}", socket.display());
        let log = fs::File::create(d.join("dockerd.log")).expect("cannot create the dockerd log");
        let mut cmd = Command::new(dockerd);
        cmd.arg("--data-root")
            .arg(d.join("root"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .args(["--host", &host])
            .arg("--pidfile")
            .arg(d.join("dockerd.pid"))
            .args([
                "--storage-driver",
                "overlay2",
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--ip-forward=false",
                "--ip-masq=false",
            ])
            .env_remove("DOCKER_HOST")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cannot share the dockerd log"))
            .stderr(log);
        // The test kit's spawner: its own process group, so that containerd and the shims it
        // starts can be killed with it if it does not stop by itself, and killed with the test
        // process if that dies first.
        let child = spawn_child(cmd).expect("cannot start dockerd");
        let mut daemon = Dockerd { child, dir, host };
        daemon.wait_until_answering();
        daemon
    }

    fn wait_until_answering(&mut self) {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "dockerd exited with {status} before answering:\n{}",
                    self.log()
                );
            }
            let answered = self
                .client()
                .args(["version", "--format", "{{.Server.Version}}"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if answered {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "dockerd did not answer within {START_DEADLINE:?}:\n{}",
                self.log()
            );
            std::thread::sleep(POLL);
        }
    }

    /// The value for `DOCKER_HOST`: `unix://<dir>/docker.sock`.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The daemon's log so far.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    /// `docker build` of `context` with the daemon's BuildKit, `BASE_IMAGE=base`, RUN steps on
    /// the host's network (apt reaches the Debian mirror); `args` add the target, tag,
    /// Dockerfile. Panics with the output, naming `what`, when the build fails.
    pub fn build_on(&self, what: &str, base: &str, args: &[&str], context: &Path) {
        crate::run_checked(
            &format!("docker build of {what}"),
            self.client()
                .env("DOCKER_BUILDKIT", "1")
                .args(["build", "--progress", "plain", "--network", "host"])
                .args(["--build-arg", &format!("BASE_IMAGE={base}")])
                .args(args)
                .arg(context),
        );
    }

    /// Debian's client talking to this daemon (`DOCKER_HOST` set).
    pub fn client(&self) -> Command {
        let mut cmd = Command::new(DEBIAN_CLIENT);
        cmd.env("DOCKER_HOST", &self.host).stdin(Stdio::null());
        cmd
    }

    /// Runs `docker args…` against this daemon and returns its output, whatever the status.
    pub fn docker(&self, args: &[&str]) -> Output {
        self.client()
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run docker {args:?}: {e}"))
    }

    /// Runs `docker args…` against this daemon; panics when it fails.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let mut cmd = self.client();
        cmd.args(args);
        let out = run_checked(&format!("docker {}", args.join(" ")), &mut cmd);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// True when the daemon knows the image `name`.
    pub fn image_exists(&self, name: &str) -> bool {
        self.docker(&["image", "inspect", name]).status.success()
    }

    /// A `PATH` with a directory holding only Debian's client first, then the caller's.
    pub fn path_with_debian_client(&self) -> std::ffi::OsString {
        let bin = self.dir.path().join("bin");
        if !bin.join("docker").exists() {
            fs::create_dir_all(&bin).expect("cannot create the client directory");
            std::os::unix::fs::symlink(DEBIAN_CLIENT, bin.join("docker"))
                .expect("cannot link Debian's docker client");
        }
        let rest = std::env::var_os("PATH").unwrap_or_default();
        std::env::join_paths(std::iter::once(bin).chain(std::env::split_paths(&rest)))
            .expect("PATH holds no separator")
    }

    /// Imports a base image `tag` holding a static busybox and a few applets (`/bin/sh`,
    /// `cat`, `grep`…), made from Debian's busybox-static: nothing can be pulled.
    pub fn import_busybox(&self, tag: &str) {
        let busybox = require_program("busybox", "busybox-static", &["/bin"]);
        let rootfs = self.dir.path().join("busybox-rootfs");
        fs::create_dir_all(rootfs.join("bin")).expect("cannot create the busybox rootfs");
        fs::create_dir_all(rootfs.join("tmp")).expect("cannot create the busybox rootfs");
        fs::copy(&busybox, rootfs.join("bin/busybox")).expect("cannot copy busybox");
        for applet in APPLETS {
            let link = rootfs.join("bin").join(applet);
            if !link.exists() {
                std::os::unix::fs::symlink("busybox", link).expect("cannot link an applet");
            }
        }
        let tar = self.dir.path().join("busybox-rootfs.tar");
        run_checked(
            "tar of the busybox rootfs",
            Command::new("tar")
                .arg("-C")
                .arg(&rootfs)
                .arg("-cf")
                .arg(&tar)
                .arg("."),
        );
        self.docker_ok(&[
            "import",
            "--change",
            "ENV PATH=/bin",
            &tar.to_string_lossy(),
            tag,
        ]);
    }

    /// Copies `image` from the test kit's buildah store (see [`crate::images`]) into this
    /// daemon under the same name: `buildah push` to a docker-archive, then `docker load`.
    pub fn load_from_buildah(&self, image: &str) {
        let archive = self.dir.path().join("from-buildah.tar");
        run_checked(
            &format!("buildah push of {image} to a docker-archive"),
            crate::images::buildah()
                .arg("push")
                .arg(image)
                .arg(format!("docker-archive:{}:{image}", archive.display())),
        );
        self.docker_ok(&["load", "-i", &archive.to_string_lossy()]);
        fs::remove_file(&archive).expect("cannot remove the image archive");
    }

    /// Removes `image` and the build cache (dangling layers of this daemon's builds) when
    /// the returned guard is dropped.
    pub fn image_guard<'d>(&'d self, image: &str) -> DockerImageGuard<'d> {
        DockerImageGuard {
            daemon: self,
            name: image.to_owned(),
        }
    }

    fn stop(&mut self) {
        let Ok(pid) = i32::try_from(self.child.id()) else {
            return;
        };
        let pid = Pid::from_raw(pid);
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = signal::kill(pid, Signal::SIGTERM);
            let deadline = Instant::now() + STOP_DEADLINE;
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(POLL);
            }
        }
        // Whatever is left of its group (dockerd itself if it did not stop, containerd,
        // shims) is killed.
        let _ = signal::killpg(pid, Signal::SIGKILL);
        let _ = self.child.wait();
        unmount_below(self.dir.path());
    }
}

/// Removes an image of a [`Dockerd`] and the daemon's build cache when dropped.
pub struct DockerImageGuard<'d> {
    daemon: &'d Dockerd,
    name: String,
}

impl Drop for DockerImageGuard<'_> {
    fn drop(&mut self) {
        for args in [
            &["rmi", "-f", self.name.as_str()][..],
            &["builder", "prune", "-a", "-f"],
            &["image", "prune", "-f"],
        ] {
            let _ = self
                .daemon
                .client()
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Detaches the mounts the daemon left below `dir` (its network namespace handle, overlays
/// of a killed daemon), deepest first, so the directory can be removed.
fn unmount_below(dir: &Path) {
    let Ok(mounts) = fs::read_to_string("/proc/self/mounts") else {
        return;
    };
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|l| l.split(' ').nth(1))
        .filter(|p| Path::new(p).starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let status = Command::new("umount").args(["--lazy", p]).status();
        if !status.is_ok_and(|s| s.success()) {
            let _ = writeln!(std::io::stderr(), "cannot unmount {p}");
        }
    }
}
