//! The registry's hot path through the dev peer, beside the Node shim in the same run. One
//! in-process devpeer (TLS, redb ledger) runs, in both modes:
//! - normal mode: the real `ercc` and the Node bench contract
//!   (`crates/fabric-chaincode/benches/node/chaincode.js`, `fabric-shim` 2.5.8), launched by
//!   the peer through the benchmark builders;
//! - CaaS: the same two started by this benchmark as chaincode servers with mutual TLS.
//!
//! One enclave is registered (simulated evidence) in each registry; the Node contract gets the
//! same credentials as a value. Workloads, each with 1 and with 16 transactions in flight:
//! - `queryEnclaveCredentials` called chaincode-to-chaincode (FPC's `__endorse` path: a Rust
//!   `kv_chaincode` caller's `KV:Call`), against Node's `KV:Get` of the same value (one
//!   GET_STATE each);
//! - `queryChaincodeEndPoints` and `queryListEnclaveCredentials`, against Node's `KV:Range`
//!   (one GET_STATE_BY_RANGE returning one record each).
//!
//! Figures: transactions per second, median latency, the chaincode process's CPU (utime +
//! stime from `/proc`) per transaction and its ratio to Node's, and idle / peak RSS
//! (VmRSS after setup, VmHWM at the end). Targets: CPU <= 0.25x Node, idle RSS <= 5 MiB,
//! peak <= 8 MiB.
//!
//! `cargo bench -p devpeer --bench hot_path` (release builds of `ercc` and `kv_chaincode` are
//! made first). Environment: `BENCH_SECS` per phase (default 2), `BENCH_MODES`
//! (`normal,caas`), `BENCH_SKIP_NODE=1`, `BENCH_FABRIC31=1` (the peer announces Fabric 3.1's
//! write batches and multi-key reads in READY), `BENCH_ERCC_BIN=PATH` (measure that `ercc`
//! build instead of building this tree's: before/after comparisons). `BENCH_CALLGRIND=1` runs the CaaS registry
//! under `valgrind --tool=callgrind` and prints instructions per transaction for each phase
//! (stable under machine load; files kept in `$BENCH_CALLGRIND_DIR`, default
//! `target/callgrind`). Under `cargo test --all-targets` it is a smoke test: a few checked
//! transactions per phase.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/ercc_common/mod.rs"]
mod ercc_common;
mod registry_setup;
mod util;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use devpeer::peer::Peer;
use registry_setup::{define_fpc_chaincode, launch_caas, register, CaasServer};
use util::{cpu_us, launch_normal, mib, payload_of, status_kib, tx, Budget, ReapOnPanic};

/// The FPC chaincode whose enclave is registered.
const FPC_CC: &str = "fpccc";
const MRENCLAVE: [u8; 32] = [0x5a; 32];
const CONCURRENCY: [usize; 2] = [1, 16];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Normal,
    Caas,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Caas => "caas",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Workload {
    CredentialsC2c,
    EndPoints,
    ListCredentials,
    NodeGet,
    NodeRange,
}

impl Workload {
    const RUST: [Workload; 3] = [
        Workload::CredentialsC2c,
        Workload::EndPoints,
        Workload::ListCredentials,
    ];

    fn label(self) -> &'static str {
        match self {
            Workload::CredentialsC2c => "queryEnclaveCredentials c2c",
            Workload::EndPoints => "queryChaincodeEndPoints",
            Workload::ListCredentials => "queryListEnclaveCredentials",
            Workload::NodeGet => "node KV:Get",
            Workload::NodeRange => "node KV:Range",
        }
    }

    /// The Node workload with the same ledger traffic.
    fn node_baseline(self) -> Workload {
        match self {
            Workload::CredentialsC2c | Workload::NodeGet => Workload::NodeGet,
            _ => Workload::NodeRange,
        }
    }
}

/// The chaincodes of one mode and what their answers must be.
struct ModeSetup {
    mode: Mode,
    ercc: String,
    ercc_pid: u32,
    node: Option<(String, u32)>,
    enclave_id: String,
    creds: String,
    endpoint: String,
    idle_rss_kib: Vec<(String, u64)>,
    _servers: Vec<CaasServer>,
}

