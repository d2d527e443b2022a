//! Build options from three layers: command-line flags, `HANGAR_*` environment variables and a
//! `hangar.toml` file. Precedence is flag > env > file > default; every resolved value keeps
//! where it came from so `--dry-run` and error messages can name it.
//!
//! One list of fields (the `options!` macro below) defines the file keys (kebab-case), the flag
//! names (`--<key>`) and the environment variables (`HANGAR_<KEY>` in upper snake case), so the
//! three cannot drift apart.

mod choices;
mod origin;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use self::choices::{EngineChoice, ImageFormat, ProgressMode};
pub use self::origin::{Origin, Sourced};

/// Which layer a set of raw options belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layer {
    Flag,
    Env,
    File,
}

/// Combine two values, preferring `self` (the higher-precedence layer), the way uv and Cargo
/// layer their configuration.
pub trait Combine {
    #[must_use]
    fn combine(self, other: Self) -> Self;
}

impl<T> Combine for Option<T> {
    fn combine(self, other: Self) -> Self {
        self.or(other)
    }
}

/// Errors reading options from the environment or a configuration file.
#[derive(Debug, thiserror::Error)]
pub enum OptionsError {
    #[error(
        "cannot read the configuration file {path}: {source}. Check the path given with --config or HANGAR_CONFIG"
    )]
    ReadFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid configuration file {path}:\n{message}")]
    ParseFile { path: PathBuf, message: String },
    #[error("invalid value {value:?} for {input}: {reason}")]
    Invalid {
        input: String,
        value: String,
        reason: String,
    },
}

/// Parsing of a single environment variable value.
trait FromEnvValue: Sized {
    fn from_env_value(value: &str) -> Result<Self, String>;
}

impl FromEnvValue for String {
    fn from_env_value(value: &str) -> Result<Self, String> {
        Ok(value.to_owned())
    }
}

impl FromEnvValue for PathBuf {
    fn from_env_value(value: &str) -> Result<Self, String> {
        if value.is_empty() {
            return Err("expected a path, got an empty value".into());
        }
        Ok(PathBuf::from(value))
    }
}

impl FromEnvValue for bool {
    fn from_env_value(value: &str) -> Result<Self, String> {
        match value.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" | "" => Ok(false),
            _ => Err("expected true or false".into()),
        }
    }
}

macro_rules! impl_env_from_str {
    ($($t:ty),*) => {$(
        impl FromEnvValue for $t {
            fn from_env_value(value: &str) -> Result<Self, String> {
                value.parse()
            }
        }
    )*};
}
impl_env_from_str!(EngineChoice, ProgressMode, ImageFormat);

/// Relative paths in a configuration file are relative to the file's directory.
trait RebaseFromFile {
    fn rebase(self, _dir: &Path) -> Self;
}
impl RebaseFromFile for String {
    fn rebase(self, _dir: &Path) -> Self {
        self
    }
}
impl RebaseFromFile for bool {
    fn rebase(self, _dir: &Path) -> Self {
        self
    }
}
impl RebaseFromFile for EngineChoice {
    fn rebase(self, _dir: &Path) -> Self {
        self
    }
}
impl RebaseFromFile for ProgressMode {
    fn rebase(self, _dir: &Path) -> Self {
        self
    }
}
impl RebaseFromFile for ImageFormat {
    fn rebase(self, _dir: &Path) -> Self {
        self
    }
}
impl RebaseFromFile for PathBuf {
    fn rebase(self, dir: &Path) -> Self {
        if self.is_absolute() {
            self
        } else {
            dir.join(self)
        }
    }
}

fn rebase<T: RebaseFromFile>(v: T, dir: Option<&Path>) -> T {
    match dir {
        Some(d) => v.rebase(d),
        None => v,
    }
}

fn kebab(field: &str) -> String {
    field.replace('_', "-")
}

fn env_name(field: &str) -> String {
    format!("HANGAR_{}", field.to_ascii_uppercase())
}

