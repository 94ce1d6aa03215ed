//! Building another target of this workspace in the running benchmark's profile: `cargo bench`
//! builds neither other packages' binaries nor examples, and `cargo test` may leave an old
//! build of them behind, so a benchmark that launches one builds it first (a no-op when fresh).
//! Shared by this crate's benchmarks and devpeer's (included by path).

use std::path::{Path, PathBuf};
use std::process::Command;

/// `<target>/<profile>` of the running bench executable (`<target>/<profile>/deps/BENCH-HASH`).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.parent()
        .and_then(Path::parent)
        .expect("bench executable under <target>/<profile>/deps")
        .to_path_buf()
}

/// Variables cargo sets for running a bench that must not reach a nested `cargo build`: build
/// scripts track some of them (ring's reruns on `CARGO_MANIFEST_DIR`), so leaking them would
/// rebuild the shared dependencies there and again at the next `cargo bench`.
fn is_bench_only_cargo_var(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || [
            "CARGO_MANIFEST_DIR",
            "CARGO_MANIFEST_PATH",
            "CARGO_MANIFEST_LINKS",
            "CARGO_CRATE_NAME",
            "CARGO_BIN_NAME",
            "CARGO_PRIMARY_PACKAGE",
            "CARGO_TARGET_TMPDIR",
            "CARGO_RUSTC_CURRENT_DIR",
            "OUT_DIR",
        ]
        .contains(&name)
}

/// Runs `cargo build <target>` in the bench's profile and returns `<target>/<profile>/<relative>`.
pub fn build_in_profile(target: &[&str], relative: &str) -> PathBuf {
    build(target, None, relative)
}

/// Runs `cargo build <target>` in the bench's profile for the host's triple named explicitly,
/// with `rustflags` added to `RUSTFLAGS` (such as a static C library), and returns
/// `<target>/<triple>/<profile>/<relative>`: the way a deployed binary is built, in its own
/// directory so that the bench's own build is not rebuilt with other flags.
#[allow(dead_code)] // devpeer's benchmarks only
pub fn build_for_host(target: &[&str], rustflags: &str, relative: &str) -> PathBuf {
    build(target, Some(rustflags), relative)
}

fn build(target: &[&str], host_rustflags: Option<&str>, relative: &str) -> PathBuf {
    let profile = profile_dir();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.arg("build").args(target);
    if profile.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    for (var, _) in std::env::vars_os() {
        if is_bench_only_cargo_var(&var.to_string_lossy()) {
            cmd.env_remove(&var);
        }
    }
    let path = match host_rustflags {
        None => profile.join(relative),
        Some(flags) => {
            let triple = host_triple(&cargo);
            let target_dir = profile.parent().expect("<target>/<profile>");
            cmd.args(["--target", &triple, "--target-dir"])
                .arg(target_dir);
            let outer = std::env::var("RUSTFLAGS").unwrap_or_default();
            cmd.env("RUSTFLAGS", format!("{outer} {flags}").trim());
            target_dir
                .join(triple)
                .join(profile.file_name().expect("profile"))
                .join(relative)
        }
    };
    eprintln!("building {relative}: {cmd:?}");
    let status = cmd.status().expect("run cargo");
    assert!(status.success(), "building {relative} failed");
    assert!(path.is_file(), "{} missing", path.display());
    path
}

/// The triple `rustc` builds for by default (`host:` of `rustc -vV`).
fn host_triple(cargo: &str) -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| {
        Path::new(cargo)
            .with_file_name("rustc")
            .to_string_lossy()
            .into_owned()
    });
    let out = Command::new(&rustc)
        .arg("-vV")
        .output()
        .or_else(|_| Command::new("rustc").arg("-vV").output())
        .expect("run rustc -vV");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("host: in rustc -vV")
        .to_string()
}
