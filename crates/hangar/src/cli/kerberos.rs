//! `hangar kerberos`: keep a Kerberos ticket cache fresh from a keytab (the sidecar), and
//! `hangar kerberos check`, the probe. Command-line compatible with `airflow kerberos`
//! (positional principal, `-k/--keytab`, `-o/--one-time`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use hangar_kerberos::cache::WriteOptions;
use hangar_kerberos::log::{Format, Level, Logger};
use hangar_kerberos::schedule::Policy;
use hangar_kerberos::settings::{self, CliValues, Env, KerberosConfig, SettingsError};
use hangar_kerberos::{KerberosError, RunOptions, check};

#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Option<Sub>,
    #[command(flatten)]
    run: Box<RunArgs>,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// Exit 0 only if the cache holds a TGT valid for at least --min-remaining seconds (no KDC
    /// traffic). Exit codes: 10 no cache, 11 no TGT, 12 expired, 13 valid for too short.
    Check(CheckArgs),
}

#[derive(Debug, clap::Args)]
struct CheckArgs {
    /// Seconds the TGT must still be valid for.
    #[arg(long, value_name = "SECS", default_value_t = 0)]
    min_remaining: u64,
    /// The ticket cache (default: [kerberos] ccache, then KRB5CCNAME, then /tmp/airflow_krb5_ccache).
    #[arg(long, value_name = "NAME")]
    ccache: Option<String>,
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    /// Client principal, used as given (default: [kerberos] principal, with _HOST replaced by
    /// this host's fully qualified name).
    principal: Option<String>,
    /// Keytab (default: [kerberos] keytab).
    #[arg(short = 'k', long, value_name = "KEYTAB")]
    keytab: Option<String>,
    /// Obtain a ticket once and exit (for init containers): 0 on success, non-zero on failure.
    #[arg(short = 'o', long)]
    one_time: bool,
    /// The ticket cache to write (default: [kerberos] ccache, then KRB5CCNAME, then
    /// /tmp/airflow_krb5_ccache). FILE: caches are replaced atomically.
    #[arg(long, value_name = "NAME")]
    ccache: Option<String>,
    /// Exit on the first failure instead of retrying with backoff (like k5start -x).
    #[arg(long)]
    exit_on_error: bool,
    /// Exit cleanly (0) once this file exists (a sidecar's signal that the main container ended).
    #[arg(long, value_name = "PATH")]
    exit_when: Option<PathBuf>,
    /// Owner of the written cache (name or uid), so a worker with another uid can read it.
    #[arg(long, value_name = "USER")]
    cache_owner: Option<String>,
    /// Group of the written cache (name or gid).
    #[arg(long, value_name = "GROUP")]
    cache_group: Option<String>,
    /// Permission bits of the written cache, in octal (default 600), e.g. 640.
    #[arg(long, value_name = "MODE", value_parser = parse_mode)]
    cache_mode: Option<u32>,
    /// Leave out libkrb5's X-CACHECONF: entries (what Airflow's "1.8.1 workaround" achieves, for
    /// Java 6 readers).
    #[arg(long)]
    strip_cache_config: bool,
    /// Refresh when less than this many seconds of lifetime remain (default: a third of the
    /// ticket's lifetime).
    #[arg(long, value_name = "SECS")]
    margin: Option<u64>,
    /// Requested ticket lifetime in seconds (default: krb5.conf / KDC policy).
    #[arg(long, value_name = "SECS")]
    lifetime: Option<u32>,
    /// Requested renewable lifetime in seconds (default, as Airflow: reinit_frequency minutes,
    /// unless [kerberos] include_renewal_lifetime is false).
    #[arg(long, value_name = "SECS")]
    renew_lifetime: Option<u32>,
    /// Always re-initialise from the keytab; never renew the TGT.
    #[arg(long)]
    no_renew: bool,
    /// First retry delay after a failure, in seconds (doubles up to --retry-max, with jitter).
    #[arg(long, value_name = "SECS", default_value = "1", value_parser = parse_secs)]
    retry_initial: Duration,
    /// Longest retry delay, in seconds.
    #[arg(long, value_name = "SECS", default_value = "60", value_parser = parse_secs)]
    retry_max: Duration,
    /// Log line format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Logfmt)]
    log_format: LogFormat,
    /// Also log every retry and renewal fallback.
    #[arg(short, long)]
    verbose: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    /// key=value pairs.
    Logfmt,
    /// One JSON object per line.
    Json,
}

fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("{s:?} is not an octal mode such as 600 or 640"))
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    s.parse::<f64>()
        .ok()
        .filter(|x| x.is_finite() && *x > 0.0 && *x < 1e9)
        .map(Duration::from_secs_f64)
        .ok_or_else(|| format!("{s:?} is not a positive number of seconds"))
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let env: Env = std::env::vars().collect();
    let cfg = hangar_config::AirflowConfig::load(&env)
        .map_err(|e| exit_error(SettingsError::Config(e)))?;
    match args.command {
        Some(Sub::Check(c)) => run_check(&c, &cfg, &env),
        None => run_refresher(*args.run, &cfg, &env),
    }
}

fn run_check(args: &CheckArgs, cfg: &dyn KerberosConfig, env: &Env) -> anyhow::Result<ExitCode> {
    let cache = settings::resolve_ccache(args.ccache.as_deref(), cfg, env).map_err(exit_error)?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let outcome = check::check(&cache, args.min_remaining, now)
        .map_err(|e| exit_error(KerberosError::Load(e)))?;
    let line = outcome.describe(&cache);
    #[allow(clippy::print_stdout, clippy::print_stderr)]
    if outcome.exit_code() == 0 {
        println!("{line}");
    } else {
        eprintln!("hangar kerberos check: {line}");
    }
    Ok(ExitCode::from(outcome.exit_code()))
}

fn run_refresher(a: RunArgs, cfg: &dyn KerberosConfig, env: &Env) -> anyhow::Result<ExitCode> {
    let logger = Logger {
        min: if a.verbose { Level::Debug } else { Level::Info },
        format: match a.log_format {
            LogFormat::Logfmt => Format::Logfmt,
            LogFormat::Json => Format::Json,
        },
    };
    // A bad setting is a structured `giving_up` line too, as every later fatal error is.
    let opts = run_options(a, cfg, env, logger).map_err(|e| {
        logger.log(Level::Error, "giving_up", &[("reason", e.to_string())]);
        exit_error(e)
    })?;
    hangar_kerberos::run(&opts).map_err(exit_error)?;
    Ok(ExitCode::SUCCESS)
}

fn run_options(
    a: RunArgs,
    cfg: &dyn KerberosConfig,
    env: &Env,
    logger: Logger,
) -> Result<RunOptions, KerberosError> {
    let cli = CliValues {
        principal: a.principal,
        keytab: a.keytab,
        ccache: a.ccache,
        renew_lifetime: a.renew_lifetime,
        lifetime: a.lifetime,
    };
    let resolved = settings::resolve(&cli, cfg, env, &settings::fqdn)?;
    let owner = a
        .cache_owner
        .as_deref()
        .map(settings::user_id)
        .transpose()?;
    let group = a
        .cache_group
        .as_deref()
        .map(settings::group_id)
        .transpose()?;
    let policy = Policy {
        margin: a.margin,
        reinit_every: resolved.reinit_frequency,
        renew: !a.no_renew,
    };
    Ok(RunOptions {
        settings: resolved,
        one_time: a.one_time,
        exit_on_error: a.exit_on_error,
        exit_when: a.exit_when,
        write: WriteOptions {
            owner,
            group,
            mode: a.cache_mode,
            strip_config: a.strip_cache_config,
        },
        policy,
        retry_initial: a.retry_initial,
        retry_max: a.retry_max.max(a.retry_initial),
        logger,
    })
}

fn exit_error(e: impl Into<KerberosError>) -> anyhow::Error {
    super::exit_error(e.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_seconds() {
        assert_eq!(parse_mode("640"), Ok(0o640));
        assert_eq!(parse_mode("0o600"), Ok(0o600));
        assert!(parse_mode("999").is_err());
        assert_eq!(parse_secs("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_secs("-1").is_err());
    }
}
