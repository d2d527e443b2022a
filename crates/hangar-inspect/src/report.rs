//! The verdict of `hangar verify`: a table for people and JSON for CI.

use std::fmt::Write as _;

use serde::Serialize;

use crate::checks::Check;
use crate::config::Layer;

/// Everything `hangar verify` found about one image.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub image: String,
    pub engine: String,
    /// Every check passed.
    pub passed: bool,
    pub checks: Vec<Check>,
    /// Filesystem layers with content, bottom first.
    pub layers: Vec<Layer>,
    /// The layers' total uncompressed size in bytes.
    pub size: u64,
}

impl Report {
    #[must_use]
    pub fn new(image: &str, engine: &str, checks: Vec<Check>, layers: Vec<Layer>) -> Report {
        Report {
            image: image.to_owned(),
            engine: engine.to_owned(),
            passed: checks.iter().all(|c| c.passed),
            size: layers.iter().map(|l| l.size).sum(),
            checks,
            layers,
        }
    }

    /// The report as one JSON document.
    #[must_use]
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The checks, then the layers, as aligned text.
    #[must_use]
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{} ({})", self.image, self.engine);
        let width = self.checks.iter().map(|c| c.id.len()).max().unwrap_or(0);
        for c in &self.checks {
            let mark = if c.passed { "pass" } else { "FAIL" };
            let _ = writeln!(out, "  {mark}  {:width$}  {}: {}", c.id, c.title, c.detail);
        }
        let _ = writeln!(out, "layers ({} in all, bottom first):", human(self.size));
        for l in &self.layers {
            let _ = writeln!(out, "  {:>9}  {}", human(l.size), short(&l.created_by, 100));
        }
        let failed = self.checks.iter().filter(|c| !c.passed).count();
        if failed == 0 {
            let _ = writeln!(out, "all {} checks passed", self.checks.len());
        } else {
            let _ = writeln!(out, "{failed} of {} checks failed", self.checks.len());
        }
        out
    }
}

/// Bytes in the units `docker images` uses (powers of 1000).
#[must_use]
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["kB", "MB", "GB", "TB"];
    if bytes < 1000 {
        return format!("{bytes} B");
    }
    #[allow(clippy::cast_precision_loss)]
    let mut v = bytes as f64 / 1000.0;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// One line of at most `max` characters.
fn short(s: &str, max: usize) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() <= max {
        return one;
    }
    let cut: String = one.chars().take(max - 1).collect();
    format!("{cut}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(pass: bool) -> Report {
        Report::new(
            "my/airflow:1",
            "podman",
            vec![
                Check {
                    id: "default-user",
                    title: "default user 50000, GID 0",
                    passed: true,
                    detail: "USER \"50000\": uid 50000, gid 0".into(),
                },
                Check {
                    id: "pip-check",
                    title: "`pip check` finds no broken requirement",
                    passed: pass,
                    detail: "x".into(),
                },
            ],
            vec![
                Layer {
                    size: 297_450_496,
                    created_by: "/bin/sh".into(),
                },
                Layer {
                    size: 512,
                    created_by: "RUN   a\n  b".into(),
                },
            ],
        )
    }

    #[test]
    fn the_table_names_each_check_and_layer() {
        let t = report(false).table();
        assert!(
            t.contains("  pass  default-user  default user 50000, GID 0: USER \"50000\""),
            "{t}"
        );
        assert!(t.contains("  FAIL  pip-check     `pip check`"), "{t}");
        assert!(t.contains("layers (297.5 MB in all, bottom first):"), "{t}");
        assert!(t.contains("      512 B  RUN a b\n"), "{t}");
        assert!(t.ends_with("1 of 2 checks failed\n"), "{t}");
        assert!(report(true).table().ends_with("all 2 checks passed\n"));
    }

    #[test]
    fn the_json_carries_the_verdict() {
        let v: serde_json::Value = serde_json::from_str(&report(false).json()).unwrap();
        assert_eq!(v["passed"], false);
        assert_eq!(v["size"], 297_450_496 + 512);
        assert_eq!(v["checks"][1]["id"], "pip-check");
        assert_eq!(v["layers"][0]["created_by"], "/bin/sh");
    }

    #[test]
    fn sizes_read_like_the_engines() {
        assert_eq!(human(999), "999 B");
        assert_eq!(human(1_500), "1.5 kB");
        assert_eq!(human(1_210_000_000), "1.2 GB");
        assert_eq!(short(&"x".repeat(5), 3), "xx…");
    }
}
