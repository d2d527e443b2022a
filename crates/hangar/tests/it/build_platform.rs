//! Builds for another architecture: `--platform`, `--hangar-binary ARCH=PATH`, the architecture check, and an arm64 stage under qemu.
//!
//! The arm64 stage runs for real: qemu-user-static registered with binfmt_misc, an arm64
//! Debian base made with debootstrap, `hangar build --engine buildah --platform linux/arm64`
//! on the test kit's store. No arm64 Rust toolchain can be had here, so the arm64 "hangar"
//! put into that context is an aarch64 executable from the arm64 base (`uname`). The
//! refusals and `--dry-run` command lines run no engine. Needs root, buildah, debootstrap,
//! qemu-user-static and the Debian mirror.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use hangar_build::platform::elf::fake_header;
use hangar_testkit::images::{self, ImageGuard, build_lock, buildah, image_exists, stdout_of};
use hangar_testkit::qemu::{self, ARM64_BASE_IMAGE};

use crate::build_frontend::{HANGAR, clean_env, text};

/// `hangar build` in `dir` with no caller settings, on the test kit's store.
fn hangar_build(dir: &Path) -> Command {
    let mut cmd = Command::new(HANGAR);
    clean_env(&mut cmd);
    cmd.current_dir(dir)
        .env("BUILDAH_ISOLATION", "chroot")
        .env("CONTAINERS_STORAGE_CONF", images::storage_conf())
        .arg("build")
        .stdin(Stdio::null());
    cmd
}

fn output(cmd: &mut Command) -> Output {
    cmd.output().expect("run hangar build")
}

fn both(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// The `hangar-from-context` stage of the repository's Dockerfile, as `hangar build` uses it.
fn hangar_from_context_stage() -> String {
    let dockerfile = hangar_build::context::embedded_dockerfile();
    let start = dockerfile
        .find("FROM scratch AS hangar-from-context")
        .expect("the Dockerfile has a hangar-from-context stage");
    let stage = &dockerfile[start..];
    let end = stage.find("\n\n").unwrap_or(stage.len());
    format!("{}\n", &stage[..end])
}

/// A copy of an aarch64 executable of the arm64 base image (its `uname`).
fn aarch64_executable(dir: &Path) -> PathBuf {
    let ctr = stdout_of(
        buildah().args(["from", "--pull-never", ARM64_BASE_IMAGE]),
        "buildah from the arm64 base",
    );
    let mnt = stdout_of(buildah().args(["mount", &ctr]), "buildah mount");
    let to = dir.join("uname-aarch64");
    fs::copy(Path::new(&mnt).join("usr/bin/uname"), &to).expect("copy uname out of the image");
    let _ = buildah().args(["rm", &ctr]).output();
    to
}

/// `--platform linux/arm64` with an aarch64 binary for the context: the stage runs under qemu,
/// `uname -m` inside says aarch64, the binary from `.hangar/arm64/hangar` executes there and
/// the image is an arm64 one.
#[test]
fn arm64_stage_builds_under_qemu() {
    let _lock = build_lock();
    let _qemu = qemu::aarch64();
    qemu::ensure_arm64_base_image();
    let dir = tempfile::tempdir().unwrap();
    let arm_binary = aarch64_executable(dir.path());
    let dockerfile = dir.path().join("Dockerfile");
    fs::write(
        &dockerfile,
        format!(
            "{}\nFROM {ARM64_BASE_IMAGE}\n\
             COPY --from=hangar-from-context /hangar /usr/local/bin/hangar-from-context\n\
             RUN echo \"uname -m: $(uname -m)\" && test \"$(uname -m)\" = aarch64 && \
             /usr/local/bin/hangar-from-context -m > /machine\n",
            hangar_from_context_stage()
        ),
    )
    .unwrap();
    let image = format!("localhost/hangar-test-arm64:{}", std::process::id());
    let _guard = ImageGuard::new(&image);
    let out = output(
        hangar_build(dir.path())
            .args(["--engine", "buildah", "--platform", "linux/arm64"])
            .arg("--hangar-binary")
            .arg(format!("arm64={}", arm_binary.display()))
            .arg("--dockerfile")
            .arg(&dockerfile)
            .args(["--progress", "plain", "-t", &image]),
    );
    let all = both(&out);
    assert!(out.status.success(), "the arm64 build failed:\n{all}");
    assert!(all.contains("--platform linux/arm64"), "{all}");
    assert!(all.contains("uname -m: aarch64"), "{all}");
    let arch = stdout_of(
        buildah().args([
            "inspect",
            "--type",
            "image",
            "--format",
            "{{.OCIv1.Architecture}}",
            &image,
        ]),
        "buildah inspect",
    );
    assert_eq!(arch, "arm64");
    let machine = images::run_in_image(&image, &["cat", "/machine"]);
    assert_eq!(
        text(&machine.stdout).trim(),
        "aarch64",
        "{}",
        text(&machine.stderr)
    );
    images::prune_dangling();
}

/// A directory with fake `buildah`, `podman` and `docker` that record any call; the `docker`
/// answers `buildx version` when `buildx`, and prints Debian's 20.10 version otherwise.
fn recording_engines(dir: &Path, buildx: bool) -> (PathBuf, PathBuf) {
    let bin = dir.join("fakebin");
    fs::create_dir_all(&bin).unwrap();
    let record = dir.join("engine-calls");
    for name in ["buildah", "podman", "docker"] {
        let p = bin.join(name);
        fs::write(
            &p,
            format!(
                "#!/bin/sh\n\
                 case \"$1\" in\n\
                 buildx) [ {buildx} = true ] && exit 0; exit 1 ;;\n\
                 --version) echo 'Docker version 20.10.24+dfsg1, build 297e128'; exit 0 ;;\n\
                 esac\n\
                 echo \"{name} $*\" >> '{}'\nexit 0\n",
                record.display()
            ),
        )
        .unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    }
    (bin, record)
}

/// An ELF header that says aarch64: enough for hangar's check, which reads only the header.
fn fake_aarch64(dir: &Path) -> PathBuf {
    let p = dir.join("hangar-aarch64");
    fs::write(&p, fake_header(183)).unwrap();
    p
}

#[test]
fn arm64_with_only_the_amd64_binary_is_refused_before_the_engine_starts() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, record) = recording_engines(dir.path(), false);
    let image = format!("localhost/hangar-test-refused:{}", std::process::id());
    let out = output(hangar_build(dir.path()).env("PATH", &bin).args([
        "--engine",
        "buildah",
        "--platform",
        "linux/arm64",
        "-t",
        &image,
    ]));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    for needle in [
        "no hangar binary for the target linux/arm64",
        HANGAR,
        "x86_64 (amd64)",
        "--hangar-binary arm64=PATH",
        "HANGAR_BINARY_SOURCE=build",
    ] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    assert!(
        !record.exists(),
        "an engine ran: {:?}",
        fs::read_to_string(&record)
    );
    assert!(!image_exists(&image), "a refused build tagged {image}");
}

