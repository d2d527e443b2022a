//! Table tests of the SQLAlchemy URL parser, and no-panic properties.

use hangar_probe::dburl::{DbUrl, UrlError, redact};
use hangar_probe::target::Target;
use proptest::prelude::*;

struct Case {
    input: &'static str,
    drivername: &'static str,
    username: Option<&'static str>,
    password: Option<&'static str>,
    host: Option<&'static str>,
    port: Option<u32>,
    database: Option<&'static str>,
    query: &'static [(&'static str, &'static str)],
}

const fn case(input: &'static str, drivername: &'static str) -> Case {
    Case {
        input,
        drivername,
        username: None,
        password: None,
        host: None,
        port: None,
        database: None,
        query: &[],
    }
}

#[test]
fn sqlalchemy_grammar_cases() {
    let cases = [
        Case {
            username: Some("user"),
            password: Some("p@ss"),
            host: Some("host"),
            port: Some(5432),
            database: Some("db"),
            query: &[("sslmode", "require")],
            ..case(
                "postgresql+psycopg2://user:p%40ss@host:5432/db?sslmode=require",
                "postgresql+psycopg2",
            )
        },
        // An unencoded `@` in the password: SQLAlchemy splits at the first `@`.
        Case {
            username: Some("user"),
            password: Some("p"),
            host: Some("ss@host"),
            port: Some(5432),
            database: Some("db"),
            ..case("postgresql://user:p@ss@host:5432/db", "postgresql")
        },
        Case {
            database: Some("/abs/path/airflow.db"),
            ..case("sqlite:////abs/path/airflow.db", "sqlite")
        },
        Case {
            database: Some("relative/airflow.db"),
            ..case("sqlite:///relative/airflow.db", "sqlite")
        },
        case("sqlite://", "sqlite"),
        Case {
            database: Some(":memory:"),
            ..case("sqlite:///:memory:", "sqlite")
        },
        Case {
            username: Some("user"),
            password: Some("pa/ss"),
            database: Some("dbname"),
            query: &[("host", "/var/run/postgresql")],
            ..case(
                "postgresql+psycopg2://user:pa%2Fss@/dbname?host=/var/run/postgresql",
                "postgresql+psycopg2",
            )
        },
        Case {
            host: Some("h"),
            port: Some(99999),
            database: Some("db"),
            ..case("postgresql://h:99999/db", "postgresql")
        },
        Case {
            username: Some("user"),
            password: Some("pass"),
            host: Some("::1"),
            port: Some(3306),
            database: Some("airflow"),
            query: &[("charset", "utf8mb4")],
            ..case(
                "mysql+mysqldb://user:pass@[::1]:3306/airflow?charset=utf8mb4",
                "mysql+mysqldb",
            )
        },
        Case {
            username: Some("user"),
            password: Some("p ss"),
            host: Some("host"),
            ..case("postgresql://user:p ss@host", "postgresql")
        },
        Case {
            host: Some("h"),
            query: &[("a", "1"), ("a", "2"), ("driver", "ODBC Driver 17")],
            ..case(
                "mssql+pyodbc://h?a=1&a=2&b=&c&driver=ODBC+Driver+17",
                "mssql+pyodbc",
            )
        },
        // The password may contain `/`, `?` and `:`; it ends at the first `@`.
        Case {
            username: Some("u"),
            password: Some("a/b?c:d"),
            host: Some("h"),
            database: Some("d"),
            ..case("postgresql://u:a/b?c:d@h/d", "postgresql")
        },
        // Without a password, the last `@` before the first `:` or `/` ends the user name.
        Case {
            username: Some("me@corp"),
            host: Some("h"),
            port: Some(5432),
            ..case("postgresql://me@corp@h:5432", "postgresql")
        },
        Case {
            username: Some(""),
            host: Some("h"),
            ..case("postgresql://@h", "postgresql")
        },
        // Ports: whatever Python's int() accepts.
        Case {
            host: Some("h"),
            port: Some(5432),
            ..case("postgresql://h: 5_432 ", "postgresql")
        },
        Case {
            host: Some("h"),
            port: Some(5432),
            ..case("postgresql://h:+5432", "postgresql")
        },
        // Host is not decoded; user and database are.
        Case {
            username: Some("a b"),
            host: Some("h%41"),
            database: Some("d b"),
            ..case("redshift+psycopg2://a%20b@h%41/d%20b", "redshift+psycopg2")
        },
        // Text after the query on another line is ignored (re.match is not anchored at the end).
        Case {
            host: Some("h"),
            query: &[("a", "1")],
            ..case("postgresql://h?a=1\nb=2", "postgresql")
        },
        // An IPv6 host ends at its last `]`; trailing garbage is ignored like SQLAlchemy does.
        Case {
            host: Some("::1"),
            ..case("postgresql://[::1]x/db", "postgresql")
        },
    ];
    for c in cases {
        let u = DbUrl::parse(c.input).unwrap_or_else(|e| panic!("{:?}: {e}", c.input));
        assert_eq!(u.drivername, c.drivername, "{:?}", c.input);
        assert_eq!(u.username.as_deref(), c.username, "{:?}", c.input);
        assert_eq!(u.password.as_deref(), c.password, "{:?}", c.input);
        assert_eq!(u.host.as_deref(), c.host, "{:?}", c.input);
        assert_eq!(u.port, c.port, "{:?}", c.input);
        assert_eq!(u.database.as_deref(), c.database, "{:?}", c.input);
        let q: Vec<(&str, &str)> = u
            .query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(q, c.query, "{:?}", c.input);
    }
}