impl ModeSetup {
    /// The request and the payload it must return.
    fn request(&self, w: Workload) -> (String, Vec<String>, Vec<u8>) {
        let node = self.node.as_ref().map_or("", |(n, _)| n.as_str());
        let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
        let list = serde_json::to_vec(&[&self.creds]).unwrap();
        match w {
            Workload::CredentialsC2c => (
                "kvcaller".into(),
                s(&[
                    "KV:Call",
                    &self.ercc,
                    &format!("queryEnclaveCredentials {FPC_CC} {}", self.enclave_id),
                ]),
                self.creds.clone().into_bytes(),
            ),
            Workload::EndPoints => (
                self.ercc.clone(),
                s(&["queryChaincodeEndPoints", FPC_CC]),
                self.endpoint.clone().into_bytes(),
            ),
            Workload::ListCredentials => (
                self.ercc.clone(),
                s(&["queryListEnclaveCredentials", FPC_CC]),
                list,
            ),
            Workload::NodeGet => (
                node.into(),
                s(&["KV:Get", "cred0"]),
                self.creds.clone().into_bytes(),
            ),
            Workload::NodeRange => (node.into(), s(&["KV:Range", "cred0", "cred1"]), list),
        }
    }
}

struct PhaseResult {
    mode: Mode,
    concurrency: usize,
    workload: Workload,
    tx_per_s: f64,
    p50_us: u64,
    cpu_us_per_tx: f64,
    /// Instructions per transaction, under callgrind.
    instructions_per_tx: Option<f64>,
}

/// Zeroes and dumps callgrind's counters of a process around a phase.
struct Callgrind {
    dir: PathBuf,
}

