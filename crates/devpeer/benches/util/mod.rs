//! What the dev peer benchmarks share: the run's kind (`--bench` or a `cargo test` smoke run)
//! and its budget, building the measured binaries in the bench's profile, reading a process's
//! CPU time and RSS from `/proc`, install packages, the peer with the benchmark builders,
//! installing and defining chaincode, transactions and their payloads, the Node shim's
//! directory, and killing launched chaincode when a benchmark panics.
#![allow(dead_code)]

#[path = "../../../fabric-chaincode/benches/profile_build/mod.rs"]
mod profile_build;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use devpeer::builder::{BuilderConfig, Builders};
use devpeer::peer::{DefineRequest, Peer, PeerConfig, TxOutcome, TxRequest};
use devpeer::server::StartOptions;

pub use profile_build::{build_for_host, build_in_profile};

/// Variable naming the Node modules directory, set for the Node builder's programs.
pub const NODE_MODULES_VAR: &str = "BENCH_NODE_MODULES";
/// The policy variable that lets the registry accept simulated evidence.
pub const ACCEPTED_EVIDENCE_VAR: &str = "ERCC_ACCEPTED_EVIDENCE";

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `cargo bench` passes `--bench`; `cargo test --all-targets` runs a bench without it (smoke).
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// How long a phase runs: `secs`, or `max_tx` transactions (smoke; each bench says whether per
/// worker or in all).
#[derive(Clone, Copy)]
pub struct Budget {
    pub secs: f64,
    pub max_tx: Option<u64>,
}

impl Budget {
    /// `BENCH_SECS` (default `default_secs`) when benchmarking, `smoke_tx` transactions under
    /// `cargo test`.
    pub fn for_run(bench_mode: bool, default_secs: f64, smoke_tx: u64) -> Budget {
        if bench_mode {
            Budget {
                secs: env_or("BENCH_SECS", default_secs),
                max_tx: None,
            }
        } else {
            Budget {
                secs: 0.0,
                max_tx: Some(smoke_tx),
            }
        }
    }
}

/// A multi-threaded runtime for the in-process peer and the benchmark's workers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// A fresh temporary directory (the peer's home goes inside) under `$TMPDIR`.
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("tempdir")
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

/// The `kv_chaincode` example of `fabric-chaincode`, built in this bench's profile.
pub fn kv_chaincode() -> PathBuf {
    build_in_profile(
        &["-p", "fabric-chaincode", "--example", "kv_chaincode"],
        "examples/kv_chaincode",
    )
}

/// The registry binary as it is deployed (docs/deploy.md, the Containerfile): the chaincode
/// alone (`--no-default-features`), with the C library linked statically. `BENCH_ERCC_BIN`
/// names another build to measure instead (before/after comparisons, the dynamic build with the
/// operator tools).
pub fn ercc() -> PathBuf {
    if let Some(path) = std::env::var_os("BENCH_ERCC_BIN") {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "BENCH_ERCC_BIN: {} missing", path.display());
        return path;
    }
    build_for_host(
        &["-p", "ercc", "--bin", "ercc", "--no-default-features"],
        "-C target-feature=+crt-static",
        "ercc",
    )
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

/// A package the `bench-rust` builder runs: the prebuilt binary at `binary`.
pub fn rust_package(label: &str, binary: &Path) -> Vec<u8> {
    let path = binary.display().to_string();
    crate::common::package(label, "rust-binary", &[("binary.path", path.as_bytes())])
}

/// The Node contract (`chaincode.js`) as a package the `bench-node` builder runs.
pub fn node_package(label: &str, dir: &Path) -> Vec<u8> {
    let js = std::fs::read(dir.join("chaincode.js")).expect("chaincode.js");
    let pj = std::fs::read(dir.join("package.json")).expect("package.json");
    crate::common::package(
        label,
        "node",
        &[("chaincode.js", &js), ("package.json", &pj)],
    )
}