#[test]
fn backend_driver_and_query_value() {
    let u = DbUrl::parse("postgresql+psycopg2://h/db?a=1&a=2").unwrap();
    assert_eq!(u.backend(), "postgresql");
    assert_eq!(u.driver(), Some("psycopg2"));
    assert_eq!(u.query_value("a"), Some("1"));
    assert_eq!(u.query_value("b"), None);
    let u = DbUrl::parse("sqlite://").unwrap();
    assert_eq!(u.backend(), "sqlite");
    assert_eq!(u.driver(), None);
}

#[test]
fn rejected_inputs_name_the_problem_without_the_password() {
    for bad in [
        "",
        "postgresql",
        "postgresql:/h",
        "://h",
        " postgresql://h",
        "post gres://h",
    ] {
        let e = DbUrl::parse(bad).unwrap_err();
        assert!(matches!(e, UrlError::Syntax { .. }), "{bad:?}: {e:?}");
        assert!(e.to_string().contains("is not a database URL"), "{e}");
    }
    // Syntax error with a password inside.
    for bad in [
        "postgresql:/user:hunter2@h/db",
        "user:hunter2@h",
        "pg+x//u:hunter2@h",
    ] {
        let e = DbUrl::parse(bad).unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
    // Port errors: `user:pass` without `@host` makes the password the port.
    for bad in [
        "postgresql://user:hunter2",
        "postgresql://u:hunter2@h:port/db",
        "postgresql://u:hunter2@h:/db",
        "postgresql://u:hunter2@h:-1/db",
        "postgresql://u:hunter2@h:99999999999/db",
        "postgresql://u:hunter2@h:1__0/db",
        // No closing bracket: `[` is the host and `:1` the port.
        "postgresql://u:hunter2@[::1/db",
    ] {
        let e = DbUrl::parse(bad).unwrap_err();
        assert!(matches!(e, UrlError::InvalidPort { .. }), "{bad:?}: {e:?}");
        let shown = format!("{e} {e:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("port"), "{shown}");
    }
}

#[test]
fn redacted_and_debug_never_show_the_password() {
    let u = DbUrl::parse("postgresql+psycopg2://air%20flow:hunter2@[::1]:5432/air?sslmode=require")
        .unwrap();
    assert_eq!(
        u.redacted(),
        "postgresql+psycopg2://air%20flow:***@[::1]:5432/air?sslmode=require"
    );
    assert_eq!(u.to_string(), u.redacted());
    assert!(!format!("{u:?}").contains("hunter2"));
    let t = Target::for_database(&u).unwrap();
    assert!(!format!("{t:?} {}", t.describe()).contains("hunter2"));
    assert_eq!(
        t.describe(),
        "PostgreSQL at [::1]:5432 as user air flow, database air over TLS"
    );
    // The redacted form parses back to the same URL apart from the password.
    let back = DbUrl::parse(&u.redacted()).unwrap();
    assert_eq!(back.username, u.username);
    assert_eq!(back.host, u.host);
    assert_eq!(back.database, u.database);
    assert_eq!(back.query, u.query);
}

fn url_like() -> impl Strategy<Value = String> {
    let scheme = prop_oneof![
        Just("postgresql+psycopg2://".to_owned()),
        Just("mysql://".to_owned()),
        Just("sqlite:///".to_owned()),
        Just("redis://".to_owned()),
        "[a-z+_]{0,6}:{0,1}/{0,3}",
    ];
    let body = proptest::collection::vec(
        prop_oneof![
            "[a-z0-9]{1,4}",
            Just(":".to_owned()),
            Just("@".to_owned()),
            Just("/".to_owned()),
            Just("?".to_owned()),
            Just("&".to_owned()),
            Just("=".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just("%".to_owned()),
            Just("%40".to_owned()),
            Just("%C3".to_owned()),
            Just("+".to_owned()),
            Just(" ".to_owned()),
            Just("\n".to_owned()),
            Just("é".to_owned()),
            Just("_".to_owned()),
            Just("-".to_owned()),
        ],
        0..24,
    );
    (scheme, body).prop_map(|(s, b)| s + &b.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary strings never panic the parser, the redactor or the target builders.
    #[test]
    fn no_panic_on_arbitrary_strings(s in any::<String>()) {
        let _ = DbUrl::parse(&s);
        let _ = redact(&s);
        let _ = Target::from_url(&s);
        let _ = Target::for_broker(&s, &Default::default());
    }

    /// URL-shaped strings exercise the grammar's corners without panics.
    #[test]
    fn no_panic_on_url_like_strings(s in url_like()) {
        if let Ok(u) = DbUrl::parse(&s) {
            let _ = Target::for_database(&u);
            let _ = u.redacted();
        }
        let _ = redact(&s);
        let _ = Target::from_url(&s);
        let _ = Target::for_broker(&s, &Default::default());
    }

    /// Any password written percent-encoded comes back exactly and never appears in the
    /// redacted URL or in target descriptions.
    #[test]
    fn encoded_password_round_trips_and_is_hidden(pw in "[ -~]{6,20}", user in "[a-z]{1,8}") {
        let enc: String = pw.bytes().map(|b| format!("%{b:02X}")).collect();
        let raw = format!("postgresql://{user}:{enc}@db:5432/airflow");
        let u = DbUrl::parse(&raw).unwrap();
        prop_assert_eq!(u.password.as_deref(), Some(pw.as_str()));
        prop_assert_eq!(u.username.as_deref(), Some(user.as_str()));
        prop_assert!(!u.redacted().contains(&pw));
        let t = Target::for_database(&u).unwrap();
        let debug = format!("{t:?}");
        prop_assert!(!debug.contains(&pw));
    }

    /// `redact` hides a raw (unencoded) password, whatever URL punctuation it contains.
    #[test]
    fn redact_hides_raw_passwords(pw in "[!-~&&[^?#]]{6,20}", user in "[a-z]{1,8}") {
        let raw = format!("postgresql://{user}:{pw}@db:5432/airflow?sslmode=require");
        let shown = redact(&raw);
        prop_assert!(!shown.contains(&pw), "{}", shown);
        prop_assert!(shown.ends_with("db:5432/airflow?sslmode=require") || pw.contains('@'), "{}", shown);
    }
}
