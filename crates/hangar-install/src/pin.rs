//! Keeping the base image's Airflow when an extension installs requirements: a requirement
//! that names Airflow with a version the base does not have is refused before pip runs, and
//! pip's dry-run report is read to find a requirement that would pull another Airflow in.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

pub use crate::extras::normalize;

/// The distributions that make up Airflow: `apache-airflow` (with `apache-airflow-core` on
/// Airflow 3, released in lockstep).
pub const AIRFLOW_DISTRIBUTIONS: &[&str] = &["apache-airflow", "apache-airflow-core"];

/// A requirement that would change the base image's Airflow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{source_file} would change Airflow from {base} to {wanted}: asked for by {asked_by}. An extension keeps \
     the base image's Airflow; remove that requirement or pin it to a release that supports Airflow {base}, \
     or extend an image with the Airflow you need"
)]
pub struct AirflowChange {
    /// The requirements file (as the user knows it).
    pub source_file: String,
    pub base: String,
    /// The version or specifier that was asked for.
    pub wanted: String,
    /// The requirement(s) responsible, as written or as pip resolved them.
    pub asked_by: String,
}

/// The name of a requirement (`name[extras] spec ; marker`), normalised, and the rest.
pub(crate) fn split_requirement(req: &str) -> Option<(String, &str)> {
    let req = req.trim();
    let end = req
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(req.len());
    if end == 0 {
        return None;
    }
    Some((normalize(&req[..end]), &req[end..]))
}

/// Checks each requirement line of a requirements file that names an Airflow distribution:
/// its version specifier must allow `base`. Lines with an environment marker, a URL or a
/// specifier this check does not understand are left to pip's resolution.
///
/// # Errors
/// The first line whose specifier excludes `base`.
pub fn check_requirements(text: &str, base: &str, source_file: &str) -> Result<(), AirflowChange> {
    let Some(base_v) = Version::parse(base) else {
        return Ok(());
    };
    for raw in text.lines() {
        let line = raw.split(" #").next().unwrap_or("").trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
            continue;
        }
        let Some((name, rest)) = split_requirement(line) else {
            continue;
        };
        if !AIRFLOW_DISTRIBUTIONS.contains(&name.as_str())
            || rest.contains(';')
            || rest.contains('@')
        {
            continue;
        }
        let spec = match rest.trim_start().strip_prefix('[') {
            Some(r) => r.split_once(']').map_or("", |(_, s)| s),
            None => rest,
        }
        .trim();
        if spec.is_empty() {
            continue;
        }
        if allows(spec, &base_v) == Some(false) {
            return Err(AirflowChange {
                source_file: source_file.to_owned(),
                base: base.to_owned(),
                wanted: spec.to_owned(),
                asked_by: format!("the line `{line}`"),
            });
        }
    }
    Ok(())
}

/// What pip's installation report (`pip install --dry-run --report`, format version 1) says
/// it would install: name (normalised) → (version, requested by the user, names it requires).
type Planned = BTreeMap<String, (String, bool, Vec<String>)>;

fn planned(report: &str) -> Result<Planned, String> {
    let v: serde_json::Value =
        serde_json::from_str(report).map_err(|e| format!("pip's report is no JSON: {e}"))?;
    let items = v
        .get("install")
        .and_then(serde_json::Value::as_array)
        .ok_or("pip's report has no `install` list")?;
    let mut out = Planned::new();
    for item in items {
        let meta = item.get("metadata");
        let field = |k: &str| {
            meta.and_then(|m| m.get(k))
                .and_then(serde_json::Value::as_str)
        };
        let (Some(name), Some(version)) = (field("name"), field("version")) else {
            return Err("an entry of pip's report has no name or version".into());
        };
        let requested = item
            .get("requested")
            .and_then(serde_json::Value::as_bool)
            .unwrap_or(false);
        let requires = meta
            .and_then(|m| m.get("requires_dist"))
            .and_then(serde_json::Value::as_array)
            .map(|deps| {
                deps.iter()
                    .filter_map(serde_json::Value::as_str)
                    // Requirements behind an `extra ==` marker only apply when asked for; pip
                    // lists what it installs anyway, so following them only widens the search.
                    .filter_map(|d| split_requirement(d).map(|(n, _)| n))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(normalize(name), (version.to_owned(), requested, requires));
    }
    Ok(out)
}

/// Reads pip's dry-run report of the requirements: when it would install an Airflow
/// distribution at another version than `base`, names the requested requirements whose
/// dependencies (within the report) lead to it.
///
/// # Errors
/// Airflow would change (`Ok(Err)`), or the report cannot be read (`Err`).
pub fn check_report(
    report: &str,
    base: &str,
    source_file: &str,
) -> Result<Result<(), AirflowChange>, String> {
    let planned = planned(report)?;
    let changed: Vec<(&String, &String)> = AIRFLOW_DISTRIBUTIONS
        .iter()
        .filter_map(|d| planned.get_key_value(*d).map(|(k, v)| (k, &v.0)))
        .filter(|(_, version)| version.as_str() != base)
        .collect();
    let Some(&(_, wanted)) = changed.first() else {
        return Ok(Ok(()));
    };
    let targets: BTreeSet<&str> = changed.iter().map(|(n, _)| n.as_str()).collect();
    let mut asked_by = Vec::new();
    for (name, (version, requested, _)) in &planned {
        if *requested && leads_to(&planned, name, &targets) {
            asked_by.push(format!("{name}=={version}"));
        }
    }
    if asked_by.is_empty() {
        asked_by.push("a requirement pip could not trace".into());
    }
    Ok(Err(AirflowChange {
        source_file: source_file.to_owned(),
        base: base.to_owned(),
        wanted: wanted.clone(),
        asked_by: asked_by.join(", "),
    }))
}

/// True when `from` is one of `targets` or depends on one through the planned installs.
fn leads_to(planned: &Planned, from: &str, targets: &BTreeSet<&str>) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(n) = stack.pop() {
        if targets.contains(n.as_str()) {
            return true;
        }
        if !seen.insert(n.clone()) {
            continue;
        }
        if let Some((_, _, deps)) = planned.get(&n) {
            stack.extend(deps.iter().cloned());
        }
    }
    false
}

/// A release version (`3.1.0`, `2.10.5rc1`, `3.0.0.post1`); enough of PEP 440 to compare
/// Airflow's releases. Local versions and epochs are not handled (the check then stands aside).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Version {
    release: Vec<u64>,
    /// (0 = a, 1 = b, 2 = rc, n); `None` for a final release.
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
}