#[test]
fn a_binary_for_another_architecture_is_refused_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let (bin, record) = recording_engines(dir.path(), false);
    let out = output(
        hangar_build(dir.path())
            .env("PATH", &bin)
            .args(["--engine", "buildah", "--platform", "linux/arm64"])
            .arg(format!("--hangar-binary=arm64={HANGAR}")),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let named = format!("{HANGAR} (from flag --hangar-binary) is x86_64 (amd64)");
    for needle in [
        named.as_str(),
        "given for arm64",
        "linux/arm64",
        "--hangar-binary arm64=PATH",
    ] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    // Not an ELF at all.
    let script = dir.path().join("hangar.sh");
    fs::write(&script, "#!/bin/sh\n").unwrap();
    let out = output(
        hangar_build(dir.path())
            .env("PATH", &bin)
            .args(["--engine", "buildah", "--hangar-binary"])
            .arg(&script),
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("{} is not an ELF executable", script.display())),
        "{err}"
    );
    assert!(!record.exists(), "an engine ran");
}

/// `hangar build --dry-run` for `engine` and `platform`, with engines from `bin` and an
/// aarch64 binary given for arm64.
fn dry_run(dir: &Path, bin: &Path, engine: &str, platform: &str) -> Output {
    let arm = fake_aarch64(dir);
    output(
        hangar_build(dir)
            .env("PATH", bin)
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .env_remove("BUILDAH_ISOLATION")
            .args(["--dry-run", "--engine", engine, "--platform", platform])
            .arg(format!("--hangar-binary=arm64={}", arm.display())),
    )
}

fn command_of(out: &Output) -> String {
    assert!(out.status.success(), "{}", both(out));
    text(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("command: "))
        .unwrap_or_else(|| panic!("no command line in {}", both(out)))
        .to_owned()
}

#[test]
fn dry_run_shows_the_platform_for_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let (buildx_bin, _) = recording_engines(&dir.path().join("buildx"), true);
    let (plain_bin, _) = recording_engines(&dir.path().join("plain"), false);
    for (engine, bin, platform, start) in [
        (
            "buildah",
            &plain_bin,
            "linux/arm64",
            "buildah bud --layers --force-rm --format docker --platform linux/arm64 ",
        ),
        (
            "podman",
            &plain_bin,
            "linux/arm64",
            "podman build --layers --force-rm --format docker --platform linux/arm64 ",
        ),
        (
            "docker",
            &buildx_bin,
            "linux/amd64,linux/arm64",
            "docker buildx build --load --progress=plain --platform linux/amd64,linux/arm64 ",
        ),
        (
            "docker",
            &plain_bin,
            "linux/arm64",
            "DOCKER_BUILDKIT=1 docker build --progress=plain --platform linux/arm64 ",
        ),
    ] {
        let out = dry_run(dir.path(), bin, engine, platform);
        let cmd = command_of(&out);
        assert!(cmd.starts_with(start), "{engine}: {cmd}");
        let stdout = text(&out.stdout);
        assert!(stdout.contains("  .hangar/arm64/hangar <- "), "{stdout}");
        assert_eq!(
            stdout.contains(&format!("  .hangar/amd64/hangar <- {HANGAR}")),
            platform.contains("amd64"),
            "{stdout}"
        );
    }
    // No --platform: no flag, the native binary only.
    let out = output(hangar_build(dir.path()).env("PATH", &plain_bin).args([
        "--dry-run",
        "--engine",
        "buildah",
    ]));
    assert!(!command_of(&out).contains("--platform"), "{}", both(&out));
    // A list for an engine that builds one platform at a time names the one that takes lists.
    for (engine, bin) in [
        ("buildah", &plain_bin),
        ("podman", &plain_bin),
        ("docker", &plain_bin),
    ] {
        let out = dry_run(dir.path(), bin, engine, "linux/amd64,linux/arm64");
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{engine}: {}", both(&out));
        assert!(err.contains("only docker buildx build"), "{engine}: {err}");
    }
}
