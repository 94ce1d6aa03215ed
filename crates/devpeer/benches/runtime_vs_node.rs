//! The chaincode runtime benchmark, run through the dev peer: one devpeer, started in-process
//! in a temporary home (normal mode, TLS on), installs two packages through
//! external builders (`benches/builders/`): the Rust `kv_chaincode` example of
//! `fabric-chaincode`, and the same get/put contract on the official Node `fabric-shim`
//! (`crates/fabric-chaincode/benches/node/`). The same workload is driven against each through
//! `Peer::transact` with many transactions in flight, and the table gives transactions per
//! second, the ratio, and the chaincode processes' idle and peak RSS.
//!
//! Phases, each `BENCH_SECS` seconds (default 3) with `BENCH_CONCURRENCY` transactions in
//! flight (default 32), every worker on its own key so no transaction conflicts:
//! - `invoke`: `KV:Update` (GET_STATE + PUT_STATE), endorsed then committed to the ledger
//!   (MVCC check, one redb write transaction per block, as a peer commits);
//! - `endorse`: the same proposal, simulated only (what the runtime does, without the commit);
//! - `query`: `KV:Get`, checked against the value the worker last committed.
//!
//! `cargo bench -p devpeer --bench runtime_vs_node` runs it on release builds (building the
//! release `kv_chaincode` example first). Under `cargo test --all-targets` (no `--bench`
//! argument) it is a smoke test: a few transactions per phase and side, each checked, no timing.
//! `BENCH_SKIP_NODE=1` runs the Rust side only; without `node` on PATH the Node side is skipped
//! with a warning. The home is made under `$TMPDIR` (`TMPDIR=/dev/shm` takes the disk's fsync
//! out of the `invoke` phase).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;
mod util;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use devpeer::peer::{Peer, TxOutcome};
use util::{
    cpu_us, env_or, kv_chaincode, launch_normal, mib, node_chaincode, node_package, payload,
    rust_package, status_kib, tx, Budget, ReapOnPanic,
};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Invoke,
    Endorse,
    Query,
}

impl Phase {
    const ALL: [Phase; 3] = [Phase::Invoke, Phase::Endorse, Phase::Query];

    fn label(self) -> &'static str {
        match self {
            Phase::Invoke => "invoke (Update + commit)",
            Phase::Endorse => "endorse (Update, no commit)",
            Phase::Query => "query (Get)",
        }
    }
}

struct PhaseResult {
    tx_per_s: f64,
    done: u64,
    /// CPU the chaincode process spent per transaction (µs): the runtime's cost, whatever
    /// else competes for the machine.
    chaincode_cpu_us: f64,
    /// CPU this process (the peer and the load generator) spent per transaction (µs).
    peer_cpu_us: f64,
}

struct SideResult {
    name: &'static str,
    phases: Vec<PhaseResult>,
    idle_rss_kib: u64,
    peak_rss_kib: u64,
}

/// Checks one transaction's outcome; a failure is a broken peer or chaincode, not noise.
fn check(side: &str, phase: Phase, out: &TxOutcome, expected_payload: Option<&[u8]>) {
    assert_eq!(
        out.status,
        200,
        "{side} {}: transaction {} failed: {}",
        phase.label(),
        out.txid,
        out.message
    );
    if phase == Phase::Invoke {
        assert!(out.block.is_some(), "{side}: invoke was not committed");
    } else {
        assert!(out.block.is_none(), "{side}: a {} committed", phase.label());
    }
    if let Some(want) = expected_payload {
        assert_eq!(
            payload(out),
            want,
            "{side} {}: wrong payload",
            phase.label()
        );
    }
}

