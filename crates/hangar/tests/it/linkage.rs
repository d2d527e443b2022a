//! The binary must load on any Debian 12 or newer base: at load time it may need only glibc
//! (and libgcc_s, which glibc itself depends on). Optional libraries such as libkrb5 are opened
//! at run time by the command that needs them.

use std::process::Command;

const ALLOWED: &[&str] = &[
    "libc.so.6",
    "libm.so.6",
    "libgcc_s.so.1",
    "libpthread.so.0",
    "libdl.so.2",
    "librt.so.1",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
];

#[test]
fn binary_needs_only_glibc_at_load_time() {
    let readelf = hangar_testkit::require_program("readelf", "binutils", &[]);
    let binary = env!("CARGO_BIN_EXE_hangar");
    let out = Command::new(readelf)
        .args(["--dynamic", "--wide", binary])
        .output()
        .expect("run readelf");
    assert!(out.status.success(), "readelf failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let needed: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| l.split('[').nth(1)?.split(']').next())
        .collect();
    assert!(
        needed.contains(&"libc.so.6"),
        "expected a dynamically linked glibc binary, NEEDED = {needed:?}"
    );
    let extra: Vec<&&str> = needed.iter().filter(|n| !ALLOWED.contains(n)).collect();
    assert!(
        extra.is_empty(),
        "hangar must not link these at load time (load them with dlopen instead): {extra:?}"
    );
}

#[test]
fn glibc_symbol_versions_fit_debian_12() {
    // Debian 12 ships glibc 2.36: no symbol may require a newer version.
    let objdump = hangar_testkit::require_program("objdump", "binutils", &[]);
    let binary = env!("CARGO_BIN_EXE_hangar");
    let out = Command::new(objdump)
        .args(["-T", binary])
        .output()
        .expect("run objdump");
    assert!(out.status.success(), "objdump failed: {out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut newest = (0u32, 0u32);
    for (start, _) in text.match_indices("GLIBC_") {
        let version: String = text[start + "GLIBC_".len()..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
        let v = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
        newest = newest.max(v);
    }
    assert!(
        newest > (2, 0),
        "no GLIBC_ symbol versions found in {binary}"
    );
    assert!(
        newest <= (2, 36),
        "hangar needs glibc {}.{}, newer than Debian 12's 2.36",
        newest.0,
        newest.1
    );
}
