//! The operations endpoint of a real chaincode process (the `kv_chaincode` example): `/healthz`
//! in Fabric's format, 503 while the peer stream is not up and 200 once it is, and Prometheus
//! `/metrics` read with a real HTTP client and parsed with a Prometheus text-format parser.
//! Also: a process dialling a silent peer gives up within the dial timeout and says why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::peer::NormalPeer;
use common::{example_binary, kv_normal_mode, silent_peer};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

fn spawn_kv(peer: std::net::SocketAddr, ops_port: u16) -> tokio::process::Child {
    kv_normal_mode(peer)
        .env(
            "CHAINCODE_OPERATIONS_LISTEN_ADDRESS",
            format!("127.0.0.1:{ops_port}"),
        )
        .spawn()
        .unwrap()
}

/// GET `path`, retrying while the endpoint is not listening yet; `(status, body)`.
async fn get(port: u16, path: &str) -> (u16, String) {
    let url = format!("http://127.0.0.1:{port}{path}");
    tokio::task::spawn_blocking(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match agent.get(&url).call() {
                Ok(mut r) => {
                    let status = r.status().as_u16();
                    return (status, r.body_mut().read_to_string().unwrap());
                }
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(50));
                }
                Err(e) => panic!("GET {url}: {e}"),
            }
        }
    })
    .await
    .unwrap()
}

/// Polls `/healthz` until 200 (right after start the check may still fail, naming
/// `component`); returns the body.
async fn wait_healthy(port: u16, component: &str) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = get(port, "/healthz").await;
        let health: serde_json::Value = serde_json::from_str(&body).unwrap();
        if status == 200 {
            assert_eq!(health["status"], "OK");
            return health;
        }
        assert_eq!(status, 503, "{body}");
        let failed = health["failed_checks"][0]["component"].as_str().unwrap();
        assert!(failed == component || failed == "runtime", "{body}");
        assert!(Instant::now() < deadline, "never healthy: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn samples(text: &str) -> Vec<prometheus_parse::Sample> {
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).unwrap().samples
}

fn counter(samples: &[prometheus_parse::Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
            ref other => panic!("{name} is not a counter: {other:?}"),
        })
        .unwrap_or_else(|| panic!("no {name} {labels:?} in the scrape"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_metrics_of_a_running_chaincode() {
    let mut peer = NormalPeer::start(None).await;
    let ops = free_port();
    let _child = spawn_kv(peer.addr, ops);
    let conn = peer.next_conn().await;
    let health = wait_healthy(ops, "peer_stream").await;
    assert!(health["time"].as_str().unwrap().ends_with('Z'), "{health}");

    assert_eq!(
        conn.invoke("ch", "t1", &["KV:put", "k", "v"])
            .await
            .response()
            .status,
        200
    );
    assert_eq!(
        conn.invoke("ch", "t2", &["put", "k2", "v"])
            .await
            .response()
            .status,
        200
    );
    assert_eq!(
        conn.invoke("ch", "t3", &["get"]).await.response().status,
        500
    );
    assert_eq!(
        conn.invoke("ch", "t4", &["nosuch"]).await.response().status,
        500
    );

    let (status, text) = get(ops, "/metrics").await;
    assert_eq!(status, 200);
    let s = samples(&text);
    let tx = "chaincode_contract_transactions_total";
    assert_eq!(
        counter(&s, tx, &[("function", "Put"), ("outcome", "success")]),
        2.0,
        "{text}"
    );
    assert_eq!(
        counter(&s, tx, &[("function", "Get"), ("outcome", "error")]),
        1.0
    );
    assert_eq!(
        counter(&s, tx, &[("function", "unknown"), ("outcome", "error")]),
        1.0
    );
    let count = s
        .iter()
        .find(|x| {
            x.metric == "chaincode_contract_transaction_duration_seconds_count"
                && x.labels.get("function") == Some("Put")
        })
        .map(|x| x.value.clone());
    assert!(
        matches!(count, Some(prometheus_parse::Value::Untyped(v) | prometheus_parse::Value::Counter(v)) if v == 2.0),
        "{count:?}\n{text}"
    );
    assert_eq!(get(ops, "/nothing").await.0, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_peer_gives_unhealthy_then_a_bounded_exit_naming_the_address() {
    let peer = silent_peer();
    let ops = free_port();
    let started = Instant::now();
    let child = spawn_kv(peer, ops);
    let (status, body) = get(ops, "/healthz").await;
    assert_eq!(status, 503, "{body}");
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["status"], "Service Unavailable");
    assert_eq!(
        health["failed_checks"][0]["component"], "peer_stream",
        "{body}"
    );

    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the chaincode gives up on its own")
        .unwrap();
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(elapsed < Duration::from_secs(20), "{elapsed:?}");
    assert!(
        stderr.contains(&format!("cannot connect to the peer at {peer} (timeout)")),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caas_server_is_healthy_while_serving() {
    let ops = free_port();
    let server = free_port();
    let _child = tokio::process::Command::new(example_binary())
        .env("CHAINCODE_PKG_ID", "kv:1")
        .env("CHAINCODE_SERVER_ADDRESS", format!("127.0.0.1:{server}"))
        .env("CHAINCODE_TLS_DISABLED", "true")
        .env(
            "CHAINCODE_OPERATIONS_LISTEN_ADDRESS",
            format!("127.0.0.1:{ops}"),
        )
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    wait_healthy(ops, "chaincode_server").await;
    let (status, text) = get(ops, "/metrics").await;
    assert_eq!(status, 200);
    // No transaction yet: no samples, but a well-formed exposition.
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
}