impl Callgrind {
    fn control(&self, args: &[&str], pid: u32) {
        let ok = Command::new("callgrind_control")
            .args(args)
            .arg(pid.to_string())
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "callgrind_control {args:?} {pid} failed");
    }

    /// Total instructions of the newest dump (callgrind writes `<out>.<n>` per dump).
    fn last_total(&self) -> u64 {
        let newest = std::fs::read_dir(&self.dir)
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with("ercc.cg."))
            .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
            .expect("a callgrind dump");
        std::fs::read_to_string(newest.path())
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("totals: ").or(l.strip_prefix("summary: ")))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .expect("totals line")
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_phase(
    peer: &Arc<Peer>,
    setup: &ModeSetup,
    workload: Workload,
    pid: u32,
    concurrency: usize,
    budget: Budget,
    callgrind: Option<&Callgrind>,
) -> PhaseResult {
    let (chaincode, args, want) = setup.request(workload);
    let stop = Arc::new(AtomicBool::new(false));
    let remaining = Arc::new(AtomicI64::new(
        budget
            .max_tx
            .map_or(i64::MAX, |n| (n * concurrency as u64) as i64),
    ));
    if let Some(cg) = callgrind {
        cg.control(&["--zero"], pid);
    }
    let cpu0 = cpu_us(&pid.to_string());
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (peer, chaincode, args, want, stop, remaining) = (
            peer.clone(),
            chaincode.clone(),
            args.clone(),
            want.clone(),
            stop.clone(),
            remaining.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) && remaining.fetch_sub(1, Ordering::Relaxed) > 0 {
                let t = Instant::now();
                let out = peer.transact(tx(&chaincode, &args, false)).await;
                latencies.push(t.elapsed().as_micros() as u64);
                let got = payload_of(&out, workload.label());
                assert!(
                    got == want,
                    "{}: wrong payload {:?}",
                    workload.label(),
                    String::from_utf8_lossy(&got)
                );
            }
            latencies
        }));
    }
    if budget.max_tx.is_none() {
        tokio::time::sleep(Duration::from_secs_f64(budget.secs)).await;
        stop.store(true, Ordering::Relaxed);
    }
    let mut latencies = Vec::new();
    for t in tasks {
        match t.await {
            Ok(l) => latencies.extend(l),
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu = cpu_us(&pid.to_string()) - cpu0;
    let instructions_per_tx = callgrind.map(|cg| {
        cg.control(&["--dump"], pid);
        cg.last_total() as f64 / latencies.len().max(1) as f64
    });
    let done = latencies.len() as u64;
    PhaseResult {
        mode: setup.mode,
        concurrency,
        workload,
        tx_per_s: done as f64 / elapsed,
        p50_us: util::median(&mut latencies),
        cpu_us_per_tx: cpu as f64 / done.max(1) as f64,
        instructions_per_tx,
    }
}

/// Launches the registry and the Node contract in `mode`, registers the enclave, seeds Node.
#[allow(clippy::too_many_arguments)]
async fn set_up(
    peer: &Arc<Peer>,
    reaper: &ReapOnPanic,
    dir: &Path,
    mode: Mode,
    ercc_exe: &Path,
    node_dir: Option<&Path>,
    callgrind: Option<&Callgrind>,
    settle: Duration,
) -> ModeSetup {
    let ercc = format!("ercc_{}", mode.label());
    let mut servers = Vec::new();
    let ercc_pid = match mode {
        Mode::Normal => {
            let pkg = util::rust_package(&ercc, ercc_exe);
            launch_normal(peer, reaper, &ercc, &pkg).await.1
        }
        Mode::Caas => {
            let server = match callgrind {
                Some(cg) => {
                    let out = format!("--callgrind-out-file={}", cg.dir.join("ercc.cg").display());
                    let exe = ercc_exe.display().to_string();
                    let args = ["--tool=callgrind", out.as_str(), exe.as_str()];
                    let wait = Duration::from_secs(120);
                    launch_caas(peer, dir, &ercc, Path::new("valgrind"), &args, wait).await
                }
                None => launch_caas(peer, dir, &ercc, ercc_exe, &[], Duration::from_secs(20)).await,
            };
            let pid = server.pid();
            servers.push(server);
            pid
        }
    };
    let (enclave, creds) = register(peer, &ercc, FPC_CC, MRENCLAVE).await;
    let node = match node_dir {
        None => None,
        Some(dir_node) => {
            let name = format!("kvnode_{}", mode.label());
            let pid = match mode {
                Mode::Normal => {
                    let pkg = util::node_package(&name, dir_node);
                    launch_normal(peer, reaper, &name, &pkg).await.1
                }
                Mode::Caas => {
                    let js = dir_node.join("chaincode.js").display().to_string();
                    let wait = Duration::from_secs(30);
                    let server =
                        launch_caas(peer, dir, &name, Path::new("node"), &[js.as_str()], wait)
                            .await;
                    let pid = server.pid();
                    servers.push(server);
                    pid
                }
            };
            let out = peer
                .transact(tx(&name, &["KV:Put", "cred0", creds.as_str()], true))
                .await;
            payload_of(&out, "seeding the Node contract");
            Some((name, pid))
        }
    };
    tokio::time::sleep(settle).await;
    let mut idle_rss_kib = vec![(
        format!("ercc ({})", mode.label()),
        status_kib(ercc_pid, "VmRSS:"),
    )];
    if let Some((_, pid)) = &node {
        idle_rss_kib.push((
            format!("node ({})", mode.label()),
            status_kib(*pid, "VmRSS:"),
        ));
    }
    ModeSetup {
        mode,
        ercc,
        ercc_pid,
        node,
        enclave_id: enclave.enclave_id(),
        creds,
        endpoint: enclave.endpoint.clone(),
        idle_rss_kib,
        _servers: servers,
    }
}

fn main() {
    let bench_mode = util::bench_mode();
    let budget = Budget::for_run(bench_mode, 2.0, 3);
    let modes: Vec<Mode> = std::env::var("BENCH_MODES")
        .unwrap_or_else(|_| "normal,caas".into())
        .split(',')
        .map(|m| match m.trim() {
            "normal" => Mode::Normal,
            "caas" => Mode::Caas,
            other => panic!("BENCH_MODES: unknown mode {other}"),
        })
        .collect();
    let fabric31 = std::env::var("BENCH_FABRIC31").is_ok_and(|v| v == "1");
    let callgrind = std::env::var("BENCH_CALLGRIND")
        .is_ok_and(|v| v == "1")
        .then(|| {
            let dir = std::env::var("BENCH_CALLGRIND_DIR").map_or_else(
                |_| util::manifest_dir().join("../../target/callgrind"),
                PathBuf::from,
            );
            std::fs::create_dir_all(&dir).unwrap();
            Callgrind { dir }
        });
    let skip_node = std::env::var("BENCH_SKIP_NODE").is_ok_and(|v| v == "1");
    let ercc_exe = util::ercc();
    let kv_exe = util::kv_chaincode();
    let node_dir = if skip_node {
        None
    } else {
        util::node_chaincode()
    };
    let settle = Duration::from_millis(if bench_mode { 1500 } else { 200 });

    let tmp = util::temp_dir("devpeer-hot-path-");
    let rt = util::runtime();
    let reaper = ReapOnPanic::default();
    let (results, rss) = rt.block_on(async {
        let opts =
            registry_setup::peer_options(tmp.path().join("home"), fabric31, node_dir.as_deref());
        let started = devpeer::server::start(opts).await.expect("devpeer start");
        let peer = started.peer.clone();
        // The chaincode-to-chaincode caller, which also stands in for the FPC chaincode.
        let caller_pkg = util::rust_package("kvcaller", &kv_exe);
        let (caller_id, _) = launch_normal(&peer, &reaper, "kvcaller", &caller_pkg).await;
        define_fpc_chaincode(&peer, FPC_CC, MRENCLAVE, &caller_id).await;

        let mut results = Vec::new();
        let mut rss = Vec::new();
        for mode in &modes {
            let cg = (*mode == Mode::Caas)
                .then_some(callgrind.as_ref())
                .flatten();
            let setup = set_up(
                &peer,
                &reaper,
                tmp.path(),
                *mode,
                &ercc_exe,
                node_dir.as_deref(),
                cg,
                settle,
            )
            .await;
            for c in CONCURRENCY {
                for w in Workload::RUST {
                    results.push(run_phase(&peer, &setup, w, setup.ercc_pid, c, budget, cg).await);
                }
                if let Some((_, pid)) = &setup.node {
                    for w in [Workload::NodeGet, Workload::NodeRange] {
                        results.push(run_phase(&peer, &setup, w, *pid, c, budget, None).await);
                    }
                }
            }
            for (name, idle) in &setup.idle_rss_kib {
                let pid = if name.starts_with("ercc") {
                    setup.ercc_pid
                } else {
                    setup.node.as_ref().map_or(0, |(_, p)| *p)
                };
                rss.push((name.clone(), *idle, status_kib(pid, "VmHWM:")));
            }
        }
        let _ = started.shutdown.send(true);
        started.run_until_stopped().await;
        (results, rss)
    });
    print_report(&results, &rss, bench_mode, budget, fabric31);
}

fn print_report(
    results: &[PhaseResult],
    rss: &[(String, u64, u64)],
    bench_mode: bool,
    budget: Budget,
    fabric31: bool,
) {
    println!();
    println!(
        "devpeer (in-process, TLS, redb) -> ercc and the Node shim; {}; READY parameters: {}",
        match budget.max_tx {
            Some(n) => format!("{n} transactions per worker and phase (smoke)"),
            None => format!("{} s per phase", budget.secs),
        },
        if fabric31 {
            "Fabric 3.1"
        } else {
            "none (Fabric 2.5)"
        }
    );
    println!(
        "machine: {} CPUs, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        util::load_average()
    );
    println!();
    println!(
        "{:<7} {:>3} {:<29} {:>8} {:>9} {:>9} {:>10} {:>9} {:>9}",
        "mode", "c", "workload", "tx/s", "p50 ms", "CPU us/tx", "node us/tx", "CPU/node", "Ir/tx"
    );
    for r in results {
        let baseline = results.iter().find(|b| {
            b.mode == r.mode
                && b.concurrency == r.concurrency
                && b.workload == r.workload.node_baseline()
        });
        let (node_us, ratio) = match baseline {
            Some(b) if b.workload != r.workload => (
                format!("{:.0}", b.cpu_us_per_tx),
                format!(
                    "{:.2}x",
                    r.cpu_us_per_tx / b.cpu_us_per_tx.max(f64::MIN_POSITIVE)
                ),
            ),
            _ => ("-".into(), "-".into()),
        };
        println!(
            "{:<7} {:>3} {:<29} {:>8.0} {:>9.2} {:>9.0} {:>10} {:>9} {:>9}",
            r.mode.label(),
            r.concurrency,
            r.workload.label(),
            r.tx_per_s,
            r.p50_us as f64 / 1000.0,
            r.cpu_us_per_tx,
            node_us,
            ratio,
            r.instructions_per_tx
                .map_or("-".into(), |i| format!("{:.0}", i))
        );
    }
    println!();
    println!(
        "{:<16} {:>13} {:>13}",
        "process", "idle RSS MiB", "peak RSS MiB"
    );
    for (name, idle, peak) in rss {
        println!("{name:<16} {:>13.2} {:>13.2}", mib(*idle), mib(*peak));
    }
    if !bench_mode {
        println!("(smoke run under cargo test: every transaction checked, numbers not meaningful)");
        return;
    }
    println!();
    let ratios: Vec<f64> = results
        .iter()
        .filter(|r| Workload::RUST.contains(&r.workload))
        .filter_map(|r| {
            let b = results.iter().find(|b| {
                b.mode == r.mode
                    && b.concurrency == r.concurrency
                    && b.workload == r.workload.node_baseline()
            })?;
            Some(r.cpu_us_per_tx / b.cpu_us_per_tx.max(f64::MIN_POSITIVE))
        })
        .collect();
    match ratios.iter().copied().reduce(f64::max) {
        Some(worst) => println!(
            "target CPU per request <= 0.25x Node: {} (highest ratio {worst:.2}x)",
            if worst <= 0.25 { "met" } else { "NOT met" }
        ),
        None => println!("target CPU per request <= 0.25x Node: not measured (no Node side)"),
    }
    if results.iter().any(|r| r.instructions_per_tx.is_some()) {
        println!("(CaaS registry ran under callgrind: its CPU, latency and RSS are valgrind's)");
    }
    for (name, idle, peak) in rss.iter().filter(|(n, _, _)| n.starts_with("ercc")) {
        println!(
            "target {name} idle RSS <= 5 MiB, peak <= 8 MiB: {} ({:.2} / {:.2} MiB)",
            if mib(*idle) <= 5.0 && mib(*peak) <= 8.0 {
                "met"
            } else {
                "NOT met"
            },
            mib(*idle),
            mib(*peak)
        );
    }
}