impl Version {
    fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        let s = s.strip_prefix('v').unwrap_or(&s);
        if s.contains(['!', '+']) {
            return None;
        }
        let end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let release: Vec<u64> = s[..end]
            .trim_end_matches('.')
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        let mut rest = s[end..].trim_start_matches(['.', '-', '_']);
        let mut v = Version {
            release,
            pre: None,
            post: None,
            dev: None,
        };
        for (tag, kind) in [("rc", 2u8), ("a", 0), ("b", 1), ("c", 2)] {
            if let Some(r) = rest.strip_prefix(tag) {
                let (n, r) = number(r);
                v.pre = Some((kind, n));
                rest = r.trim_start_matches(['.', '-', '_']);
                break;
            }
        }
        if let Some(r) = rest.strip_prefix("post") {
            let (n, r) = number(r);
            v.post = Some(n);
            rest = r.trim_start_matches(['.', '-', '_']);
        }
        if let Some(r) = rest.strip_prefix("dev") {
            let (n, r) = number(r);
            v.dev = Some(n);
            rest = r;
        }
        rest.is_empty().then_some(v)
    }

    fn release_cmp(&self, other: &Self) -> Ordering {
        let n = self.release.len().max(other.release.len());
        let at = |v: &Self, i: usize| v.release.get(i).copied().unwrap_or(0);
        (0..n)
            .map(|i| at(self, i).cmp(&at(other, i)))
            .find(|o| o.is_ne())
            .unwrap_or(Ordering::Equal)
    }
}

fn number(s: &str) -> (u64, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    (s[..end].parse().unwrap_or(0), &s[end..])
}

impl Ord for Version {
    fn cmp(&self, other: &Self) -> Ordering {
        // A dev release sorts before its pre-releases, which sort before the final release.
        let pre_key = |v: &Self| match (v.pre, v.post, v.dev) {
            (None, None, Some(_)) => (0u8, 0u8, 0u64),
            (Some((k, n)), _, _) => (1, k, n),
            _ => (2, 0, 0),
        };
        let post_key = |v: &Self| v.post.map_or(0, |p| p + 1);
        let dev_key = |v: &Self| v.dev.map_or(u64::MAX, |d| d);
        self.release_cmp(other)
            .then_with(|| pre_key(self).cmp(&pre_key(other)))
            .then_with(|| post_key(self).cmp(&post_key(other)))
            .then_with(|| dev_key(self).cmp(&dev_key(other)))
    }
}

