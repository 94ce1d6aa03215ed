//! Shared test fixtures: the test peer, a test PKI made with rcgen, a chaincode exercising
//! every stub call, and helpers to run the runtime in-process.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod peer;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fabric_chaincode::config::{CaasConfig, ServerTls};
use fabric_chaincode::{
    create_composite_key, error, split_composite_key, success, Chaincode, ChaincodeStub, Execution,
    Response, RuntimeError, StubError,
};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, SanType,
};
use tokio::sync::oneshot;

/// A CA with helpers to issue server and client certificates.
pub struct Pki {
    pub ca: CertifiedIssuer<'static, KeyPair>,
}

pub struct Issued {
    pub cert_pem: String,
    /// PKCS#8 under the label Fabric uses ("EC PRIVATE KEY").
    pub key_pem: String,
}

impl Pki {
    pub fn new(name: &str) -> Pki {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Pki { ca }
    }

    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    /// A server certificate for 127.0.0.1 (as an IP SAN) and localhost.
    pub fn server(&self) -> Issued {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(params)
    }

    pub fn client(&self) -> Issued {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, "client");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(params)
    }

    fn issue(&self, params: CertificateParams) -> Issued {
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca).unwrap();
        Issued {
            cert_pem: cert.pem(),
            key_pem: fabric_label(&key.serialize_pem()),
        }
    }
}

impl Pki {
    /// CaaS server TLS with a certificate of this CA; mutual when `client_ca` is given.
    pub fn server_tls(&self, client_ca: Option<&Pki>) -> ServerTls {
        let server = self.server();
        ServerTls {
            cert_pem: server.cert_pem.into_bytes(),
            key_pem: server.key_pem.into_bytes(), // "EC PRIVATE KEY" holding PKCS#8
            client_ca_pem: client_ca.map(|ca| ca.ca_pem().into_bytes()),
        }
    }
}

impl Issued {
    /// The certificate and key as a tonic identity. tonic needs a truthful key label; the
    /// runtime side is what must accept Fabric's.
    pub fn tonic_identity(self) -> tonic::transport::Identity {
        tonic::transport::Identity::from_pem(self.cert_pem, truthful_label(&self.key_pem))
    }
}

/// Undoes [`fabric_label`]: the PKCS#8 key under its real label.
pub fn truthful_label(key_pem: &str) -> String {
    key_pem.replace("EC PRIVATE KEY", "PRIVATE KEY")
}

/// Relabels a PKCS#8 PEM as "EC PRIVATE KEY", exactly what Fabric's tlsgen writes.
pub fn fabric_label(pkcs8_pem: &str) -> String {
    assert!(pkcs8_pem.contains("-----BEGIN PRIVATE KEY-----"));
    pkcs8_pem.replace("PRIVATE KEY-----", "EC PRIVATE KEY-----")
}

/// A chaincode that exercises the stub; `args[0]` picks the operation.
#[derive(Default)]
pub struct TestCc {
    /// Errors seen by "block" transactions (peer-vanishing tests).
    pub blocked_errors: Mutex<Vec<StubError>>,
    pub blocked_done: Mutex<Option<std::sync::mpsc::Sender<StubError>>>,
    /// Where every transaction runs.
    pub execution: Execution,
}

impl TestCc {
    /// A test chaincode whose transactions all run as `execution` says.
    pub fn running(execution: Execution) -> Self {
        TestCc {
            execution,
            ..TestCc::default()
        }
    }
}

/// Name of the thread `serve_test_cc` serves inline transactions on.
pub const SERVER_THREAD: &str = "caas-server";

/// Defines each listed `async fn name(execution: Execution)` as two tests, `thread::name` and
/// `inline::name`, so every protocol case runs both ways a transaction can.
#[macro_export]
macro_rules! in_both_executions {
    ($($name:ident),* $(,)?) => {
        mod thread {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(fabric_chaincode::Execution::Thread).await
                }
            )*
        }
        mod inline {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(fabric_chaincode::Execution::Inline).await
                }
            )*
        }
    };
}

fn fail(e: impl std::fmt::Display) -> Response {
    error(e.to_string())
}