/// Start options: TLS on, `channel`, the `bench-rust`, `bench-node` (given the Node shim's
/// directory, whose `node_modules` its build links) and `ccaas` builders, and Fabric 3.1's
/// READY parameters (write batches, multi-key reads) when `fabric31`.
pub fn peer_options(
    home: PathBuf,
    channel: &str,
    fabric31: bool,
    node_dir: Option<&Path>,
) -> StartOptions {
    let builders = manifest_dir().join("benches/builders");
    let builder = |name: &str, path: PathBuf, propagate: &[&str]| BuilderConfig {
        name: name.into(),
        path,
        propagate_environment: propagate.iter().map(|v| v.to_string()).collect(),
        set_environment: Vec::new(),
    };
    let mut node = builder("bench-node", builders.join("node"), &[]);
    if let Some(dir) = node_dir {
        let modules = dir.join("node_modules").to_string_lossy().into_owned();
        node.set_environment
            .push((NODE_MODULES_VAR.to_owned(), modules));
    }
    StartOptions {
        home,
        chaincode_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        chaincode_address: None,
        tls: true,
        builders: Builders {
            list: vec![
                builder(
                    "bench-rust",
                    builders.join("rust"),
                    &[ACCEPTED_EVIDENCE_VAR],
                ),
                node,
                builder(
                    "ccaas",
                    manifest_dir().join("tests/fixtures/builders/ccaas"),
                    &[],
                ),
            ],
        },
        config: PeerConfig {
            channel: channel.into(),
            msp_id: "Org1MSP".into(),
            launch_timeout: Duration::from_secs(120),
            execute_timeout: Duration::from_secs(60),
            default_endorsers: 1,
            runtime_params: fabric31,
        },
    }
}

/// Installs `package` and defines it as `name` (version 1.0). Returns the package id.
pub async fn install_and_define(peer: &Arc<Peer>, name: &str, package: &[u8]) -> String {
    let installed = peer
        .install(package)
        .await
        .unwrap_or_else(|e| panic!("{name}: install failed: {e}"));
    define(peer, name, "1.0", &installed.package_id).await;
    installed.package_id
}

/// Commits a definition of `name` tied to an installed package and checks it launched.
pub async fn define(peer: &Arc<Peer>, name: &str, version: &str, package_id: &str) {
    let defined = peer
        .define(DefineRequest {
            name: name.into(),
            version: version.into(),
            sequence: 1,
            package_id: Some(package_id.into()),
            init_required: false,
        })
        .await
        .unwrap_or_else(|e| panic!("{name}: define failed: {e}"));
    assert!(
        defined.launch_error.is_none(),
        "{name}: launch failed: {:?}",
        defined.launch_error
    );
}

/// A normal-mode chaincode launched by the peer through a benchmark builder; returns its
/// package id and pid.
pub async fn launch_normal(
    peer: &Arc<Peer>,
    reaper: &ReapOnPanic,
    name: &str,
    package: &[u8],
) -> (String, u32) {
    let id = install_and_define(peer, name, package).await;
    let pid = launched_pid(&peer.home, &id);
    reaper.watch(pid);
    (id, pid)
}

/// A transaction request with the peer's defaults.
pub fn tx<S: AsRef<str>>(chaincode: &str, args: &[S], commit: bool) -> TxRequest {
    TxRequest {
        chaincode: chaincode.to_string(),
        args: args.iter().map(|a| a.as_ref().to_string()).collect(),
        msp: None,
        timestamp: None,
        channel: None,
        endorsers: None,
        transient: BTreeMap::new(),
        is_init: false,
        commit,
    }
}

/// The response payload of a transaction, decoded.
pub fn payload(out: &TxOutcome) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(&out.payload)
        .expect("payload is base64")
}

/// The response payload of an endorsed transaction (panics on failure: a broken setup).
pub fn payload_of(out: &TxOutcome, what: &str) -> Vec<u8> {
    assert_eq!(
        out.status, 200,
        "{what}: transaction {} failed: {}",
        out.txid, out.message
    );
    payload(out)
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
