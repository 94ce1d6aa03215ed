//! What the runtime benchmarks share: building the measured binaries in the bench's profile,
//! reading a process's CPU time and RSS from `/proc`, install packages, the Node shim's
//! directory, and killing launched chaincode when a benchmark panics.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

/// Environment variable naming the Node modules directory, propagated to the Node builder.
pub const NODE_MODULES_VAR: &str = "BENCH_NODE_MODULES";

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// One field of `/proc/PID/status` in KiB (0 when unreadable).
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// CPU time (user + system, all threads) a process has used, in microseconds.
pub fn cpu_us(pid: &str) -> u64 {
    // /proc reports it in USER_HZ ticks, 100 per second on every Linux ABI.
    const TICK_US: u64 = 10_000;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name may hold spaces or parentheses: count fields after the last ')'.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or(Vec::new(), |(_, rest)| rest.split_whitespace().collect());
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    let tick = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (tick(11) + tick(12)) * TICK_US
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The machine's load average, as `/proc/loadavg` gives its first three fields.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// `<target>/<profile>` of the running bench executable.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    // <target>/<profile>/deps/BENCH-HASH -> <target>/<profile>
    exe.parent()
        .and_then(Path::parent)
        .expect("bench executable under <target>/<profile>/deps")
        .to_path_buf()
}

/// Builds `target` (cargo arguments after `build`) in the bench's profile and returns
/// `<target>/<profile>/<relative>`. `cargo bench` does not build other packages' binaries or
/// examples, so this runs when `always` (a no-op when fresh) or when the file is missing.
pub fn build_in_profile(target: &[&str], relative: &str, always: bool) -> PathBuf {
    let profile = profile_dir();
    let path = profile.join(relative);
    if always || !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.arg("build").args(target);
        if profile.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        // Drop what cargo sets for running this bench: build scripts track some of these
        // (ring's reruns on CARGO_MANIFEST_DIR), so leaking them would rebuild the shared
        // dependencies here and again at the next `cargo bench`.
        for (var, _) in std::env::vars_os() {
            let name = var.to_string_lossy();
            if name.starts_with("CARGO_PKG_")
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
                .contains(&name.as_ref())
            {
                cmd.env_remove(&var);
            }
        }
        eprintln!("building {relative}: {cmd:?}");
        let status = cmd.status().expect("run cargo");
        assert!(status.success(), "building {relative} failed");
    }
    assert!(path.is_file(), "{} missing", path.display());
    path
}

/// The `kv_chaincode` example of `fabric-chaincode`.
pub fn kv_chaincode(always: bool) -> PathBuf {
    build_in_profile(
        &["-p", "fabric-chaincode", "--example", "kv_chaincode"],
        "examples/kv_chaincode",
        always,
    )
}

/// The real registry binary; `BENCH_ERCC_BIN` names another build to measure instead (for
/// before/after comparisons of the runtime).
pub fn ercc(always: bool) -> PathBuf {
    if let Some(path) = std::env::var_os("BENCH_ERCC_BIN") {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "BENCH_ERCC_BIN: {} missing", path.display());
        return path;
    }
    build_in_profile(&["-p", "ercc", "--bin", "ercc"], "ercc", always)
}

/// The Node contract's directory with `fabric-shim` installed (`npm ci` when missing), or
/// `None` (with a loud message) when Node cannot run here.
pub fn node_chaincode() -> Option<PathBuf> {
    let dir = manifest_dir().join("../fabric-chaincode/benches/node");
    let node_runs = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_runs {
        eprintln!();
        eprintln!("!!! `node` is not installed: SKIPPING THE NODE SIDE (no comparison) !!!");
        eprintln!();
        return None;
    }
    if !dir.join("node_modules/fabric-shim").is_dir() {
        eprintln!("installing fabric-shim with `npm ci` in {}", dir.display());
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .is_ok_and(|s| s.success());
        // Node is here, so a failed install is a broken setup, not a reason to skip.
        assert!(ok, "npm ci failed in {}", dir.display());
    }
    Some(dir)
}

/// A gzip tar of regular files.
pub fn tar_gz(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::fast(),
    ));
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append_data(&mut h, name, *data).expect("tar");
    }
    b.into_inner().expect("tar").finish().expect("gzip")
}

/// A Fabric v2 install package (`metadata.json` + `code.tar.gz`).
pub fn package(label: &str, cc_type: &str, code: &[(&str, &[u8])]) -> Vec<u8> {
    let metadata = serde_json::json!({ "path": "", "type": cc_type, "label": label }).to_string();
    let code = tar_gz(code);
    tar_gz(&[
        ("metadata.json", metadata.as_bytes()),
        ("code.tar.gz", &code),
    ])
}

/// A package the `bench-rust` builder runs: the prebuilt binary at `binary`.
pub fn rust_package(label: &str, binary: &Path) -> Vec<u8> {
    let path = binary.display().to_string();
    package(label, "rust-binary", &[("binary.path", path.as_bytes())])
}

/// The Node contract (`chaincode.js`) as a package the `bench-node` builder runs.
pub fn node_package(label: &str, dir: &Path) -> Vec<u8> {
    let js = std::fs::read(dir.join("chaincode.js")).expect("chaincode.js");
    let pj = std::fs::read(dir.join("package.json")).expect("package.json");
    package(
        label,
        "node",
        &[("chaincode.js", &js), ("package.json", &pj)],
    )
}

/// The pid the benchmark builders' `run` wrote for slot 0 of `package_id`.
pub fn launched_pid(home: &Path, package_id: &str) -> u32 {
    let run_dir = home
        .join("externalbuilder/run")
        .join(format!("{}-0", devpeer::package::sanitize_id(package_id)));
    std::fs::read_to_string(run_dir.join("pid"))
        .expect("the builder's run wrote its pid")
        .trim()
        .parse()
        .expect("pid")
}

/// Kills the chaincode process groups if the benchmark panics before the peer stops them.
#[derive(Default)]
pub struct ReapOnPanic(pub Mutex<Vec<u32>>);

impl ReapOnPanic {
    pub fn watch(&self, pid: u32) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(pid);
    }
}

impl Drop for ReapOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for pid in self.0.lock().unwrap_or_else(|p| p.into_inner()).iter() {
                // `run` is its own process group and execs the chaincode, so pid = pgid.
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(*pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

/// The median of `samples` (microseconds); 0 for none.
pub fn median(samples: &mut [u64]) -> u64 {
    if samples.is_empty() {
        return 0;
    }
    samples.sort_unstable();
    samples[samples.len() / 2]
}