impl PartialOrd for Version {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Whether a comma-separated specifier set allows `v`; `None` when a clause is not understood.
fn allows(spec: &str, v: &Version) -> Option<bool> {
    let mut all = true;
    for clause in spec.split(',').map(str::trim).filter(|c| !c.is_empty()) {
        let op_end = clause
            .find(|c: char| !matches!(c, '=' | '!' | '<' | '>' | '~'))
            .unwrap_or(clause.len());
        let (op, target) = (&clause[..op_end], clause[op_end..].trim());
        let ok = if let Some(prefix) = target.strip_suffix(".*") {
            let p = Version::parse(prefix)?;
            let matches =
                v.release.len() >= p.release.len() && v.release[..p.release.len()] == p.release[..];
            match op {
                "==" => matches,
                "!=" => !matches,
                _ => return None,
            }
        } else {
            let t = Version::parse(target)?;
            match op {
                "==" | "===" => v.cmp(&t).is_eq(),
                "!=" => v.cmp(&t).is_ne(),
                ">=" => v >= &t,
                "<=" => v <= &t,
                ">" => v > &t,
                "<" => v < &t,
                "~=" => {
                    if t.release.len() < 2 {
                        return None;
                    }
                    let prefix = &t.release[..t.release.len() - 1];
                    v >= &t
                        && v.release.len() >= prefix.len()
                        && v.release[..prefix.len()] == *prefix
                }
                _ => return None,
            }
        };
        all &= ok;
    }
    Some(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn versions_order_like_pep_440() {
        let ordered = [
            "3.0.0.dev1",
            "3.0.0a1",
            "3.0.0b2",
            "3.0.0rc1",
            "3.0.0",
            "3.0.0.post1",
            "3.0.1",
            "3.1",
        ];
        for w in ordered.windows(2) {
            assert!(v(w[0]) < v(w[1]), "{} < {}", w[0], w[1]);
        }
        assert_eq!(v("3.1").cmp(&v("3.1.0")), Ordering::Equal);
        assert!(Version::parse("1!2.0").is_none());
        assert!(Version::parse("2.0+local").is_none());
        assert!(Version::parse("abc").is_none());
    }

    #[test]
    fn specifiers() {
        let base = v("3.3.2");
        for (spec, want) in [
            ("==3.3.2", Some(true)),
            ("==3.1.0", Some(false)),
            (">=3.0,<4", Some(true)),
            (">3.3.2", Some(false)),
            ("<3", Some(false)),
            ("!=3.3.2", Some(false)),
            ("==3.3.*", Some(true)),
            ("==3.2.*", Some(false)),
            ("~=3.3", Some(true)),
            ("~=3.3.3", Some(false)),
            ("~=3", None),
            ("<=>3", None),
        ] {
            assert_eq!(allows(spec, &base), want, "{spec}");
        }
    }

    #[test]
    fn names_normalise() {
        assert_eq!(normalize("Apache_Airflow"), "apache-airflow");
        assert_eq!(normalize("apache.airflow--core"), "apache-airflow-core");
    }

    #[test]
    fn a_line_pinning_another_airflow_is_named() {
        let text = "# deps\r\npandas>=2\r\n--index-url https://example.invalid/simple\r\nApache-Airflow[celery] >= 3.4  # newer\r\n";
        let err = check_requirements(text, "3.3.2", "requirements.txt").unwrap_err();
        assert_eq!(err.wanted, ">= 3.4");
        assert!(
            err.asked_by.contains("Apache-Airflow[celery] >= 3.4"),
            "{err}"
        );
        let msg = err.to_string();
        assert!(
            msg.contains("requirements.txt would change Airflow from 3.3.2 to >= 3.4"),
            "{msg}"
        );
    }

    #[test]
    fn lines_that_keep_airflow_or_are_unclear_pass() {
        let text = "apache-airflow==3.3.2\napache-airflow-core>=3\napache-airflow==2.0; python_version<'3'\n\
                    apache-airflow @ https://example.invalid/a.whl\napache-airflow-providers-http==5.0\nrich\n";
        assert_eq!(
            check_requirements(text, "3.3.2", "requirements.txt"),
            Ok(())
        );
        assert_eq!(
            check_requirements("apache-airflow==1", "weird+1", "r"),
            Ok(())
        );
    }

    fn report(items: &[(&str, &str, bool, &[&str])]) -> String {
        let install: Vec<serde_json::Value> = items
            .iter()
            .map(|(n, v, requested, deps)| {
                serde_json::json!({
                    "requested": requested,
                    "metadata": {"name": n, "version": v, "requires_dist": deps},
                })
            })
            .collect();
        serde_json::json!({"version": "1", "install": install}).to_string()
    }

    #[test]
    fn a_report_upgrading_airflow_names_the_requested_package_behind_it() {
        let r = report(&[
            ("rich", "13.0", true, &[]),
            (
                "apache-airflow-providers-foo",
                "9.0",
                true,
                &["apache-airflow-bar>=1", "requests"],
            ),
            (
                "apache_airflow_bar",
                "1.0",
                false,
                &["apache-airflow>=3.4; extra == 'x'"],
            ),
            (
                "Apache-Airflow",
                "3.4.0",
                false,
                &["apache-airflow-core==3.4.0"],
            ),
            ("apache-airflow-core", "3.4.0", false, &[]),
        ]);
        let err = check_report(&r, "3.3.2", "requirements.txt")
            .unwrap()
            .unwrap_err();
        assert_eq!(err.wanted, "3.4.0");
        assert_eq!(err.asked_by, "apache-airflow-providers-foo==9.0");
    }

    #[test]
    fn a_report_keeping_airflow_passes_and_a_broken_one_is_an_error() {
        let r = report(&[
            ("rich", "13.0", true, &[]),
            ("apache-airflow", "3.3.2", false, &[]),
        ]);
        assert_eq!(check_report(&r, "3.3.2", "r").unwrap(), Ok(()));
        assert!(check_report("{", "3.3.2", "r").is_err());
        assert!(check_report("{\"install\": [{}]}", "3.3.2", "r").is_err());
        let direct = report(&[("apache-airflow", "3.1.0", true, &[])]);
        let err = check_report(&direct, "3.3.2", "r").unwrap().unwrap_err();
        assert_eq!(err.asked_by, "apache-airflow==3.1.0");
    }
}
