//! An image's config and layers as the engine that holds it reports them: the command lines
//! (`docker image inspect`, `podman image inspect`, `buildah inspect --type image`, and the
//! engines' `history`) and the parsers of their JSON, each unit-tested on the engines' output.

use std::collections::BTreeMap;
use std::ffi::OsString;

use hangar_build::engine::{Engine, program_argv};
use serde::{Deserialize, Serialize};

use crate::error::VerifyError;

/// The parts of an image's config the checks read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageConfig {
    /// The image ID, `sha256:<hex>` (the digest of its config).
    pub id: String,
    /// `USER`, as written (empty: root).
    pub user: String,
    /// `ENV`, as `NAME=value` entries.
    pub env: Vec<String>,
    /// `ENTRYPOINT` in exec form (empty: none).
    pub entrypoint: Vec<String>,
    /// `CMD`.
    pub cmd: Vec<String>,
    /// `LABEL`s.
    pub labels: BTreeMap<String, String>,
}

impl ImageConfig {
    /// The value of `name` in the image's environment.
    #[must_use]
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env.iter().find_map(|e| {
            e.split_once('=')
                .filter(|(k, _)| *k == name)
                .map(|(_, v)| v)
        })
    }
}

/// One filesystem layer, bottom first: its uncompressed size and the instruction that made it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Layer {
    pub size: u64,
    pub created_by: String,
}

/// The config as Docker, podman and buildah spell it (the same names in all three).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RawConfig {
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    env: Option<Vec<String>>,
    #[serde(default)]
    entrypoint: Option<Vec<String>>,
    #[serde(default)]
    cmd: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
}

/// `sha256:<hex>` whether the engine prints the prefix (Docker) or not (podman, buildah).
fn image_id(id: &str) -> String {
    if id.is_empty() || id.contains(':') {
        id.to_owned()
    } else {
        format!("sha256:{id}")
    }
}

impl ImageConfig {
    fn from_raw(r: RawConfig, id: &str) -> Self {
        ImageConfig {
            id: image_id(id),
            user: r.user.unwrap_or_default(),
            env: r.env.unwrap_or_default(),
            entrypoint: r.entrypoint.unwrap_or_default(),
            cmd: r.cmd.unwrap_or_default(),
            labels: r.labels.unwrap_or_default(),
        }
    }
}

/// The engine's command that prints `image`'s config as JSON.
#[must_use]
pub fn inspect_argv(engine: Engine, storage_driver: Option<&str>, image: &str) -> Vec<OsString> {
    let mut a = program_argv(engine, storage_driver);
    match engine {
        Engine::Buildah => a.extend(["inspect", "--type", "image"].map(OsString::from)),
        Engine::Docker(_) | Engine::Podman => a.extend(["image", "inspect"].map(OsString::from)),
    }
    a.push(image.into());
    a
}

/// The engine's command that lists `image`'s layers with their sizes; buildah has none, its
/// `inspect` output carries them.
#[must_use]
pub fn history_argv(
    engine: Engine,
    storage_driver: Option<&str>,
    image: &str,
) -> Option<Vec<OsString>> {
    let mut a = program_argv(engine, storage_driver);
    match engine {
        Engine::Buildah => return None,
        Engine::Podman => {
            a.extend(["history", "--no-trunc", "--format", "json"].map(OsString::from))
        }
        Engine::Docker(_) => a.extend(
            [
                "history",
                "--no-trunc",
                "--human=false",
                "--format",
                "{{.Size}}\t{{.CreatedBy}}",
            ]
            .map(OsString::from),
        ),
    }
    a.push(image.into());
    Some(a)
}

fn bad(engine: Engine, what: &str, detail: impl std::fmt::Display) -> VerifyError {
    VerifyError::Unreadable {
        engine,
        what: what.to_owned(),
        detail: detail.to_string(),
    }
}

#[derive(Deserialize)]
struct DockerInspect {
    #[serde(rename = "Id", default)]
    id: String,
    #[serde(rename = "Config", default)]
    config: Option<RawConfig>,
}