macro_rules! options {
    ($( $(#[doc = $doc:literal])* $field:ident : $ty:ty ),* $(,)?) => {
        /// Options as written in one layer (a `hangar.toml`, the environment or the flags).
        /// Every field is optional; absent means "not set in this layer".
        #[derive(Debug, Clone, Default, PartialEq, Deserialize)]
        #[serde(rename_all = "kebab-case", deny_unknown_fields)]
        pub struct RawOptions {
            $( $(#[doc = $doc])* pub $field: Option<$ty>, )*
            /// Image names to tag the result with (`--tag`, repeatable).
            pub tag: Option<Vec<String>>,
            /// Extra build args, `NAME = "value"` (`--build-arg NAME=VALUE`).
            pub build_args: Option<BTreeMap<String, String>>,
            /// Arguments passed verbatim to the engine's build command (`--engine-arg`).
            pub engine_arg: Option<Vec<String>>,
            /// Prebuilt hangar binaries, `ARCH=PATH` or `PATH` (`--hangar-binary`, repeatable).
            pub hangar_binary: Option<Vec<String>>,
        }

        /// Options of all layers combined, each value with its origin.
        #[derive(Debug, Clone, Default, PartialEq)]
        pub struct BuildOptions {
            $( $(#[doc = $doc])* pub $field: Option<Sourced<$ty>>, )*
            pub tag: Option<Sourced<Vec<String>>>,
            /// Build args merged per name: a higher layer wins for the same name.
            pub build_args: BTreeMap<String, Sourced<String>>,
            pub engine_arg: Option<Sourced<Vec<String>>>,
            pub hangar_binary: Option<Sourced<Vec<String>>>,
        }

        impl RawOptions {
            /// Attaches origins to every set value. `file` is the configuration file for
            /// [`Layer::File`]; its directory anchors relative paths.
            #[must_use]
            pub fn into_layer(self, layer: Layer, file: Option<&Path>) -> BuildOptions {
                let origin = |field: &str| -> Origin {
                    match layer {
                        Layer::Flag => Origin::Flag(format!("--{}", kebab(field))),
                        Layer::Env => Origin::Env(env_name(field)),
                        Layer::File => Origin::File {
                            path: file.map(Path::to_path_buf).unwrap_or_default(),
                            key: kebab(field),
                        },
                    }
                };
                let dir = match (layer, file) {
                    (Layer::File, Some(f)) => f.parent().map(Path::to_path_buf),
                    _ => None,
                };
                BuildOptions {
                    $( $field: self.$field.map(|v| Sourced { value: rebase(v, dir.as_deref()), origin: origin(stringify!($field)) }), )*
                    tag: self.tag.map(|v| Sourced { value: v, origin: origin("tag") }),
                    build_args: self
                        .build_args
                        .unwrap_or_default()
                        .into_iter()
                        .map(|(k, v)| {
                            let o = match layer {
                                Layer::Flag => Origin::Flag(format!("--build-arg {k}")),
                                Layer::Env => Origin::Env(env_name("build_arg")),
                                Layer::File => Origin::File {
                                    path: file.map(Path::to_path_buf).unwrap_or_default(),
                                    key: format!("build-args.{k}"),
                                },
                            };
                            (k, Sourced { value: v, origin: o })
                        })
                        .collect(),
                    engine_arg: self.engine_arg.map(|v| Sourced { value: v, origin: origin("engine_arg") }),
                    hangar_binary: self.hangar_binary.map(|v| Sourced {
                        value: v.into_iter().map(|b| rebase_binary(b, dir.as_deref())).collect(),
                        origin: origin("hangar_binary"),
                    }),
                }
            }

            /// Reads the `HANGAR_*` variables from `vars` (pass `std::env::vars_os()` in the
            /// program; tests pass their own list).
            ///
            /// # Errors
            /// A variable whose value does not parse, named with the accepted values.
            pub fn from_env<I, K, V>(vars: I) -> Result<Self, OptionsError>
            where
                I: IntoIterator<Item = (K, V)>,
                K: AsRef<std::ffi::OsStr>,
                V: AsRef<std::ffi::OsStr>,
            {
                let vars: BTreeMap<String, String> = vars
                    .into_iter()
                    .filter_map(|(k, v)| {
                        let k = k.as_ref().to_str()?.to_owned();
                        let v = v.as_ref().to_str()?.to_owned();
                        k.starts_with("HANGAR_").then_some((k, v))
                    })
                    .collect();
                let mut raw = RawOptions::default();
                $(
                    let name = env_name(stringify!($field));
                    if let Some(v) = vars.get(&name) {
                        raw.$field = Some(<$ty as FromEnvValue>::from_env_value(v).map_err(|reason| {
                            OptionsError::Invalid { input: format!("environment variable {name}"), value: v.clone(), reason }
                        })?);
                    }
                )*
                if let Some(v) = vars.get("HANGAR_TAG") {
                    raw.tag = Some(split_list(v));
                }
                if let Some(v) = vars.get("HANGAR_ENGINE_ARG") {
                    raw.engine_arg = Some(v.split_whitespace().map(str::to_owned).collect());
                }
                if let Some(v) = vars.get("HANGAR_HANGAR_BINARY") {
                    raw.hangar_binary = Some(v.split_whitespace().map(str::to_owned).collect());
                }
                if let Some(v) = vars.get("HANGAR_BUILD_ARG") {
                    let mut map = BTreeMap::new();
                    for line in v.lines().map(str::trim).filter(|l| !l.is_empty()) {
                        let (k, val) = parse_build_arg(line).map_err(|reason| OptionsError::Invalid {
                            input: "environment variable HANGAR_BUILD_ARG".into(),
                            value: line.to_owned(),
                            reason,
                        })?;
                        map.insert(k, val);
                    }
                    raw.build_args = Some(map);
                }
                Ok(raw)
            }
        }

        impl Combine for BuildOptions {
            fn combine(self, other: Self) -> Self {
                let mut build_args = other.build_args;
                build_args.extend(self.build_args);
                BuildOptions {
                    $( $field: self.$field.combine(other.$field), )*
                    tag: self.tag.combine(other.tag),
                    build_args,
                    engine_arg: self.engine_arg.combine(other.engine_arg),
                    hangar_binary: self.hangar_binary.combine(other.hangar_binary),
                }
            }
        }

        /// Every environment variable hangar build reads, for the documentation and `--help`.
        #[must_use]
        pub fn env_variables() -> Vec<String> {
            let mut v = vec![$( env_name(stringify!($field)), )*];
            v.extend(["HANGAR_TAG", "HANGAR_BUILD_ARG", "HANGAR_ENGINE_ARG", "HANGAR_HANGAR_BINARY"].map(str::to_owned));
            v
        }
    };
}

options! {
    /// Container engine: auto, docker, podman or buildah.
    engine: EngineChoice,
    /// Python version X.Y (sets PYTHON_MAJOR_MINOR_VERSION and the default base image).
    python: String,
    /// Base image with python3 (PYTHON_BASE_IMAGE).
    python_base_image: String,
    /// Airflow version installed from PyPI.
    install_airflow_version: String,
    /// Git reference (tag or branch) of apache/airflow installed from a GitHub archive.
    install_airflow_reference: String,
    /// Local Airflow source tree, sdist or wheel, or a URL to an archive.
    airflow_sources: String,
    /// Airflow extras (AIRFLOW_EXTRAS), replacing the default list.
    extras: String,
    /// Extras added to the default list (ADDITIONAL_AIRFLOW_EXTRAS).
    additional_extras: String,
    /// Extra Python requirements (ADDITIONAL_PYTHON_DEPS).
    additional_python_deps: String,
    /// Extra apt packages for the build stage (ADDITIONAL_DEV_APT_DEPS).
    additional_dev_apt_deps: String,
    /// Extra apt packages for the final image (ADDITIONAL_RUNTIME_APT_DEPS).
    additional_runtime_apt_deps: String,
    /// Command run before the build stage's apt install (DEV_APT_COMMAND).
    dev_apt_command: String,
    /// Command run before the final stage's apt install (RUNTIME_APT_COMMAND).
    runtime_apt_command: String,
    /// Leave out the MySQL client and the mysql extra (INSTALL_MYSQL_CLIENT=false).
    disable_mysql_client_installation: bool,
    /// Do not pre-cache pip packages (AIRFLOW_PRE_CACHED_PIP_PACKAGES=false).
    disable_pip_cache: bool,
    /// Install the wheels found in the context files folder (air-gapped builds).
    add_local_pip_wheels: bool,
    /// Constraints file: a URL, a local file (copied into the context) or `none`.
    constraints_location: String,
    /// CA bundle for apt and pip in the build stages (a build secret).
    ca_bundle: PathBuf,
    /// apt sources read instead of the base image's Debian sources in the apt steps (a
    /// build secret).
    apt_sources: PathBuf,
    /// Keep the apt sources file as the final image's apt sources
    /// (INSTALL_APT_SOURCES_IN_IMAGE=true); refused when it holds a credential.
    apt_sources_in_image: bool,
    /// pip.conf for a private index (a build secret).
    pip_conf: PathBuf,
    /// .netrc with index credentials (a build secret).
    netrc: PathBuf,
    /// Package index URL for pip and uv, which may carry a token (a build secret).
    pip_index_url: String,
    /// Extra package index URLs for pip and uv, space-separated (a build secret).
    pip_extra_index_url: String,
    /// Folder copied to docker-context-files/ (wheels, constraints, requirements).
    context_files: PathBuf,
    /// A Dockerfile to build instead of hangar's own.
    dockerfile: PathBuf,
    /// Stage to build (default: the last one).
    target: String,
    /// Progress display: auto, plain or tty.
    progress: ProgressMode,
    /// Image format for buildah and podman: docker (default) or oci.
    format: ImageFormat,
    /// Storage driver passed to buildah or podman (e.g. vfs).
    storage_driver: String,
    /// Target platform(s): linux/amd64, linux/arm64, or a comma list (docker buildx only).
    platform: String,
    /// Build FROM this existing Airflow image (the extend route); `[extend] image = …` in a file.
    extend: ExtendImage,
    /// The project folder of the extend route (packages.txt, requirements.txt, dags/, plugins/,
    /// include/); default: the configuration file's folder, else the current one.
    project: PathBuf,
    /// Import every DAG file in the built image and fail the build on an import error
    /// (default: on for the extend route, off for the customize route).
    check_dags: bool,
}

/// The image the extend route builds FROM: `extend = "IMAGE"` or `[extend] image = "IMAGE"`
/// in a file, `--extend IMAGE`, `HANGAR_EXTEND`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtendImage(pub String);

impl<'de> Deserialize<'de> for ExtendImage {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Name(String),
            Table { image: String },
        }
        match Repr::deserialize(d) {
            Ok(Repr::Name(image) | Repr::Table { image }) => Ok(ExtendImage(image)),
            Err(_) => Err(serde::de::Error::custom(
                "expected `extend = \"IMAGE\"` or an [extend] table with `image = \"IMAGE\"`",
            )),
        }
    }
}

impl std::fmt::Display for ExtendImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromEnvValue for ExtendImage {
    fn from_env_value(value: &str) -> Result<Self, String> {
        Ok(ExtendImage(value.to_owned()))
    }
}

impl RebaseFromFile for ExtendImage {
    fn rebase(self, _dir: &Path) -> Self {
        self
    }
}

/// A `--hangar-binary` value from a configuration file: a relative path is relative to the
/// file's directory (a value that does not parse is kept as is, and refused later).
fn rebase_binary(value: String, dir: Option<&Path>) -> String {
    let Some(dir) = dir else { return value };
    match value.parse::<crate::platform::HangarBinary>() {
        Ok(mut b) if b.path.is_relative() => {
            b.path = dir.join(&b.path);
            b.to_string()
        }
        _ => value,
    }
}

/// Splits a list given as one string on commas and whitespace.
fn split_list(v: &str) -> Vec<String> {
    v.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Parses `NAME=VALUE` (the value may be empty or contain `=`).
///
/// # Errors
/// A text without `=` or with a name that is not a valid build-arg name.
pub fn parse_build_arg(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| "expected NAME=VALUE, e.g. AIRFLOW_UID=50000".to_owned())?;
    let valid = !k.is_empty()
        && !k.starts_with(|c: char| c.is_ascii_digit())
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(format!(
            "{k:?} is not a build-arg name (letters, digits and _ only, not starting with a digit)"
        ));
    }
    Ok((k.to_owned(), v.to_owned()))
}

/// Reads a `hangar.toml` file.
///
/// # Errors
/// The file cannot be read, is not TOML, or has a key hangar does not know (the parser's
/// message points at the line and lists the known keys).
pub fn read_file(path: &Path) -> Result<RawOptions, OptionsError> {
    let text = std::fs::read_to_string(path).map_err(|source| OptionsError::ReadFile {
        path: path.to_path_buf(),
        source,
    })?;
    parse_file(&text, path)
}

/// Parses the text of a `hangar.toml` (see [`read_file`]).
///
/// # Errors
/// As [`read_file`].
pub fn parse_file(text: &str, path: &Path) -> Result<RawOptions, OptionsError> {
    toml::from_str(text).map_err(|e| OptionsError::ParseFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Combines the three layers: flags over environment over file.
#[must_use]
pub fn layered(
    flags: RawOptions,
    env: RawOptions,
    file: Option<(RawOptions, &Path)>,
) -> BuildOptions {
    let file = file
        .map(|(raw, path)| raw.into_layer(Layer::File, Some(path)))
        .unwrap_or_default();
    flags
        .into_layer(Layer::Flag, None)
        .combine(env.into_layer(Layer::Env, None).combine(file))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extend_image_is_a_key_or_a_table() {
        let path = Path::new("/p/hangar.toml");
        let table = parse_file(
            "check-dags = false\n[extend]\nimage = \"my/airflow:3\"\n",
            path,
        )
        .unwrap();
        assert_eq!(table.extend, Some(ExtendImage("my/airflow:3".into())));
        assert_eq!(table.check_dags, Some(false));
        let key = parse_file("extend = \"my/airflow:3\"\n", path).unwrap();
        assert_eq!(key.extend, table.extend);
        let err = parse_file("[extend]\nimgae = \"x\"\n", path)
            .unwrap_err()
            .to_string();
        assert!(err.contains("[extend] table with `image"), "{err}");
        let o = layered(
            RawOptions::default(),
            RawOptions::default(),
            Some((key, path)),
        );
        assert_eq!(
            o.extend.unwrap().origin.to_string(),
            "`extend` in /p/hangar.toml"
        );
    }

    #[test]
    fn flag_beats_env_beats_file() {
        let file = parse_file(
            "python = \"3.10\"\nextras = \"celery\"\ntarget = \"main\"\n[build-args]\nA = \"file\"\nB = \"file\"\n",
            Path::new("/cfg/hangar.toml"),
        )
        .unwrap();
        let env = RawOptions::from_env([
            ("HANGAR_PYTHON", "3.11"),
            ("HANGAR_EXTRAS", "postgres"),
            ("HANGAR_BUILD_ARG", "B=env\nC=env"),
            ("PATH", "/bin"),
        ])
        .unwrap();
        let flags = RawOptions {
            python: Some("3.12".into()),
            build_args: Some(BTreeMap::from([("C".into(), "flag".into())])),
            ..RawOptions::default()
        };
        let o = layered(flags, env, Some((file, Path::new("/cfg/hangar.toml"))));
        let python = o.python.unwrap();
        assert_eq!(python.value, "3.12");
        assert_eq!(python.origin, Origin::Flag("--python".into()));
        let extras = o.extras.unwrap();
        assert_eq!(extras.value, "postgres");
        assert_eq!(extras.origin, Origin::Env("HANGAR_EXTRAS".into()));
        let target = o.target.unwrap();
        assert_eq!(target.value, "main");
        assert_eq!(target.origin.to_string(), "`target` in /cfg/hangar.toml");
        let args: Vec<_> = o
            .build_args
            .iter()
            .map(|(k, v)| (k.as_str(), v.value.as_str()))
            .collect();
        assert_eq!(args, [("A", "file"), ("B", "env"), ("C", "flag")]);
    }

    #[test]
    fn unknown_file_key_is_refused_with_its_line() {
        let err = parse_file("pyhton = \"3.12\"\n", Path::new("hangar.toml")).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("unknown field `pyhton`"), "{msg}");
        assert!(msg.contains("hangar.toml"), "{msg}");
    }

    #[test]
    fn file_paths_are_relative_to_the_file() {
        let file = parse_file(
            "ca-bundle = \"certs/ca.pem\"\ncontext-files = \"/abs/files\"\n",
            Path::new("/proj/hangar.toml"),
        )
        .unwrap();
        let o = layered(
            RawOptions::default(),
            RawOptions::default(),
            Some((file, Path::new("/proj/hangar.toml"))),
        );
        assert_eq!(
            o.ca_bundle.unwrap().value,
            PathBuf::from("/proj/certs/ca.pem")
        );
        assert_eq!(o.context_files.unwrap().value, PathBuf::from("/abs/files"));
    }

    #[test]
    fn bad_env_value_names_the_variable() {
        let err = RawOptions::from_env([("HANGAR_ENGINE", "kaniko")]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("HANGAR_ENGINE") && msg.contains("kaniko") && msg.contains("buildah"),
            "{msg}"
        );
        let err = RawOptions::from_env([("HANGAR_DISABLE_PIP_CACHE", "maybe")]).unwrap_err();
        assert!(err.to_string().contains("HANGAR_DISABLE_PIP_CACHE"));
    }

    #[test]
    fn env_lists() {
        let raw = RawOptions::from_env([
            ("HANGAR_TAG", "a:1, b:2"),
            ("HANGAR_ENGINE_ARG", "--jobs 2"),
            ("HANGAR_DISABLE_MYSQL_CLIENT_INSTALLATION", "1"),
        ])
        .unwrap();
        assert_eq!(raw.tag.unwrap(), ["a:1", "b:2"]);
        assert_eq!(raw.engine_arg.unwrap(), ["--jobs", "2"]);
        assert_eq!(raw.disable_mysql_client_installation, Some(true));
    }

    #[test]
    fn build_arg_syntax() {
        assert_eq!(
            parse_build_arg("A=b=c").unwrap(),
            ("A".into(), "b=c".into())
        );
        assert_eq!(parse_build_arg("A=").unwrap(), ("A".into(), String::new()));
        assert!(parse_build_arg("A").unwrap_err().contains("NAME=VALUE"));
        assert!(parse_build_arg("1A=x").is_err());
        assert!(parse_build_arg("A-B=x").is_err());
    }

    #[test]
    fn env_variable_list_is_complete() {
        let vars = env_variables();
        assert!(vars.contains(&"HANGAR_INSTALL_AIRFLOW_VERSION".to_owned()));
        assert!(vars.contains(&"HANGAR_STORAGE_DRIVER".to_owned()));
        assert!(vars.contains(&"HANGAR_PLATFORM".to_owned()));
        assert!(vars.contains(&"HANGAR_HANGAR_BINARY".to_owned()));
    }

    #[test]
    fn hangar_binaries_from_every_layer() {
        let file = parse_file(
            "platform = \"linux/arm64\"\nhangar-binary = [\"arm64=bin/hangar\", \"/abs/hangar\"]\n",
            Path::new("/proj/hangar.toml"),
        )
        .unwrap();
        let o = layered(
            RawOptions::default(),
            RawOptions::default(),
            Some((file.clone(), Path::new("/proj/hangar.toml"))),
        );
        assert_eq!(o.platform.unwrap().value, "linux/arm64");
        assert_eq!(
            o.hangar_binary.unwrap().value,
            ["arm64=/proj/bin/hangar", "/abs/hangar"]
        );
        let env = RawOptions::from_env([("HANGAR_HANGAR_BINARY", "amd64=/a arm64=/b")]).unwrap();
        let o = layered(
            RawOptions::default(),
            env,
            Some((file, Path::new("/proj/hangar.toml"))),
        );
        let b = o.hangar_binary.unwrap();
        assert_eq!(b.value, ["amd64=/a", "arm64=/b"]);
        assert_eq!(b.origin, Origin::Env("HANGAR_HANGAR_BINARY".into()));
    }
}
