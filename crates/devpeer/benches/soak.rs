//! Soak run of the registry through the dev peer: the real `ercc` in normal mode
//! (TLS), `SOAK_ENCLAVES` enclaves registered (default 1,000: one FPC chaincode definition
//! each, simulated evidence), then `SOAK_QUERIES` queries (default 100,000) with 16 in flight,
//! cycling through `queryEnclaveCredentials`, `queryChaincodeEndPoints` and
//! `queryListEnclaveCredentials` over all registered chaincodes, every answer checked. Prints
//! the `ercc` process's RSS at start, after the registrations, half-way through the queries
//! and at the end (and its peak): a leak or an unbounded cache shows as growth between the
//! last two.
//!
//! Bounded in count and in time: the run fails if it takes longer than `SOAK_MAX_SECS`
//! (default 290). `cargo bench -p devpeer --bench soak`; under `cargo test --all-targets` it is
//! a smoke run (5 enclaves, 60 queries).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/ercc_common/mod.rs"]
mod ercc_common;
mod registry_setup;
mod util;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use registry_setup::{define_fpc_chaincode, register};
use util::{env_or, launch_normal, mib, payload_of, status_kib, tx, ReapOnPanic};

const MRENCLAVE: [u8; 32] = [0x77; 32];
const IN_FLIGHT: usize = 16;
const REGISTRATIONS_IN_FLIGHT: usize = 8;

/// What one registered enclave's queries must answer.
struct Registered {
    cc_id: String,
    enclave_id: String,
    creds: String,
    endpoint: String,
}

impl Registered {
    fn query(&self, n: u64) -> (Vec<&str>, Vec<u8>) {
        match n % 3 {
            0 => (
                vec![
                    "queryEnclaveCredentials",
                    &self.cc_id[..],
                    &self.enclave_id[..],
                ],
                self.creds.clone().into_bytes(),
            ),
            1 => (
                vec!["queryChaincodeEndPoints", &self.cc_id[..]],
                self.endpoint.clone().into_bytes(),
            ),
            _ => (
                vec!["queryListEnclaveCredentials", &self.cc_id[..]],
                serde_json::to_vec(&[&self.creds]).unwrap(),
            ),
        }
    }
}

fn main() {
    let bench_mode = util::bench_mode();
    let enclaves: usize = env_or("SOAK_ENCLAVES", if bench_mode { 1000 } else { 5 });
    let queries: u64 = env_or("SOAK_QUERIES", if bench_mode { 100_000 } else { 60 });
    let max = Duration::from_secs(env_or("SOAK_MAX_SECS", 290));
    let ercc_exe = util::ercc();
    let kv_exe = util::kv_chaincode();

    let tmp = util::temp_dir("devpeer-soak-");
    let rt = util::runtime();
    let reaper = ReapOnPanic::default();
    let t0 = Instant::now();
    let check_time = |what: &str| {
        assert!(
            t0.elapsed() < max,
            "soak exceeded SOAK_MAX_SECS={} s during {what}",
            max.as_secs()
        );
    };
    let report = rt.block_on(async {
        let opts = registry_setup::peer_options(tmp.path().join("home"), false, None);
        let started = devpeer::server::start(opts).await.expect("devpeer start");
        let peer = started.peer.clone();
        let (_, pid) = launch_normal(
            &peer,
            &reaper,
            "ercc",
            &util::rust_package("ercc", &ercc_exe),
        )
        .await;
        // One package backs every FPC chaincode definition (it is only launched once).
        let (fpc_pkg, _) = launch_normal(
            &peer,
            &reaper,
            "fpcstub",
            &util::rust_package("fpcstub", &kv_exe),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss_start = status_kib(pid, "VmRSS:");

        let t_reg = Instant::now();
        let mut registered = Vec::with_capacity(enclaves);
        for chunk in (0..enclaves)
            .collect::<Vec<_>>()
            .chunks(REGISTRATIONS_IN_FLIGHT)
        {
            let mut tasks = Vec::new();
            for i in chunk {
                let (peer, pkg, cc_id) = (peer.clone(), fpc_pkg.clone(), format!("soak{i:04}"));
                tasks.push(tokio::spawn(async move {
                    define_fpc_chaincode(&peer, &cc_id, MRENCLAVE, &pkg).await;
                    let (enclave, creds) = register(&peer, "ercc", &cc_id, MRENCLAVE).await;
                    Registered {
                        cc_id,
                        enclave_id: enclave.enclave_id(),
                        creds,
                        endpoint: enclave.endpoint,
                    }
                }));
            }
            for t in tasks {
                registered.push(
                    t.await
                        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic())),
                );
            }
            check_time("registrations");
        }
        let reg_secs = t_reg.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let rss_registered = status_kib(pid, "VmRSS:");

        let registered = Arc::new(registered);
        let next = Arc::new(AtomicU64::new(0));
        // RSS half-way through the queries: growth that continues past it is a leak, growth
        // that stops is warm-up (the transaction threads for 16 in flight and their buffers).
        let rss_half = Arc::new(AtomicU64::new(0));
        let t_q = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..IN_FLIGHT {
            let (peer, registered, next, rss_half) = (
                peer.clone(),
                registered.clone(),
                next.clone(),
                rss_half.clone(),
            );
            tasks.push(tokio::spawn(async move {
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= queries || t0.elapsed() >= max {
                        return;
                    }
                    if n == queries / 2 {
                        rss_half.store(status_kib(pid, "VmRSS:"), Ordering::Relaxed);
                    }
                    let r = &registered[(n / 3) as usize % registered.len()];
                    let (args, want) = r.query(n);
                    let out = peer.transact(tx("ercc", &args, false)).await;
                    assert!(
                        payload_of(&out, "soak query") == want,
                        "query {n} on {} answered wrongly",
                        r.cc_id
                    );
                }
            }));
        }
        for t in tasks {
            t.await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        }
        check_time("queries");
        let q_secs = t_q.elapsed().as_secs_f64();
        let rss_end = status_kib(pid, "VmRSS:");
        let peak = status_kib(pid, "VmHWM:");
        let _ = started.shutdown.send(true);
        started.run_until_stopped().await;
        let half = rss_half.load(Ordering::Relaxed);
        (
            rss_start,
            rss_registered,
            half,
            rss_end,
            peak,
            reg_secs,
            q_secs,
        )
    });
    let (start, registered, half, end, peak, reg_secs, q_secs) = report;
    println!();
    println!(
        "soak: {enclaves} registrations ({:.0}/s), then {queries} queries with {IN_FLIGHT} in flight ({:.0}/s), every answer checked, no error",
        enclaves as f64 / reg_secs,
        queries as f64 / q_secs
    );
    println!(
        "machine: {} CPUs, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        util::load_average()
    );
    println!(
        "ercc RSS MiB: start {:.2}, after registrations {:.2}, half-way through the queries {:.2}, end {:.2} (peak {:.2}); end - half-way = {:+.2} MiB",
        mib(start),
        mib(registered),
        mib(half),
        mib(end),
        mib(peak),
        mib(end) - mib(half)
    );
    if !bench_mode {
        println!("(smoke run under cargo test: counts reduced)");
    }
}
