//! Which program runs (bash / python / airflow) and which Airflow component the command
//! starts, which decides the DB and broker waits.

use std::ffi::{OsStr, OsString};

/// The Airflow components whose start the entrypoint prepares for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// `airflow scheduler`
    Scheduler,
    /// `airflow dag-processor`
    DagProcessor,
    /// `airflow triggerer`
    Triggerer,
    /// `airflow api-server` (Airflow 3)
    ApiServer,
    /// `airflow webserver` (Airflow 2)
    Webserver,
    /// `airflow celery worker`
    CeleryWorker,
    /// `airflow celery flower`
    CeleryFlower,
    /// `airflow worker` (Airflow 1.10 name kept by the seed)
    Worker,
    /// `airflow flower` (Airflow 1.10 name kept by the seed)
    Flower,
}

impl Component {
    /// Components that need the metadata database before they start.
    pub fn waits_for_db(self) -> bool {
        matches!(
            self,
            Self::Scheduler
                | Self::DagProcessor
                | Self::Triggerer
                | Self::ApiServer
                | Self::Webserver
                | Self::CeleryWorker
        )
    }

    /// Components that need the Celery broker (when the executor uses Celery).
    pub fn waits_for_broker(self) -> bool {
        matches!(
            self,
            Self::Scheduler | Self::CeleryWorker | Self::CeleryFlower | Self::Worker | Self::Flower
        )
    }

    /// Recognises the component from the words after `airflow`.
    pub fn from_words<'a>(mut words: impl Iterator<Item = &'a str>) -> Option<Self> {
        Some(match words.next()? {
            "scheduler" => Self::Scheduler,
            "dag-processor" => Self::DagProcessor,
            "triggerer" => Self::Triggerer,
            "api-server" => Self::ApiServer,
            "webserver" => Self::Webserver,
            "worker" => Self::Worker,
            "flower" => Self::Flower,
            "celery" => match words.next()? {
                "worker" => Self::CeleryWorker,
                "flower" => Self::CeleryFlower,
                _ => return None,
            },
            _ => return None,
        })
    }
}

/// What the entrypoint will run in the end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `/bin/bash ARGS` (first word `bash`).
    Bash(Vec<OsString>),
    /// `python ARGS` (first word `python`).
    Python(Vec<OsString>),
    /// `airflow ARGS` (a leading `airflow` dropped; no args at all → plain `airflow`).
    Airflow(Vec<OsString>),
}

/// The entrypoint's reading of its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatch {
    /// The final command.
    pub target: Target,
    /// The Airflow component it starts, also when wrapped in `bash -c "exec airflow X"`.
    pub component: Option<Component>,
}

impl Dispatch {
    /// Upstream's dispatch rules: exact words `bash` and `python` run those; a leading
    /// `airflow` is dropped; anything else is passed to `airflow`.
    pub fn parse(args: &[OsString]) -> Self {
        let first = args.first().map(OsString::as_os_str);
        let rest = || args.iter().skip(1).cloned().collect::<Vec<_>>();
        let (target, component) = match first.and_then(OsStr::to_str) {
            Some("bash") => (Target::Bash(rest()), wrapped_component(args)),
            Some("sh") => (Target::Airflow(args.to_vec()), wrapped_component(args)),
            Some("python") => (Target::Python(rest()), None),
            Some("airflow") => {
                let r = rest();
                let c = Component::from_words(r.iter().filter_map(|a| a.to_str()));
                (Target::Airflow(r), c)
            }
            _ => (
                Target::Airflow(args.to_vec()),
                Component::from_words(args.iter().filter_map(|a| a.to_str())),
            ),
        };
        Self { target, component }
    }

    /// The program and its arguments.
    pub fn command_line(&self) -> (OsString, Vec<OsString>) {
        match &self.target {
            Target::Bash(a) => ("/bin/bash".into(), a.clone()),
            Target::Python(a) => ("python".into(), a.clone()),
            Target::Airflow(a) => ("airflow".into(), a.clone()),
        }
    }