#[derive(Deserialize)]
struct BuildahInspect {
    #[serde(rename = "FromImageID", default)]
    id: String,
    #[serde(rename = "OCIv1")]
    oci: BuildahOci,
    #[serde(rename = "Manifest", default)]
    manifest: String,
}

#[derive(Deserialize)]
struct BuildahOci {
    #[serde(default)]
    config: Option<RawConfig>,
    #[serde(default)]
    history: Vec<OciHistory>,
}

#[derive(Deserialize)]
struct OciHistory {
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    empty_layer: bool,
}

#[derive(Deserialize)]
struct OciManifest {
    layers: Vec<OciDescriptor>,
}

#[derive(Deserialize)]
struct OciDescriptor {
    size: u64,
}

/// Parses the output of [`inspect_argv`]: the config, and with buildah the layers too (from the
/// history's non-empty entries and the manifest's layer sizes).
///
/// # Errors
/// The output is not the engine's JSON.
pub fn parse_inspect(
    engine: Engine,
    json: &str,
) -> Result<(ImageConfig, Option<Vec<Layer>>), VerifyError> {
    if engine != Engine::Buildah {
        let list: Vec<DockerInspect> =
            serde_json::from_str(json).map_err(|e| bad(engine, "image inspect", e))?;
        let first = list
            .into_iter()
            .next()
            .ok_or_else(|| bad(engine, "image inspect", "an empty list"))?;
        let cfg = ImageConfig::from_raw(first.config.unwrap_or_default(), &first.id);
        return Ok((cfg, None));
    }
    let b: BuildahInspect = serde_json::from_str(json).map_err(|e| bad(engine, "inspect", e))?;
    let manifest: OciManifest =
        serde_json::from_str(&b.manifest).map_err(|e| bad(engine, "inspect's Manifest", e))?;
    let made: Vec<String> = b
        .oci
        .history
        .into_iter()
        .filter(|h| !h.empty_layer)
        .map(|h| h.created_by)
        .collect();
    let layers = manifest
        .layers
        .iter()
        .enumerate()
        .map(|(i, l)| Layer {
            size: l.size,
            created_by: made.get(i).cloned().unwrap_or_default(),
        })
        .collect();
    let cfg = ImageConfig::from_raw(b.oci.config.unwrap_or_default(), &b.id);
    Ok((cfg, Some(layers)))
}

#[derive(Deserialize)]
struct PodmanHistory {
    #[serde(default)]
    size: u64,
    #[serde(rename = "CreatedBy", default)]
    created_by: String,
}

