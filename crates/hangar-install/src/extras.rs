//! Extras resolution: `AIRFLOW_EXTRAS` + `ADDITIONAL_AIRFLOW_EXTRAS`, de-duplicated, minus the
//! client extras whose system libraries the build was told not to install.

use hangar_buildargs::parse_extras;

/// PEP 685 normalisation: lower case, runs of `-`, `_`, `.` become `-`.
pub fn normalize(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Which database clients the image gets; each `false` drops the matching extra.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clients {
    pub mysql: bool,
    pub postgres: bool,
    pub mssql: bool,
}

/// The effective extras list, in first-seen order, without duplicates (compared normalised).
pub fn resolve(
    extras: &str,
    additional: &str,
    clients: Clients,
) -> Result<Vec<String>, crate::InstallError> {
    let mut out: Vec<String> = Vec::new();
    for (arg, list) in [
        ("AIRFLOW_EXTRAS", extras),
        ("ADDITIONAL_AIRFLOW_EXTRAS", additional),
    ] {
        let names = parse_extras(list).map_err(|bad| crate::InstallError::BadArg {
            name: arg,
            problem: format!("`{bad}` is not an extra name"),
            fix: "use comma-separated names such as `postgres,celery,redis`",
        })?;
        for name in names {
            let norm = normalize(&name);
            let dropped = (!clients.mysql && norm == "mysql")
                || (!clients.postgres && norm == "postgres")
                || (!clients.mssql && norm == "microsoft-mssql");
            if !dropped && !out.iter().any(|e| normalize(e) == norm) {
                out.push(name);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: Clients = Clients {
        mysql: true,
        postgres: true,
        mssql: true,
    };

    #[test]
    fn merges_and_dedupes() {
        let got = resolve(
            "postgres,celery,redis",
            "celery, slack,cncf.kubernetes",
            ALL,
        )
        .unwrap();
        assert_eq!(
            got,
            ["postgres", "celery", "redis", "slack", "cncf.kubernetes"]
        );
        let got = resolve("cncf-kubernetes", "cncf.kubernetes", ALL).unwrap();
        assert_eq!(got, ["cncf-kubernetes"]);
        assert!(resolve("", "", ALL).unwrap().is_empty());
    }

    #[test]
    fn disabled_clients_drop_their_extras() {
        let c = Clients {
            mysql: false,
            postgres: true,
            mssql: false,
        };
        let got = resolve("mysql,postgres,celery", "MySQL,microsoft.mssql", c).unwrap();
        assert_eq!(got, ["postgres", "celery"]);
        let c = Clients {
            mysql: true,
            postgres: false,
            mssql: true,
        };
        assert_eq!(resolve("postgres,mysql", "", c).unwrap(), ["mysql"]);
    }

    #[test]
    fn bad_names_are_reported_with_the_arg() {
        let err = resolve("postgres", "celery;x", ALL)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ADDITIONAL_AIRFLOW_EXTRAS") && err.contains("celery;x"),
            "{err}"
        );
        assert_eq!(normalize("Microsoft.Azure"), "microsoft-azure");
        assert_eq!(normalize("a__b"), "a-b");
    }
}