impl Chaincode for TestCc {
    fn init(&self, stub: &mut ChaincodeStub) -> Response {
        match stub.string_args().first().map(String::as_str) {
            Some("fail") => error("init failed"),
            _ => success("init ok"),
        }
    }

    fn execution(&self, _args: &[Vec<u8>]) -> Execution {
        self.execution
    }

    fn invoke(&self, stub: &mut ChaincodeStub) -> Response {
        let (f, a) = stub.function_and_parameters();
        let arg = |i: usize| a.get(i).cloned().unwrap_or_default();
        let r: Result<Vec<u8>, StubError> = (|| match f.as_str() {
            "put" => stub
                .put_state(&arg(0), arg(1).as_bytes())
                .map(|_| b"ok".to_vec()),
            "get" => Ok(stub
                .get_state(&arg(0))?
                .unwrap_or_else(|| b"<none>".to_vec())),
            "del" => stub.del_state(&arg(0)).map(|_| b"ok".to_vec()),
            // Writes `n` keys PREFIX-i in one write batch and deletes PREFIX-0 again.
            "batch" => {
                let n: usize = arg(1).parse().unwrap();
                stub.start_write_batch();
                for i in 0..n {
                    stub.put_state(&format!("{}-{i}", arg(0)), b"batched")?;
                }
                stub.del_state(&format!("{}-0", arg(0)))?;
                Ok(b"ok".to_vec())
            }
            // Reads keys PREFIX-0 .. PREFIX-(n-1) at once; answers the number found.
            "many" => {
                let n: usize = arg(1).parse().unwrap();
                let keys: Vec<String> = (0..n).map(|i| format!("{}-{i}", arg(0))).collect();
                let refs: Vec<&str> = keys.iter().map(String::as_str).collect();
                let values = stub.get_multiple_states(&refs)?;
                assert_eq!(values.len(), n);
                Ok(values.iter().flatten().count().to_string().into_bytes())
            }
            "work" => {
                let n: usize = arg(1).parse().unwrap();
                for i in 0..n {
                    let key = format!("{}-{i}", arg(0));
                    stub.put_state(&key, format!("{}:{i}", stub.tx_id()).as_bytes())?;
                    let back = stub.get_state(&key)?.unwrap_or_default();
                    assert_eq!(back, format!("{}:{i}", stub.tx_id()).as_bytes());
                }
                Ok(format!("{}:{n}", stub.tx_id()).into_bytes())
            }
            "range" => {
                let limit: usize = arg(2).parse().unwrap_or(0);
                let mut keys = Vec::new();
                for kv in stub.get_state_by_range(&arg(0), &arg(1))? {
                    keys.push(kv?.key);
                    if limit > 0 && keys.len() == limit {
                        break;
                    }
                }
                Ok(format!(
                    "{}:{}:{}",
                    keys.len(),
                    keys.first().cloned().unwrap_or_default(),
                    keys.last().cloned().unwrap_or_default()
                )
                .into_bytes())
            }
            "partial" => {
                let attrs: Vec<&str> = a[1..].iter().map(String::as_str).collect();
                let mut out = Vec::new();
                for kv in stub.get_state_by_partial_composite_key(&arg(0), &attrs)? {
                    let (_, parts) = split_composite_key(&kv?.key)?;
                    out.push(parts.join("/"));
                }
                Ok(out.join(",").into_bytes())
            }
            "nested" => {
                // Go's common pattern: keep the iterator open and read other keys meanwhile.
                let mut out = Vec::new();
                for kv in stub.get_state_by_range(&arg(0), &arg(1))? {
                    let kv = kv?;
                    let other = stub.get_state(&format!("other-{}", kv.key))?;
                    out.push(format!(
                        "{}={}",
                        kv.key,
                        String::from_utf8_lossy(&other.unwrap_or_default())
                    ));
                }
                Ok(out.join(",").into_bytes())
            }
            "composite" => {
                let attrs: Vec<&str> = a[1..].iter().map(String::as_str).collect();
                let key = create_composite_key(&arg(0), &attrs)?;
                stub.put_state(&key, b"v")?;
                Ok(b"ok".to_vec())
            }
            "paged" => {
                let page = stub.get_state_by_range_with_pagination(
                    &arg(0),
                    &arg(1),
                    arg(2).parse().unwrap(),
                    &arg(3),
                )?;
                let keys: Vec<String> = page.results.into_iter().map(|kv| kv.key).collect();
                Ok(format!(
                    "{}|{}|{}",
                    page.fetched_records_count,
                    page.bookmark,
                    keys.join(",")
                )
                .into_bytes())
            }
            "invoke" => {
                let args: Vec<Vec<u8>> = a[2..].iter().map(|s| s.as_bytes().to_vec()).collect();
                let r = stub.invoke_chaincode(&arg(0), &args, &arg(1));
                Ok(format!(
                    "{}|{}|{}",
                    r.status,
                    r.message,
                    String::from_utf8_lossy(&r.payload)
                )
                .into_bytes())
            }
            "invoke-raw" => {
                let r = stub.invoke_chaincode(&arg(0), &[], "");
                Ok(r.payload)
            }
            "txinfo" => {
                let ts = stub.tx_timestamp().map(|t| (t.seconds, t.nanos));
                let info = serde_json::json!({
                    "txid": stub.tx_id(),
                    "channel": stub.channel_id(),
                    "ts": ts,
                    "creator": stub.creator().map(|c| c.mspid.clone()),
                    "secret": stub.transient().get("secret").map(|v| String::from_utf8_lossy(v).into_owned()),
                    "binding": stub.binding().map(hex::encode),
                    "signed": stub.signed_proposal().is_some(),
                    "decorations": stub.decorations().len(),
                    "msp": stub.msp_id(),
                });
                Ok(info.to_string().into_bytes())
            }
            "event" => {
                stub.set_event(&arg(0), arg(1).as_bytes())?;
                Ok(b"ok".to_vec())
            }
            "history" => {
                let mut n = 0;
                for m in stub.get_history_for_key(&arg(0))? {
                    m?;
                    n += 1;
                }
                Ok(n.to_string().into_bytes())
            }
            "private" => {
                stub.put_private_data(&arg(0), &arg(1), arg(2).as_bytes())?;
                let v = stub.get_private_data(&arg(0), &arg(1))?.unwrap_or_default();
                let h = stub
                    .get_private_data_hash(&arg(0), &arg(1))?
                    .unwrap_or_default();
                Ok(format!("{}|{}", String::from_utf8_lossy(&v), hex::encode(h)).into_bytes())
            }
            "panic" => panic!("contract bug"),
            "big" => Ok(vec![b'x'; arg(0).parse().unwrap()]),
            "bigput" => {
                let v = vec![b'x'; arg(0).parse().unwrap()];
                stub.put_state("big", &v).map(|_| b"ok".to_vec())
            }
            "block" => {
                let r = stub.get_state("k");
                let e = r
                    .clone()
                    .err()
                    .unwrap_or(StubError::BadReply("answered".into()));
                self.blocked_errors.lock().unwrap().push(e.clone());
                if let Some(tx) = self.blocked_done.lock().unwrap().as_ref() {
                    let _ = tx.send(e);
                }
                r.map(|v| v.unwrap_or_default())
            }
            "fail" => Err(StubError::InvalidArgument("nope".into())),
            // Where the transaction ran: the thread's name, then the answer of a read.
            "where" => {
                let here = std::thread::current()
                    .name()
                    .unwrap_or("unnamed")
                    .to_owned();
                let v = stub.get_state(&arg(0))?.unwrap_or_default();
                Ok(format!("{here}|{}", String::from_utf8_lossy(&v)).into_bytes())
            }
            other => Err(StubError::InvalidArgument(format!(
                "unknown function {other}"
            ))),
        })();
        match r {
            Ok(p) => success(p),
            Err(e) => fail(e),
        }
    }
}