/// Parses the output of [`history_argv`] into the layers with content, bottom first (the
/// engines list the newest first; entries of size 0 are config-only steps).
///
/// # Errors
/// The output is not what the engine prints.
pub fn parse_history(engine: Engine, out: &str) -> Result<Vec<Layer>, VerifyError> {
    let mut layers: Vec<Layer> = match engine {
        Engine::Podman => {
            let entries: Vec<PodmanHistory> =
                serde_json::from_str(out).map_err(|e| bad(engine, "history", e))?;
            entries
                .into_iter()
                .map(|h| Layer {
                    size: h.size,
                    created_by: h.created_by,
                })
                .collect()
        }
        Engine::Docker(_) => out
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let (size, by) = l.split_once('\t').unwrap_or((l, ""));
                let size = size
                    .trim()
                    .parse::<u64>()
                    .map_err(|e| bad(engine, "history", format!("size {size:?}: {e}")))?;
                Ok(Layer {
                    size,
                    created_by: by.to_owned(),
                })
            })
            .collect::<Result<_, VerifyError>>()?,
        Engine::Buildah => return Ok(Vec::new()),
    };
    layers.retain(|l| l.size > 0);
    layers.reverse();
    Ok(layers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hangar_build::engine::DockerClient;

    fn line(a: &[OsString]) -> String {
        a.iter()
            .map(|s| s.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn each_engine_is_asked_in_its_own_words() {
        let docker = Engine::Docker(DockerClient::Embedded);
        assert_eq!(
            line(&inspect_argv(Engine::Buildah, Some("vfs"), "a:1")),
            "buildah --storage-driver vfs inspect --type image a:1"
        );
        assert_eq!(
            line(&inspect_argv(docker, None, "a:1")),
            "docker image inspect a:1"
        );
        assert_eq!(history_argv(Engine::Buildah, None, "a:1"), None);
        assert_eq!(
            line(&history_argv(Engine::Podman, None, "a:1").unwrap()),
            "podman history --no-trunc --format json a:1"
        );
        assert_eq!(
            line(&history_argv(docker, None, "a:1").unwrap()),
            "docker history --no-trunc --human=false --format {{.Size}}\t{{.CreatedBy}} a:1"
        );
    }

    #[test]
    fn docker_and_podman_inspect_give_the_config() {
        let json = r#"[{"Id":"1f2e","Config":{"User":"50000","Env":["PATH=/usr/bin","AIRFLOW_HOME=/opt/airflow"],
            "Entrypoint":["/usr/bin/dumb-init","--","/entrypoint"],"Cmd":[],"Labels":{"a":"b"}}}]"#;
        let (c, layers) = parse_inspect(Engine::Podman, json).unwrap();
        assert_eq!(c.user, "50000");
        assert_eq!(c.id, "sha256:1f2e");
        assert_eq!(c.env_var("AIRFLOW_HOME"), Some("/opt/airflow"));
        assert_eq!(c.env_var("AIRFLOW"), None);
        assert_eq!(c.entrypoint.len(), 3);
        assert_eq!(c.labels["a"], "b");
        assert_eq!(layers, None);
        // Nulls (an image with no config) are empty values.
        let (c, _) = parse_inspect(
            Engine::Podman,
            r#"[{"Config":{"Env":null,"Entrypoint":null}}]"#,
        )
        .unwrap();
        assert_eq!(c, ImageConfig::default());
        assert!(parse_inspect(Engine::Podman, "[]").is_err());
        let e = parse_inspect(Engine::Podman, "not json").unwrap_err();
        assert!(e.to_string().contains("podman"), "{e}");
    }

    #[test]
    fn buildah_inspect_gives_the_config_and_the_layers() {
        // As `buildah inspect --type image` prints it: the manifest is a JSON string.
        let json = r#"{"Type":"buildah 0.0.1","FromImageID":"6882","Manifest":"{\"schemaVersion\":2,\"layers\":[{\"size\":297450496},{\"size\":1024}]}",
            "OCIv1":{"config":{"User":"50000","Entrypoint":["/entrypoint"]},
            "history":[{"created_by":"/bin/sh"},{"created_by":"ENV A=b","empty_layer":true},{"created_by":"RUN x"}]}}"#;
        let (c, layers) = parse_inspect(Engine::Buildah, json).unwrap();
        assert_eq!(c.user, "50000");
        assert_eq!(c.entrypoint, ["/entrypoint"]);
        assert_eq!(c.id, "sha256:6882");
        assert_eq!(
            layers.unwrap(),
            [
                Layer {
                    size: 297_450_496,
                    created_by: "/bin/sh".into()
                },
                Layer {
                    size: 1024,
                    created_by: "RUN x".into()
                }
            ]
        );
    }

    #[test]
    fn histories_are_read_bottom_first_without_config_steps() {
        let podman = r#"[{"id":"3a","CreatedBy":"RUN b","size":913153024},{"id":"<missing>","CreatedBy":"ENV x","size":0},
            {"id":"68","CreatedBy":"/bin/sh","size":297450496}]"#;
        let l = parse_history(Engine::Podman, podman).unwrap();
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].created_by, "/bin/sh");
        assert_eq!(l[1].size, 913_153_024);
        let docker =
            "0\tENV x\n12345\tRUN pip install a\n74800000\t/bin/sh -c #(nop) ADD file:1 in /\n";
        let l = parse_history(Engine::Docker(DockerClient::Buildx), docker).unwrap();
        assert_eq!(
            l.iter().map(|l| l.size).collect::<Vec<_>>(),
            [74_800_000, 12345]
        );
        let e = parse_history(Engine::Docker(DockerClient::Buildx), "12MB\tRUN").unwrap_err();
        assert!(e.to_string().contains("12MB"), "{e}");
    }
}
