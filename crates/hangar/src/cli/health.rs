//! `hangar health scheduler|triggerer|dag-processor|api-server|webserver`: liveness and
//! readiness probes for compose and Kubernetes that start no Python. Prints one line; exit 0
//! when healthy, 1 when not (or when the metadata database cannot be read), 64 for bad input.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use hangar_entrypoint::env::ChildEnv;
use hangar_health::hostname::RealHostNames;
use hangar_health::job::{self, Component, Host, JobQuery};

use super::exit_error;

#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    component: Sub,
}

#[derive(Debug, clap::Subcommand)]
enum Sub {
    /// A running SchedulerJob with a heartbeat newer than [scheduler]
    /// scheduler_health_check_threshold (as `airflow jobs check --job-type SchedulerJob`).
    Scheduler(JobArgs),
    /// A running TriggererJob with a heartbeat newer than [triggerer]
    /// triggerer_health_check_threshold.
    Triggerer(JobArgs),
    /// A running DagProcessorJob with a heartbeat newer than [dag_processor]
    /// health_check_threshold (Airflow 3.2+; before, 2.1 × [scheduler] job_heartbeat_sec).
    DagProcessor(JobArgs),
    /// The Airflow 3 api-server answers 200 on /api/v2/monitor/health.
    ApiServer(HttpArgs),
    /// The Airflow 2 webserver answers 200 on /health.
    Webserver(HttpArgs),
}

#[derive(Debug, clap::Args)]
struct JobArgs {
    /// Only jobs on this host, named as Airflow's [core] hostname_callable names it.
    #[arg(long, conflicts_with = "hostname")]
    local: bool,
    /// Only jobs on this host.
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
    /// Look at the N most recent running jobs (0: all), as `airflow jobs check --limit`.
    #[arg(long, value_name = "N", default_value_t = 1)]
    limit: usize,
    /// Healthy with several alive jobs too (needs --limit above 1, or 0).
    #[arg(long)]
    allow_multiple: bool,
}

#[derive(Debug, clap::Args)]
struct HttpArgs {
    /// The health endpoint (default: http://127.0.0.1:PORT/… with PORT from
    /// AIRFLOW__API__PORT, or AIRFLOW__WEBSERVER__WEB_SERVER_PORT for the webserver, else 8080).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// Seconds to wait for the answer.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    timeout: f64,
}

pub(crate) fn run(args: Args) -> anyhow::Result<ExitCode> {
    let env = ChildEnv::from_process();
    let (healthy, message) = match args.component {
        Sub::Scheduler(a) => jobs(Component::Scheduler, a, &env)?,
        Sub::Triggerer(a) => jobs(Component::Triggerer, a, &env)?,
        Sub::DagProcessor(a) => jobs(Component::DagProcessor, a, &env)?,
        Sub::ApiServer(a) => http(a, &env, "AIRFLOW__API__PORT", "/api/v2/monitor/health")?,
        Sub::Webserver(a) => http(a, &env, "AIRFLOW__WEBSERVER__WEB_SERVER_PORT", "/health")?,
    };
    if healthy {
        println!("{message}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("hangar health: {message}");
        Ok(ExitCode::from(hangar_exit::code::FAILURE))
    }
}

fn jobs(component: Component, a: JobArgs, env: &ChildEnv) -> anyhow::Result<(bool, String)> {
    if a.allow_multiple && a.limit == 1 {
        anyhow::bail!(super::with_code(
            hangar_exit::code::BAD_INPUT,
            std::io::Error::other(
                "--allow-multiple needs --limit above 1, or 0 for no limit, as in `airflow jobs check`"
            )
        ));
    }
    let host = match (a.local, a.hostname) {
        (true, _) => Host::Local,
        (false, Some(h)) => Host::Named(h),
        (false, None) => Host::Any,
    };
    let query = JobQuery {
        component,
        host,
        limit: a.limit,
        allow_multiple: a.allow_multiple,
    };
    let v = job::check(&query, env, &RealHostNames, SystemTime::now()).map_err(exit_error)?;
    Ok((v.healthy, v.message))
}

fn http(a: HttpArgs, env: &ChildEnv, port_var: &str, path: &str) -> anyhow::Result<(bool, String)> {
    let url = a.url.unwrap_or_else(|| {
        let port = env.non_empty(port_var).unwrap_or("8080");
        format!("http://127.0.0.1:{port}{path}")
    });
    let timeout = Duration::try_from_secs_f64(a.timeout).unwrap_or(Duration::from_secs(5));
    let answer = hangar_health::http::check(&url, timeout).map_err(exit_error)?;
    Ok((answer.healthy, answer.message))
}
