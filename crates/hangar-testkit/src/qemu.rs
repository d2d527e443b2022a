//! arm64 on this amd64 machine: Debian's `qemu-user-static` registered with binfmt_misc, so
//! the kernel runs aarch64 executables (in build steps too), and a cached arm64 Debian base
//! image made with `debootstrap --arch arm64` into the tests' store.
//!
//! ```no_run
//! let _qemu = hangar_testkit::qemu::aarch64();
//! hangar_testkit::qemu::ensure_arm64_base_image();
//! ```

use std::fs::{self, File};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use crate::images::{buildah, check, debian_mirror, image_exists, stdout_of};
use crate::{cache_dir, require_program};

/// The cached arm64 base image: Debian bookworm minbase, configured as `linux/arm64`.
pub const ARM64_BASE_IMAGE: &str = "localhost/debian-arm64:bookworm";

const BINFMT_DIR: &str = "/proc/sys/fs/binfmt_misc";
const ENTRY: &str = "/proc/sys/fs/binfmt_misc/qemu-aarch64";
/// The registration Debian's qemu-user-static ships for systemd-binfmt (with the `F` flag: the
/// interpreter is opened at registration, so it runs inside chroots and build steps too).
const REGISTRATION: &str = "/usr/lib/binfmt.d/qemu-aarch64.conf";

/// What this process set up, with the number of live [`Qemu`] handles.
struct State {
    users: usize,
    mounted: bool,
    registered: bool,
}

static STATE: Mutex<State> = Mutex::new(State {
    users: 0,
    mounted: false,
    registered: false,
});

/// While alive, aarch64 executables run under qemu. The last handle of the process undoes
/// what this process did (unregisters, unmounts); what was there before is left alone.
#[derive(Debug)]
pub struct Qemu(());

/// Mounts binfmt_misc and registers qemu-aarch64 when they are not already (root only).
pub fn aarch64() -> Qemu {
    require_program("qemu-aarch64-static", "qemu-user-static", &[]);
    let mut s = STATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if s.users == 0 {
        if !Path::new(BINFMT_DIR).join("register").exists() {
            check(
                Command::new("mount").args(["-t", "binfmt_misc", "binfmt_misc", BINFMT_DIR]),
                "mount binfmt_misc (needs root)",
            );
            s.mounted = true;
        }
        if !Path::new(ENTRY).exists() {
            let line = fs::read_to_string(REGISTRATION).unwrap_or_else(|e| {
                panic!("cannot read {REGISTRATION} ({e}); apt-get install -y qemu-user-static")
            });
            fs::write(Path::new(BINFMT_DIR).join("register"), line.trim_end())
                .unwrap_or_else(|e| panic!("cannot register qemu-aarch64 with binfmt_misc: {e}"));
            s.registered = true;
        }
    }
    s.users += 1;
    Qemu(())
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let mut s = STATE
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        s.users -= 1;
        if s.users > 0 {
            return;
        }
        if s.registered {
            let _ = fs::write(ENTRY, "-1");
            s.registered = false;
        }
        if s.mounted {
            let _ = Command::new("umount").arg(BINFMT_DIR).status();
            s.mounted = false;
        }
    }
}

/// Makes [`ARM64_BASE_IMAGE`] unless `buildah images` already lists it (debootstrap's second
/// stage runs under qemu: about 90 s the first time). Needs a live [`Qemu`]. Serialised across
/// test processes with a lock file, like the amd64 base image.
pub fn ensure_arm64_base_image() {
    if image_exists(ARM64_BASE_IMAGE) {
        return;
    }
    let debootstrap = require_program("debootstrap", "debootstrap", &["/usr/sbin", "/sbin"]);
    let dir = cache_dir("images");
    let lock_path = dir.join("arm64-base.lock");
    let lock = File::create(&lock_path).expect("create arm64 base image lock");
    let guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .unwrap_or_else(|(_, e)| panic!("cannot lock {}: {e}", lock_path.display()));
    if !image_exists(ARM64_BASE_IMAGE) {
        build_arm64_base_image(&debootstrap, &dir);
    }
    drop(guard);
}

fn build_arm64_base_image(debootstrap: &Path, dir: &Path) {
    let rootfs = tempfile::Builder::new()
        .prefix("rootfs-arm64-")
        .tempdir_in(dir)
        .expect("rootfs temp dir");
    check(
        Command::new(debootstrap)
            .args(["--arch", "arm64", "--variant=minbase", "bookworm"])
            .arg(rootfs.path())
            .arg(debian_mirror()),
        "debootstrap the arm64 base image (under qemu)",
    );
    let ctr = stdout_of(buildah().args(["from", "scratch"]), "buildah from scratch");
    let mnt = stdout_of(buildah().args(["mount", &ctr]), "buildah mount");
    check(
        Command::new("cp")
            .arg("-a")
            .arg(format!("{}/.", rootfs.path().display()))
            .arg(format!("{mnt}/")),
        "copy the arm64 root filesystem into the container",
    );
    // A container from scratch has the host's platform; the image must say arm64.
    check(
        buildah().args(["config", "--arch", "arm64", "--os", "linux", &ctr]),
        "buildah config --arch arm64",
    );
    check(
        buildah().args(["commit", "--rm", &ctr, ARM64_BASE_IMAGE]),
        "buildah commit of the arm64 base image",
    );
}