    /// True when the command is `airflow` with nothing after it (no args, or just `airflow`).
    pub fn is_bare_airflow(&self) -> bool {
        matches!(&self.target, Target::Airflow(a) if a.is_empty())
    }
}

/// `bash|sh -c "... airflow <component> ..."`: the component when the script runs one, with
/// or without `exec` in front (the word `airflow` must start the script or follow blanks).
fn wrapped_component(args: &[OsString]) -> Option<Component> {
    if args.get(1).map(OsString::as_os_str) != Some(OsStr::new("-c")) {
        return None;
    }
    let script = args.get(2)?.to_str()?;
    let words: Vec<&str> = script.split_whitespace().collect();
    words
        .iter()
        .enumerate()
        .filter(|(_, w)| **w == "airflow")
        .find_map(|(i, _)| Component::from_words(words[i + 1..].iter().copied()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(args: &[&str]) -> Dispatch {
        Dispatch::parse(&args.iter().map(OsString::from).collect::<Vec<_>>())
    }

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn dispatch_rules() {
        assert_eq!(d(&[]).target, Target::Airflow(vec![]));
        assert!(d(&[]).is_bare_airflow());
        assert!(d(&["airflow"]).is_bare_airflow());
        assert_eq!(
            d(&["bash", "-c", "echo hi"]).target,
            Target::Bash(os(&["-c", "echo hi"]))
        );
        assert_eq!(
            d(&["python", "--version"]).target,
            Target::Python(os(&["--version"]))
        );
        assert_eq!(
            d(&["python3", "-V"]).target,
            Target::Airflow(os(&["python3", "-V"]))
        );
        assert_eq!(
            d(&["airflow", "version"]).target,
            Target::Airflow(os(&["version"]))
        );
        assert_eq!(d(&["version"]).target, Target::Airflow(os(&["version"])));
        assert_eq!(
            d(&["bash"]).command_line(),
            (OsString::from("/bin/bash"), vec![])
        );
    }

    #[test]
    fn components() {
        use Component::*;
        for (args, want) in [
            (&["scheduler"][..], Some(Scheduler)),
            (&["airflow", "scheduler"][..], Some(Scheduler)),
            (&["dag-processor"][..], Some(DagProcessor)),
            (&["triggerer"][..], Some(Triggerer)),
            (&["api-server", "--port", "8080"][..], Some(ApiServer)),
            (&["webserver"][..], Some(Webserver)),
            (&["celery", "worker"][..], Some(CeleryWorker)),
            (&["airflow", "celery", "flower"][..], Some(CeleryFlower)),
            (&["worker"][..], Some(Worker)),
            (&["flower"][..], Some(Flower)),
            (&["celery", "stop"][..], None),
            (&["version"][..], None),
            (
                &["bash", "-c", "exec airflow scheduler"][..],
                Some(Scheduler),
            ),
            (
                &["bash", "-c", "airflow triggerer --skip-serve-logs"][..],
                Some(Triggerer),
            ),
            (
                &["sh", "-c", "set -x; exec  airflow\tcelery worker"][..],
                Some(CeleryWorker),
            ),
            (&["bash", "-c", "echo airflow"][..], None),
            (&["bash", "-c", "myairflow scheduler"][..], None),
            (&["bash", "scheduler"][..], None),
            (&["python", "-c", "airflow scheduler"][..], None),
        ] {
            assert_eq!(d(args).component, want, "{args:?}");
        }
        assert!(Scheduler.waits_for_db() && Scheduler.waits_for_broker());
        assert!(CeleryWorker.waits_for_db() && CeleryWorker.waits_for_broker());
        assert!(!CeleryFlower.waits_for_db() && CeleryFlower.waits_for_broker());
        assert!(ApiServer.waits_for_db() && !ApiServer.waits_for_broker());
    }
}