/// A running in-process CaaS server.
pub struct Caas {
    pub addr: SocketAddr,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<Result<(), RuntimeError>>,
}

/// An in-process CaaS server on the test's own runtime.
pub async fn start_caas(cc: Arc<dyn Chaincode>, tls: Option<ServerTls>) -> Caas {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(fabric_chaincode::serve_caas(
        cc,
        caas_config(addr, tls),
        listener,
        async move {
            let _ = rx.await;
        },
    ));
    Caas {
        addr,
        stop: Some(tx),
        task,
    }
}

/// Serves the test chaincode where its transactions can run as it asks: inline ones need the
/// runtime `start` builds, a current-thread one, so those get a server on a thread of its own
/// ([`SERVER_THREAD`]); the others the test's runtime, as [`start_caas`].
pub async fn serve_test_cc(cc: Arc<TestCc>) -> Caas {
    if cc.execution == Execution::Thread {
        return start_caas(cc, None).await;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    let cfg = caas_config(addr, None);
    let (tx, rx) = oneshot::channel::<()>();
    let (done_tx, done_rx) = oneshot::channel();
    std::thread::Builder::new()
        .name(SERVER_THREAD.into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let result = runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                let stop = async move {
                    let _ = rx.await;
                };
                fabric_chaincode::serve_caas(cc, cfg, listener, stop).await
            });
            let _ = done_tx.send(result);
        })
        .unwrap();
    let task = tokio::spawn(async move { done_rx.await.expect("the server thread ends") });
    Caas {
        addr,
        stop: Some(tx),
        task,
    }
}

