//! Throughput and memory benchmark: one peer (this process) drives the same get/put workload
//! through our runtime (`examples/kv_chaincode`, a separate process in normal mode) and through
//! the official Node shim (`benches/node/chaincode.js`, `fabric-shim` from npm), and prints
//! transactions per second, idle and peak RSS of each chaincode process, and the ratio.
//!
//! `cargo bench -p fabric-chaincode --bench throughput` measures 3 s per side with optimised
//! builds. Under `cargo test --all-targets` (CI) the same code runs as a smoke test: 0.5 s per
//! side on debug builds, failing on any transaction error; its numbers are not meaningful.
//! Environment: `BENCH_SECS` (measured seconds per side), `BENCH_CONCURRENCY` (transactions in
//! flight, default 32), `BENCH_SKIP_NODE=1` to run the Rust side only (e.g. without npm).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/peer.rs"]
mod peer;
mod profile_build;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use peer::NormalPeer;

struct Measured {
    name: &'static str,
    tx_per_s: f64,
    idle_rss_kib: u64,
    peak_rss_kib: u64,
    errors: u64,
}

fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The example binary, built in this bench's profile (`cargo bench` does not build examples,
/// and one left by an older build must not be measured).
fn rust_chaincode() -> PathBuf {
    profile_build::build_in_profile(
        &["-p", "fabric-chaincode", "--example", "kv_chaincode"],
        "examples/kv_chaincode",
    )
}

/// Installs the Node shim from package-lock.json when needed.
fn node_chaincode() -> Option<PathBuf> {
    let dir = crate_dir().join("benches").join("node");
    let node_runs = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !node_runs {
        eprintln!("`node` is not installed; skipping the Node side");
        return None;
    }
    if !dir.join("node_modules").join("fabric-shim").exists() {
        eprintln!("installing fabric-shim with `npm ci` in {}", dir.display());
        let ok = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("npm ci failed; skipping the Node side");
            return None;
        }
    }
    Some(dir.join("chaincode.js"))
}

async fn measure(
    name: &'static str,
    mut command: tokio::process::Command,
    secs: f64,
    concurrency: usize,
) -> Measured {
    let mut peer = NormalPeer::start(None).await;
    command
        .env("CORE_CHAINCODE_ID_NAME", "kv:1")
        .env("CORE_PEER_TLS_ENABLED", "false")
        .env("FABRIC_LOGGING_SPEC", "WARNING")
        .env("CORE_CHAINCODE_LOGGING_LEVEL", "warning")
        .env("CORE_CHAINCODE_LOGGING_SHIM", "warning")
        .env_remove("CHAINCODE_PKG_ID")
        .env_remove("CHAINCODE_SERVER_ADDRESS")
        .stdout(Stdio::null())
        .kill_on_drop(true);
    // Both shims take the Go-style flag.
    command.arg("--peer.address").arg(peer.addr.to_string());
    let mut child = command.spawn().expect("start chaincode");
    let pid = child.id().unwrap();
    let conn = peer.next_conn().await;

    // Seed the keys and warm up, then let the process settle and read its idle RSS.
    for i in 0..concurrency {
        let out = conn
            .invoke(
                "bench",
                &format!("seed{i}"),
                &["KV:Put", &format!("key{i}"), "v"],
            )
            .await;
        assert_eq!(out.response().status, 200, "{name}: {:?}", out.response());
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let idle_rss_kib = status_field(pid, "VmRSS:");

    let done = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    let started = Instant::now();
    for w in 0..concurrency {
        let (conn, done, errors, stop) = (conn.clone(), done.clone(), errors.clone(), stop.clone());
        workers.push(tokio::spawn(async move {
            let key = format!("key{w}");
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let txid = format!("w{w}-{n}");
                let out = conn
                    .invoke("bench", &txid, &["KV:Update", &key, &txid])
                    .await;
                match out {
                    peer::Outcome::Completed(r, _) if r.status == 200 => {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                n += 1;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed().as_secs_f64();
    for w in workers {
        w.await.unwrap();
    }
    let peak_rss_kib = status_field(pid, "VmHWM:");
    let _ = child.start_kill();
    let _ = child.wait().await;
    peer.stop();
    Measured {
        name,
        tx_per_s: done.load(Ordering::Relaxed) as f64 / elapsed,
        idle_rss_kib,
        peak_rss_kib,
        errors: errors.load(Ordering::Relaxed),
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test` does not.
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let default_secs = if bench_mode { 3.0 } else { 0.5 };
    let secs: f64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default_secs);
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    let skip_node = std::env::var("BENCH_SKIP_NODE").is_ok_and(|v| v == "1");
    let rust_exe = rust_chaincode();
    let node_js = if skip_node { None } else { node_chaincode() };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut results = Vec::new();
    rt.block_on(async {
        results.push(
            measure(
                "rust (fabric-chaincode)",
                tokio::process::Command::new(&rust_exe),
                secs,
                concurrency,
            )
            .await,
        );
        if let Some(js) = &node_js {
            let mut cmd = tokio::process::Command::new("node");
            cmd.arg(js)
                .current_dir(js.parent().unwrap_or(Path::new(".")));
            results.push(measure("node (fabric-shim 2.5.8)", cmd, secs, concurrency).await);
        }
    });

    println!();
    println!(
        "workload: KV:Update (GET_STATE + PUT_STATE) over plain gRPC, {concurrency} in flight, {secs} s per side"
    );
    println!(
        "{:<26} {:>10} {:>14} {:>14} {:>7}",
        "chaincode", "tx/s", "idle RSS MiB", "peak RSS MiB", "errors"
    );
    for r in &results {
        println!(
            "{:<26} {:>10.0} {:>14.1} {:>14.1} {:>7}",
            r.name,
            r.tx_per_s,
            mib(r.idle_rss_kib),
            mib(r.peak_rss_kib),
            r.errors
        );
    }
    for r in &results {
        assert_eq!(r.errors, 0, "{}: transactions failed", r.name);
        assert!(r.tx_per_s > 0.0, "{}: no transaction completed", r.name);
    }
    if !bench_mode {
        println!("(smoke run under cargo test: debug build, numbers not meaningful)");
    }
    if let [rust, node] = results.as_slice() {
        println!(
            "throughput ratio rust/node: {:.2}x   peak RSS ratio node/rust: {:.2}x",
            rust.tx_per_s / node.tx_per_s.max(f64::MIN_POSITIVE),
            node.peak_rss_kib as f64 / rust.peak_rss_kib.max(1) as f64
        );
    }
}
