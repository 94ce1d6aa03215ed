//! The external builder protocol (Fabric `core/container/externalbuilder`): `detect`, `build`
//! and `release` at install time, `run` at launch, each with only the builder's
//! `propagateEnvironment` variables plus PATH, LD_LIBRARY_PATH, LIBPATH and TMPDIR.
#![deny(clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::{Deserialize, Serialize};

use crate::package::{self, Package};

/// Variables every builder program gets when they are set (Fabric's defaults).
const ALWAYS_PROPAGATED: [&str; 4] = ["LD_LIBRARY_PATH", "LIBPATH", "PATH", "TMPDIR"];
/// How much of a builder program's output is kept for error messages.
const OUTPUT_TAIL: usize = 4096;
/// Largest builders file accepted (a short JSON list).
const MAX_BUILDERS_FILE: u64 = 1024 * 1024;

/// One configured builder, like a core.yaml `externalBuilders` entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BuilderConfig {
    /// The builder's name, as the install output and the ledger record it.
    pub name: String,
    /// Its directory, holding `bin/detect`, `bin/build` and optionally `bin/release` and `bin/run`.
    pub path: PathBuf,
    /// Variables of the peer's environment passed through to its programs.
    #[serde(rename = "propagateEnvironment", default)]
    pub propagate_environment: Vec<String>,
    /// Variables set for this builder's programs whatever the peer's environment holds (no
    /// core.yaml equivalent: `devpeer up` uses it for its explicit development switches).
    #[serde(skip)]
    pub set_environment: Vec<(String, String)>,
}

/// Builder failures.
#[derive(Debug, thiserror::Error)]
pub enum BuilderError {
    /// No builder is configured.
    #[error("no builders are configured (use --builder NAME=PATH or --builders-config FILE)")]
    NoBuilders,
    /// No builder's `detect` claimed the package: its type and the builders tried.
    #[error("no builder detected the package (type '{0}'); tried: {1}")]
    NotDetected(String, String),
    /// A builder program exited unsuccessfully.
    #[error("external builder '{builder}' {program} failed: {status}{output}")]
    Failed {
        /// The builder's name.
        builder: String,
        /// `detect`, `build` or `release`.
        program: &'static str,
        /// Its exit status.
        status: String,
        /// The end of its output (`\n`-prefixed, or empty).
        output: String,
    },
    /// A package names a builder that is no longer configured.
    #[error("builder '{0}' is not configured any more")]
    Unknown(String),
    /// The package itself is invalid.
    #[error("{0}")]
    Package(#[from] package::PackageError),
    /// Preparing or reading the build directories failed.
    #[error("builder I/O at {path}: {msg}")]
    Io {
        /// The path involved.
        path: String,
        /// The I/O error.
        msg: String,
    },
}

fn io_err(path: &Path) -> impl Fn(std::io::Error) -> BuilderError + '_ {
    move |e| BuilderError::Io {
        path: path.display().to_string(),
        msg: e.to_string(),
    }
}

/// Where a package's build lives.
#[derive(Debug, Clone)]
pub struct BuildDirs {
    /// The package's build directory under the peer's builds directory.
    pub root: PathBuf,
    /// `BUILD_OUTPUT_DIR`: what `build` wrote, handed to `release` and `run`.
    pub bld: PathBuf,
    /// `RELEASE_OUTPUT_DIR`: what `release` wrote (a CaaS `chaincode/server/connection.json`).
    pub release: PathBuf,
}

impl BuildDirs {
    /// `<builds>/<sanitized package id>/{bld,release}`.
    pub fn new(builds: &Path, package_id: &str) -> BuildDirs {
        let root = builds.join(package::sanitize_id(package_id));
        BuildDirs {
            bld: root.join("bld"),
            release: root.join("release"),
            root,
        }
    }

    /// The released `connection.json`, if the builder released one (CaaS).
    pub fn connection_json(&self) -> Option<PathBuf> {
        let p = self.release.join("chaincode/server/connection.json");
        p.is_file().then_some(p)
    }
}

/// The configured builders, tried in order.
#[derive(Debug, Clone, Default)]
pub struct Builders {
    /// In the order they are tried.
    pub list: Vec<BuilderConfig>,
}

/// The last `max` bytes of a program's output as text for an error message (`\n`-prefixed,
/// empty when there is nothing to show).
pub(crate) fn output_tail(bytes: &[u8], max: usize) -> String {
    let start = bytes.len().saturating_sub(max);
    let s = String::from_utf8_lossy(bytes.get(start..).unwrap_or_default())
        .trim()
        .to_string();
    if s.is_empty() {
        String::new()
    } else {
        format!("\n{s}")
    }
}

impl BuilderConfig {
    fn program(&self, name: &str) -> PathBuf {
        self.path.join("bin").join(name)
    }