/// Runs one phase with `workers` transactions in flight. `last` holds each worker's committed
/// value: invoke updates it, query checks that Get returns it.
#[allow(clippy::too_many_arguments)]
async fn run_phase(
    peer: &Arc<Peer>,
    pid: u32,
    side: &'static str,
    chaincode: &str,
    phase: Phase,
    workers: usize,
    budget: Budget,
    last: &Arc<Vec<Mutex<String>>>,
) -> PhaseResult {
    let done = Arc::new(AtomicU64::new(0));
    let remaining = Arc::new(AtomicI64::new(budget.max_tx.map_or(i64::MAX, |n| n as i64)));
    let stop = Arc::new(AtomicBool::new(false));
    let pid = pid.to_string();
    let (cc_cpu0, peer_cpu0) = (cpu_us(&pid), cpu_us("self"));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(workers);
    for w in 0..workers {
        let (peer, chaincode, done, remaining, stop, last) = (
            peer.clone(),
            chaincode.to_string(),
            done.clone(),
            remaining.clone(),
            stop.clone(),
            last.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let key = format!("key{w}");
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) && remaining.fetch_sub(1, Ordering::Relaxed) > 0 {
                match phase {
                    Phase::Invoke | Phase::Endorse => {
                        let value = format!("{side}-{w}-{n}");
                        let commit = phase == Phase::Invoke;
                        let out = peer
                            .transact(tx(&chaincode, &["KV:Update", &key, &value], commit))
                            .await;
                        check(side, phase, &out, None);
                        if commit {
                            *last[w].lock().unwrap() = value;
                        }
                    }
                    Phase::Query => {
                        let want = last[w].lock().unwrap().clone();
                        let out = peer
                            .transact(tx(&chaincode, &["KV:Get", &key], false))
                            .await;
                        check(side, phase, &out, Some(want.as_bytes()));
                    }
                }
                done.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }));
    }
    if budget.max_tx.is_none() {
        tokio::time::sleep(Duration::from_secs_f64(budget.secs)).await;
        stop.store(true, Ordering::Relaxed);
    }
    for t in tasks {
        if let Err(e) = t.await {
            std::panic::resume_unwind(e.into_panic());
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (cc_cpu, peer_cpu) = (cpu_us(&pid) - cc_cpu0, cpu_us("self") - peer_cpu0);
    let done = done.load(Ordering::Relaxed);
    let per_tx = |us: u64| us as f64 / done.max(1) as f64;
    PhaseResult {
        tx_per_s: done as f64 / elapsed,
        done,
        chaincode_cpu_us: per_tx(cc_cpu),
        peer_cpu_us: per_tx(peer_cpu),
    }
}

/// Installs and defines one chaincode, then measures it.
#[allow(clippy::too_many_arguments)]
async fn measure(
    peer: &Arc<Peer>,
    reaper: &ReapOnPanic,
    name: &'static str,
    chaincode: &str,
    package_bytes: Vec<u8>,
    workers: usize,
    budget: Budget,
    settle: Duration,
) -> SideResult {
    let (_, pid) = launch_normal(peer, reaper, chaincode, &package_bytes).await;

    // Seed every worker's key (also the warm-up), let the process settle, read its idle RSS.
    let last: Arc<Vec<Mutex<String>>> =
        Arc::new((0..workers).map(|_| Mutex::new(String::new())).collect());
    for (w, slot) in last.iter().enumerate() {
        let value = format!("seed{w}");
        let out = peer
            .transact(tx(chaincode, &["KV:Put", &format!("key{w}"), &value], true))
            .await;
        check(name, Phase::Invoke, &out, Some(b""));
        *slot.lock().unwrap() = value;
    }
    tokio::time::sleep(settle).await;
    let idle_rss_kib = status_kib(pid, "VmRSS:");

    let mut phases = Vec::new();
    for phase in Phase::ALL {
        phases.push(run_phase(peer, pid, name, chaincode, phase, workers, budget, &last).await);
    }
    let peak_rss_kib = status_kib(pid, "VmHWM:");
    assert!(
        idle_rss_kib > 0 && peak_rss_kib > 0,
        "{name}: could not read /proc/{pid}/status"
    );
    SideResult {
        name,
        phases,
        idle_rss_kib,
        peak_rss_kib,
    }
}

fn main() {
    let bench_mode = util::bench_mode();
    let workers: usize = env_or("BENCH_CONCURRENCY", if bench_mode { 32 } else { 4 }).max(1);
    // `max_tx` counts every worker's transactions together here.
    let budget = Budget::for_run(bench_mode, 3.0, 3 * workers as u64);
    let settle = Duration::from_millis(if bench_mode { 1500 } else { 200 });
    let skip_node = std::env::var("BENCH_SKIP_NODE").is_ok_and(|v| v == "1");

    let rust_exe = kv_chaincode();
    let node_dir = if skip_node {
        eprintln!("BENCH_SKIP_NODE=1: skipping the Node side");
        None
    } else {
        node_chaincode()
    };

    let tmp = util::temp_dir("devpeer-bench-");
    let opts = util::peer_options(
        tmp.path().join("home"),
        "mychannel",
        false,
        node_dir.as_deref(),
    );
    let rt = util::runtime();
    let reaper = ReapOnPanic::default();
    let results = rt.block_on(async {
        let started = devpeer::server::start(opts).await.expect("devpeer start");
        let peer = started.peer.clone();
        let mut results = Vec::new();

        let rust_pkg = rust_package("kvrust", &rust_exe);
        results.push(
            measure(
                &peer,
                &reaper,
                "rust (fabric-chaincode)",
                "kvrust",
                rust_pkg,
                workers,
                budget,
                settle,
            )
            .await,
        );
        if let Some(dir) = &node_dir {
            let node_pkg = node_package("kvnode", dir);
            results.push(
                measure(
                    &peer,
                    &reaper,
                    "node (fabric-shim 2.5.8)",
                    "kvnode",
                    node_pkg,
                    workers,
                    budget,
                    settle,
                )
                .await,
            );
        }
        let _ = started.shutdown.send(true);
        started.run_until_stopped().await;
        results
    });

    print_report(&results, bench_mode, workers, budget);
}

fn print_report(results: &[SideResult], bench_mode: bool, workers: usize, budget: Budget) {
    println!();
    println!(
        "devpeer (in-process, normal mode, TLS, redb ledger) -> chaincode over gRPC; {workers} in flight, {}",
        match budget.max_tx {
            Some(n) => format!("{n} transactions per phase (smoke)"),
            None => format!("{} s per phase", budget.secs),
        }
    );
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        println!(
            "machine: {} CPUs, load average {}",
            std::thread::available_parallelism().map_or(0, |n| n.get()),
            load.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        );
    }
    let rust = results.first();
    let node = results.get(1);
    println!();
    println!(
        "{:<28} {:>12} {:>12} {:>11}",
        "phase", "rust tx/s", "node tx/s", "rust/node"
    );
    for (i, phase) in Phase::ALL.iter().enumerate() {
        let r = rust.map(|s| &s.phases[i]);
        let n = node.map(|s| &s.phases[i]);
        let fmt =
            |p: Option<&PhaseResult>| p.map_or("-".to_string(), |p| format!("{:.0}", p.tx_per_s));
        let ratio = match (r, n) {
            (Some(r), Some(n)) if n.tx_per_s > 0.0 => format!("{:.2}x", r.tx_per_s / n.tx_per_s),
            _ => "-".into(),
        };
        println!(
            "{:<28} {:>12} {:>12} {:>11}",
            phase.label(),
            fmt(r),
            fmt(n),
            ratio
        );
    }
    println!();
    println!(
        "{:<28} {:>12} {:>12} {:>11} {:>12} {:>12}",
        "CPU per transaction (us)", "rust cc", "node cc", "node/rust", "peer (rust)", "peer (node)"
    );
    for (i, phase) in Phase::ALL.iter().enumerate() {
        let r = rust.map(|s| &s.phases[i]);
        let n = node.map(|s| &s.phases[i]);
        let us = |p: Option<&PhaseResult>, f: fn(&PhaseResult) -> f64| {
            p.map_or("-".to_string(), |p| format!("{:.0}", f(p)))
        };
        let ratio = match (r, n) {
            (Some(r), Some(n)) if r.chaincode_cpu_us > 0.0 => {
                format!("{:.2}x", n.chaincode_cpu_us / r.chaincode_cpu_us)
            }
            _ => "-".into(),
        };
        println!(
            "{:<28} {:>12} {:>12} {:>11} {:>12} {:>12}",
            phase.label(),
            us(r, |p| p.chaincode_cpu_us),
            us(n, |p| p.chaincode_cpu_us),
            ratio,
            us(r, |p| p.peer_cpu_us),
            us(n, |p| p.peer_cpu_us),
        );
    }
    println!();
    println!(
        "{:<28} {:>14} {:>14} {:>9}",
        "chaincode process", "idle RSS MiB", "peak RSS MiB", "tx run"
    );
    for s in results {
        println!(
            "{:<28} {:>14.1} {:>14.1} {:>9}",
            s.name,
            mib(s.idle_rss_kib),
            mib(s.peak_rss_kib),
            s.phases.iter().map(|p| p.done).sum::<u64>()
        );
    }
    if !bench_mode {
        println!("(smoke run under cargo test: every transaction checked, numbers not meaningful)");
        return;
    }
    println!();
    if let (Some(r), Some(n)) = (rust, node) {
        let worst = Phase::ALL
            .iter()
            .enumerate()
            .map(|(i, _)| r.phases[i].tx_per_s / n.phases[i].tx_per_s.max(f64::MIN_POSITIVE))
            .fold(f64::INFINITY, f64::min);
        println!(
            "target >= 2x Node throughput: {} (lowest phase ratio {worst:.2}x)",
            if worst >= 2.0 { "met" } else { "NOT met" }
        );
        let cpu = Phase::ALL
            .iter()
            .enumerate()
            .map(|(i, _)| {
                n.phases[i].chaincode_cpu_us / r.phases[i].chaincode_cpu_us.max(f64::MIN_POSITIVE)
            })
            .fold(f64::INFINITY, f64::min);
        println!(
            "chaincode CPU per transaction node/rust: lowest phase {cpu:.2}x (tx/s also pays the peer's CPU, on the same machine)"
        );
        println!(
            "peak RSS node/rust: {:.1}x",
            n.peak_rss_kib as f64 / r.peak_rss_kib.max(1) as f64
        );
    }
    if let Some(r) = rust {
        println!(
            "target < 15 MiB idle RSS (rust): {} ({:.1} MiB)",
            if mib(r.idle_rss_kib) < 15.0 {
                "met"
            } else {
                "NOT met"
            },
            mib(r.idle_rss_kib)
        );
    }
}