fn caas_config(addr: SocketAddr, tls: Option<ServerTls>) -> CaasConfig {
    CaasConfig {
        address: addr.to_string(),
        package_id: "testcc:0123".into(),
        tls,
        msp_id: Some("Org1MSP".into()),
    }
}

impl Caas {
    pub async fn shutdown(mut self) -> Result<(), RuntimeError> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("server stops in time")
            .expect("server task")
    }
}

/// An environment lookup over `vars`, for the `*_from_env` functions.
pub fn env_of(vars: &[(&str, String)]) -> impl Fn(&str) -> Option<String> {
    let map: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    move |k| map.get(k).cloned()
}

/// The result of a spawned task that must end within `limit`.
pub async fn ended<T>(limit: Duration, task: tokio::task::JoinHandle<T>) -> T {
    tokio::time::timeout(limit, task)
        .await
        .expect("the task ends in time")
        .expect("the task does not panic")
}

/// Sends SIGTERM to a child process.
pub fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().expect("the child is running");
    let kill = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status()
        .unwrap();
    assert!(kill.success());
}

/// Waits (at most 10 s) for a child process to exit: its exit code and stderr.
pub async fn exit_of(child: tokio::process::Child) -> (Option<i32>, String) {
    let out = tokio::time::timeout(Duration::from_secs(10), child.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `kv_chaincode` example, built on demand (`cargo test --test X` does not build examples).
pub fn example_binary() -> std::path::PathBuf {
    // tests live in target/<profile>/deps; cargo builds examples into target/<profile>/examples.
    let exe = std::env::current_exe().unwrap();
    let path = exe
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("examples")
        .join("kv_chaincode");
    if !path.exists() {
        // `cargo test --test normal` does not build examples; a full `cargo test` does.
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args([
                "build",
                "-p",
                "fabric-chaincode",
                "--example",
                "kv_chaincode",
            ])
            .status()
            .unwrap();
        assert!(status.success());
    }
    assert!(path.exists(), "{} missing", path.display());
    path
}

/// A "peer" that accepts TCP connections and never sends a byte, keeping them open.
pub fn silent_peer() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    addr
}

/// The example chaincode in normal mode dialling `peer` (no TLS), stderr piped.
pub fn kv_normal_mode(peer: std::net::SocketAddr) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(example_binary());
    cmd.arg(format!("-peer.address={peer}"))
        .env("CORE_CHAINCODE_ID_NAME", "kv:1")
        .env("CORE_PEER_TLS_ENABLED", "false")
        .env("FABRIC_LOGGING_SPEC", "INFO")
        .env_remove("CHAINCODE_PKG_ID")
        .env_remove("CHAINCODE_SERVER_ADDRESS")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    cmd
}
