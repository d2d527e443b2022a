//! What an existing image is, asked through the engine that holds it (hangar-built or not):
//! `hangar verify IMAGE` checks it against the production-image contract, `hangar sbom IMAGE`
//! lists what it contains.
//!
//! Reading the config ([`config`]) and running scripts in the image ([`facts`], [`packages`])
//! are the only side effects; the verdicts ([`checks`]), their rendering ([`report`]) and the
//! SBOM document ([`sbom`]) are pure.

pub mod checks;
mod collect;
pub mod config;
mod error;
pub mod facts;
pub mod packages;
pub mod report;
pub mod sbom;

use hangar_build::engine::Engine;
use hangar_build::in_image::{self, InImage};

pub use self::collect::{SbomSummary, new_serial};
pub use self::error::VerifyError;
pub use self::report::Report;

use self::checks::Observed;
use self::config::ImageConfig;
use self::facts::Facts;

/// How to reach the engine that holds the images to verify.
#[derive(Debug, Clone)]
pub struct Runner {
    pub engine: Engine,
    /// Global `--storage-driver` of buildah and podman.
    pub storage_driver: Option<String>,
    /// `--isolation` of `buildah run`.
    pub isolation: Option<String>,
}

impl Runner {
    fn in_image(&self, image: &str, argv: Vec<String>, user: Option<&str>) -> InImage {
        InImage {
            engine: self.engine,
            storage_driver: self.storage_driver.clone(),
            isolation: self.isolation.clone(),
            image: image.to_owned(),
            mounts: Vec::new(),
            argv,
            user: user.map(str::to_owned),
            // The upstream entrypoint waits for the metadata database before `bash`; nothing
            // here needs one.
            env: vec![("CONNECTION_CHECK_MAX_COUNT".into(), "0".into())],
        }
    }

    /// The image's config, and with buildah its layers (its `inspect` carries them).
    ///
    /// # Errors
    /// The engine cannot be run, has no such image, or prints what hangar cannot read.
    pub fn config(
        &self,
        image: &str,
    ) -> Result<(ImageConfig, Option<Vec<config::Layer>>), VerifyError> {
        let sd = self.storage_driver.as_deref();
        let out = in_image::output(self.engine, &config::inspect_argv(self.engine, sd, image))?;
        if !out.status.success() {
            return Err(VerifyError::NoImage {
                engine: self.engine,
                image: image.to_owned(),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        config::parse_inspect(self.engine, &String::from_utf8_lossy(&out.stdout))
    }

    /// The image's config and its layers.
    ///
    /// # Errors
    /// The engine cannot be run, has no such image, or prints what hangar cannot read.
    pub fn inspect(&self, image: &str) -> Result<(ImageConfig, Vec<config::Layer>), VerifyError> {
        let (cfg, layers) = self.config(image)?;
        if let Some(layers) = layers {
            return Ok((cfg, layers));
        }
        let Some(argv) = config::history_argv(self.engine, self.storage_driver.as_deref(), image)
        else {
            return Ok((cfg, Vec::new()));
        };
        let out = in_image::output(self.engine, &argv)?;
        if !out.status.success() {
            return Err(VerifyError::Unreadable {
                engine: self.engine,
                what: "history".into(),
                detail: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
            });
        }
        let layers = config::parse_history(self.engine, &String::from_utf8_lossy(&out.stdout))?;
        Ok((cfg, layers))
    }

    /// Runs `argv` in `image` and returns its facts and the last lines of its output.
    fn facts(
        &self,
        image: &str,
        argv: Vec<String>,
        user: Option<&str>,
    ) -> Result<(Facts, String, String), VerifyError> {
        let out = in_image::run(&self.in_image(image, argv, user))?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let lines: Vec<&str> = stdout
            .lines()
            .filter(|l| !l.starts_with(facts::PREFIX))
            .chain(stderr.lines())
            .collect();
        let tail = lines[lines.len().saturating_sub(5)..].join(" | ");
        Ok((Facts::parse(&stdout), tail, out.status.to_string()))
    }

    /// Runs every check on `image`.
    ///
    /// # Errors
    /// The image cannot be inspected or run at all (a failed check is in the report instead).
    pub fn verify(&self, image: &str) -> Result<Report, VerifyError> {
        let (cfg, layers) = self.inspect(image)?;
        let no_shell = |who, status, tail| VerifyError::NoShell {
            engine: self.engine,
            image: image.to_owned(),
            who,
            status,
            tail,
        };

        let ep = cfg.entrypoint.first().cloned().unwrap_or_default();
        let script = vec![
            "sh".into(),
            "-c".into(),
            facts::default_user_script(),
            "sh".into(),
            ep,
        ];
        let (default_user, tail, status) = self.facts(image, script, None)?;
        if !default_user.complete() {
            return Err(no_shell("its own user", status, tail));
        }

        let mut through = cfg.entrypoint.clone();
        through.extend(["bash".into(), "-c".into(), facts::arbitrary_user_script()]);
        let (arbitrary, arbitrary_tail, _) =
            self.facts(image, through, Some(facts::ARBITRARY_USER))?;

        let scan = vec![
            "sh".into(),
            "-c".into(),
            facts::scan_script(),
            "sh".into(),
            "/".into(),
        ];
        let (scan, tail, status) = self.facts(image, scan, Some("0:0"))?;
        if !scan.complete() {
            return Err(no_shell("root", status, tail));
        }

        let seen = Observed {
            default_user,
            arbitrary,
            arbitrary_tail,
            scan,
        };
        Ok(Report::new(
            image,
            self.engine.program(),
            checks::evaluate(&cfg, &seen),
            layers,
        ))
    }
}