    /// A command for one of this builder's programs with the filtered environment.
    pub fn command(&self, program: &str) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new(self.program(program));
        cmd.env_clear();
        for var in ALWAYS_PROPAGATED
            .iter()
            .copied()
            .chain(self.propagate_environment.iter().map(String::as_str))
        {
            if let Some(v) = std::env::var_os(var) {
                cmd.env(var, v);
            }
        }
        for (var, value) in &self.set_environment {
            cmd.env(var, value);
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    /// True when the builder has a `run` program.
    pub fn has_run(&self) -> bool {
        self.program("run").is_file()
    }

    async fn run_program(
        &self,
        program: &'static str,
        args: &[&Path],
    ) -> Result<std::process::Output, BuilderError> {
        let path = self.program(program);
        let mut cmd = self.command(program);
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        let out = cmd.output().await.map_err(|e| BuilderError::Failed {
            builder: self.name.clone(),
            program,
            status: format!("could not start {}: {e}", path.display()),
            output: String::new(),
        })?;
        for line in String::from_utf8_lossy(&out.stderr).lines() {
            tracing::info!(builder = %self.name, program, "{line}");
        }
        Ok(out)
    }
}

impl Builders {
    /// The builder called `name`.
    pub fn get(&self, name: &str) -> Result<&BuilderConfig, BuilderError> {
        self.list
            .iter()
            .find(|b| b.name == name)
            .ok_or_else(|| BuilderError::Unknown(name.to_string()))
    }

    /// Runs detect on each builder in order, then build and release with the first that
    /// claims the package. Returns the builder's name; on failure nothing is left behind.
    pub async fn build(&self, pkg: &Package, builds: &Path) -> Result<String, BuilderError> {
        if self.list.is_empty() {
            return Err(BuilderError::NoBuilders);
        }
        let dirs = BuildDirs::new(builds, &pkg.id);
        let work = builds.join(format!("{}.work", package::sanitize_id(&pkg.id)));
        let _ = std::fs::remove_dir_all(&work);
        let result = self.build_in(pkg, &dirs, &work).await;
        let _ = std::fs::remove_dir_all(&work);
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&dirs.root);
        }
        result
    }

    async fn build_in(
        &self,
        pkg: &Package,
        dirs: &BuildDirs,
        work: &Path,
    ) -> Result<String, BuilderError> {
        let src = work.join("src");
        let meta = work.join("metadata");
        std::fs::create_dir_all(&meta).map_err(io_err(&meta))?;
        std::fs::write(meta.join("metadata.json"), &pkg.metadata_json).map_err(io_err(&meta))?;
        package::extract_code(&pkg.code_tar_gz, &src)?;

        let mut chosen = None;
        for b in &self.list {
            let out = b.run_program("detect", &[&src, &meta]).await;
            match out {
                Ok(o) if o.status.success() => {
                    chosen = Some(b);
                    break;
                }
                Ok(o) => tracing::debug!(builder = %b.name, status = %o.status, "detect declined"),
                Err(e) => tracing::warn!("{e}"),
            }
        }
        let Some(b) = chosen else {
            let names: Vec<_> = self.list.iter().map(|b| b.name.as_str()).collect();
            return Err(BuilderError::NotDetected(
                pkg.metadata.cc_type.clone(),
                names.join(", "),
            ));
        };
        let _ = std::fs::remove_dir_all(&dirs.root);
        std::fs::create_dir_all(&dirs.bld).map_err(io_err(&dirs.bld))?;
        std::fs::create_dir_all(&dirs.release).map_err(io_err(&dirs.release))?;
        let out = b.run_program("build", &[&src, &meta, &dirs.bld]).await?;
        if !out.status.success() {
            return Err(BuilderError::Failed {
                builder: b.name.clone(),
                program: "build",
                status: out.status.to_string(),
                output: output_tail(&out.stderr, OUTPUT_TAIL),
            });
        }
        if b.program("release").is_file() {
            let out = b
                .run_program("release", &[&dirs.bld, &dirs.release])
                .await?;
            if !out.status.success() {
                return Err(BuilderError::Failed {
                    builder: b.name.clone(),
                    program: "release",
                    status: out.status.to_string(),
                    output: output_tail(&out.stderr, OUTPUT_TAIL),
                });
            }
        }
        let info = serde_json::json!({ "builder_name": b.name });
        std::fs::write(dirs.root.join("build-info.json"), info.to_string())
            .map_err(io_err(&dirs.root))?;
        Ok(b.name.clone())
    }
}

/// Parses `NAME=PATH` of a `--builder` flag.
pub fn parse_builder_flag(s: &str, propagate: &[String]) -> Result<BuilderConfig, String> {
    let (name, path) = s
        .split_once('=')
        .ok_or_else(|| format!("--builder expects NAME=PATH, got '{s}'"))?;
    if name.is_empty() || path.is_empty() {
        return Err(format!("--builder expects NAME=PATH, got '{s}'"));
    }
    Ok(BuilderConfig {
        name: name.to_string(),
        path: PathBuf::from(path),
        propagate_environment: propagate.to_vec(),
        set_environment: Vec::new(),
    })
}

/// Reads a builders file: a JSON list of `{name, path, propagateEnvironment}` (core.yaml's
/// `externalBuilders` shape), or an object with an `externalBuilders` key.
pub fn read_builders_file(path: &Path) -> Result<Vec<BuilderConfig>, String> {
    let bytes =
        fabric_formats::file::read_bounded(path, MAX_BUILDERS_FILE).map_err(|e| e.to_string())?;
    let v: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let list = match v {
        serde_json::Value::Object(mut o) => o
            .remove("externalBuilders")
            .ok_or_else(|| format!("{}: no externalBuilders key", path.display()))?,
        other => other,
    };
    serde_json::from_value(list).map_err(|e| format!("{}: {e}", path.display()))
}
