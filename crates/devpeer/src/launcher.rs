//! Launching chaincode like a peer does: for each (package, endorser slot) either run the
//! builder's `run` with a fresh `chaincode.json` and wait for the chaincode to REGISTER on the
//! TLS certificate made for that launch, or dial the released `connection.json` (CaaS). A
//! launch whose stream ended is relaunched on next use; `run` is stopped with SIGTERM, then
//! SIGKILL after 5 s.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use serde::Serialize;
use tokio::sync::{oneshot, watch};

use crate::builder::{BuildDirs, BuilderConfig, BuilderError};
use crate::connection::ConnectionInfo;
use crate::files::write_private;
use crate::handler::{Expect, Handler};
use crate::peer::Peer;
use crate::tls::TlsError;

/// Grace period between SIGTERM and SIGKILL.
const KILL_GRACE: Duration = Duration::from_secs(5);

/// Launch failures.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The package is not installed.
    #[error("package {0} is not installed")]
    NotInstalled(String),
    /// The builder that built the package is not usable.
    #[error("{0}")]
    Builder(#[from] BuilderError),
    /// Making the launch's TLS client certificate failed.
    #[error("{0}")]
    Tls(#[from] TlsError),
    /// Neither a `run` program nor a CaaS `connection.json`.
    #[error("builder {0} has no run program and released no chaincode/server/connection.json")]
    NoRun(String),
    /// `run` could not be started.
    #[error("could not start the builder's run: {0}")]
    Spawn(String),
    /// `run` exited before the chaincode registered.
    #[error("chaincode {package_id} exited ({status}) before registering; log: {log}{tail}")]
    ExitedEarly {
        /// The package launched.
        package_id: String,
        /// How `run` exited.
        status: String,
        /// Where its output went.
        log: String,
        /// The end of that log (`\n`-prefixed, or empty).
        tail: String,
    },
    /// The chaincode did not register within the launch timeout.
    #[error("chaincode {0} did not register within {1:?}")]
    RegisterTimeout(String, Duration),
    /// The released `connection.json` is invalid.
    #[error("connection.json: {0}")]
    Connection(String),
    /// Dialling the chaincode server failed.
    #[error("could not connect to chaincode server {address}: {msg}")]
    Dial {
        /// The address dialled.
        address: String,
        /// Why it failed.
        msg: String,
    },
    /// Reading the installed package failed.
    #[error("ledger: {0}")]
    Ledger(#[from] crate::ledger::LedgerError),
    /// Preparing the run directory or log failed, or the launch was cancelled.
    #[error("I/O: {0}")]
    Io(String),
}

/// A running `run` process (its own process group).
struct Child {
    pid: u32,
    exited: watch::Receiver<Option<String>>,
}

impl Child {
    async fn stop(mut self) {
        if self.exited.borrow().is_some() {
            return;
        }
        let pg = Pid::from_raw(self.pid as i32);
        let _ = killpg(pg, Signal::SIGTERM);
        let timed_out = tokio::time::timeout(KILL_GRACE, self.exited.wait_for(|s| s.is_some()))
            .await
            .is_err();
        if timed_out {
            let _ = killpg(pg, Signal::SIGKILL);
            let _ = self.exited.wait_for(|s| s.is_some()).await;
        }
    }
}

#[derive(Default)]
enum SlotState {
    #[default]
    Idle,
    Running {
        handler: Arc<Handler>,
        child: Option<Child>,
    },
}

/// One (package, endorser) launch slot; its async lock serialises launches.
type SlotCell = Arc<tokio::sync::Mutex<SlotState>>;

/// A launch waiting for its REGISTER.
type Pending = (String, usize, oneshot::Sender<Arc<Handler>>);

/// All launches of this peer.
#[derive(Default)]
pub struct Launcher {
    slots: Mutex<BTreeMap<(String, usize), SlotCell>>,
    by_cert: Mutex<HashMap<[u8; 32], Pending>>,
    by_name: Mutex<HashMap<String, VecDeque<Pending>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Serialize)]
struct ChaincodeJson<'a> {
    chaincode_id: &'a str,
    peer_address: &'a str,
    client_cert: &'a str,
    client_key: &'a str,
    root_cert: &'a str,
    mspid: &'a str,
}

/// How a launch waits for its REGISTER (so a failed launch can withdraw it).
enum Waiting {
    /// By the hash of the TLS client certificate made for it.
    Cert([u8; 32]),
    /// By chaincode name (no TLS).
    Name,
}

/// The TLS material `chaincode.json` hands the chaincode (all empty without TLS).
#[derive(Default)]
struct ClientTls {
    cert: String,
    key: String,
    root: String,
}

/// One run of a builder's `run` program: where it runs and logs.
struct RunLaunch<'a> {
    package_id: &'a str,
    slot: usize,
    run_dir: PathBuf,
    log_path: PathBuf,
}

impl<'a> RunLaunch<'a> {
    fn new(peer: &Peer, package_id: &'a str, slot: usize) -> RunLaunch<'a> {
        let id = crate::package::sanitize_id(package_id);
        RunLaunch {
            package_id,
            slot,
            run_dir: peer
                .home
                .join("externalbuilder/run")
                .join(format!("{id}-{slot}")),
            log_path: peer.home.join("logs").join(format!("{id}-{slot}.log")),
        }
    }

    /// Step 4 of `launch`: writes `chaincode.json` and starts `run BUILD_DIR RUN_DIR` in its
    /// own process group, its output appended to the launch's log.
    fn start(
        &self,
        peer: &Peer,
        builder: &BuilderConfig,
        dirs: &BuildDirs,
        tls: &ClientTls,
    ) -> Result<Child, LaunchError> {
        let (package_id, slot) = (self.package_id, self.slot);
        let cc_json = serde_json::to_string_pretty(&ChaincodeJson {
            chaincode_id: package_id,
            peer_address: &peer.chaincode_address,
            client_cert: &tls.cert,
            client_key: &tls.key,
            root_cert: &tls.root,
            mspid: &peer.config.msp_id,
        })
        .map_err(|e| LaunchError::Io(e.to_string()))?;
        write_private(&self.run_dir.join("chaincode.json"), &cc_json)
            .map_err(|e| LaunchError::Io(e.to_string()))?;
        if let Some(logs) = self.log_path.parent() {
            std::fs::create_dir_all(logs).map_err(|e| LaunchError::Io(e.to_string()))?;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .map_err(|e| LaunchError::Io(e.to_string()))?;
        let log2 = log
            .try_clone()
            .map_err(|e| LaunchError::Io(e.to_string()))?;
        let mut cmd = builder.command("run");
        cmd.arg(&dirs.bld)
            .arg(&self.run_dir)
            .stdout(log)
            .stderr(log2)
            .process_group(0)
            .kill_on_drop(false);
        let mut child = cmd.spawn().map_err(|e| LaunchError::Spawn(e.to_string()))?;
        let pid = child.id().unwrap_or(0);
        let (exit_tx, exit_rx) = watch::channel(None);
        let who = package_id.to_string();
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(s) => s.to_string(),
                Err(e) => e.to_string(),
            };
            tracing::info!(chaincode = %who, slot, "chaincode run exited: {status}");
            let _ = exit_tx.send(Some(status));
        });
        tracing::info!(chaincode = %package_id, slot, pid, log = %self.log_path.display(), "launched chaincode");
        Ok(Child {
            pid,
            exited: exit_rx,
        })
    }
}

/// The end of a chaincode's log for an error message; only the last bytes are read, as the
/// log of a long-running chaincode can be large.
fn log_tail(path: &Path) -> String {
    use std::io::{Read, Seek, SeekFrom};
    const LOG_TAIL: u64 = 2048;
    let mut data = Vec::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if f.seek(SeekFrom::Start(len.saturating_sub(LOG_TAIL)))
            .is_ok()
        {
            let _ = f.take(LOG_TAIL).read_to_end(&mut data);
        }
    }
    crate::builder::output_tail(&data, LOG_TAIL as usize)
}

impl Launcher {
    /// Takes the launch bound to a client certificate if `name` is the chaincode it was made
    /// for; a wrong name leaves the binding in place (the real chaincode may still come).
    pub(crate) fn take_pending_by_cert(
        &self,
        hash: &[u8; 32],
        name: &str,
    ) -> Result<Pending, String> {
        let mut m = lock(&self.by_cert);
        match m.get(hash) {
            None => Err(format!(
                "TLS client certificate of {name} not found in registry (unknown, already used or expired)"
            )),
            Some((id, _, _)) if id != name => Err(format!(
                "chaincode {name} belongs to a different chaincode ({id})"
            )),
            Some(_) => m
                .remove(hash)
                .ok_or_else(|| "registration raced with another".to_string()),
        }
    }

    pub(crate) fn take_pending_by_name(&self, name: &str) -> Option<Pending> {
        let mut m = lock(&self.by_name);
        let q = m.get_mut(name)?;
        let p = q.pop_front();
        if q.is_empty() {
            m.remove(name);
        }
        p
    }

    /// The live handler of `(package_id, slot)`, launching the chaincode if needed.
    pub async fn get(
        &self,
        peer: &Arc<Peer>,
        package_id: &str,
        slot: usize,
    ) -> Result<Arc<Handler>, LaunchError> {
        let cell = lock(&self.slots)
            .entry((package_id.to_string(), slot))
            .or_default()
            .clone();
        let mut state = cell.lock().await;
        if let SlotState::Running { handler, .. } = &*state {
            if handler.is_alive() {
                return Ok(handler.clone());
            }
        }
        if let SlotState::Running { child: Some(c), .. } = std::mem::take(&mut *state) {
            c.stop().await;
        }
        let (handler, child) = self.launch(peer, package_id, slot).await?;
        *state = SlotState::Running {
            handler: handler.clone(),
            child,
        };
        Ok(handler)
    }

    /// Stops every launched chaincode (SIGTERM, then SIGKILL after 5 s).
    pub async fn stop_all(&self) {
        let cells: Vec<_> = lock(&self.slots).values().cloned().collect();
        let mut stops = Vec::new();
        for cell in cells {
            let mut state = cell.lock().await;
            if let SlotState::Running { child: Some(c), .. } = std::mem::take(&mut *state) {
                stops.push(tokio::spawn(c.stop()));
            }
        }
        for s in stops {
            let _ = s.await;
        }
    }

    /// Launches `(package_id, slot)`: dials a CaaS package, else runs the builder's `run` and
    /// waits for the chaincode to register.
    async fn launch(
        &self,
        peer: &Arc<Peer>,
        package_id: &str,
        slot: usize,
    ) -> Result<(Arc<Handler>, Option<Child>), LaunchError> {
        // 1. The package must be installed; one that released a connection.json is dialled.
        let installed = peer
            .ledger
            .package(package_id)?
            .ok_or_else(|| LaunchError::NotInstalled(package_id.to_string()))?;
        let dirs = BuildDirs::new(&peer.builds_dir(), package_id);
        if let Some(conn) = dirs.connection_json() {
            let info = ConnectionInfo::read(&conn).map_err(LaunchError::Connection)?;
            let handler = self.dial(peer, package_id, slot, &info).await?;
            return Ok((handler, None));
        }
        // 2. Otherwise the builder that built it must have a run program.
        let builder = peer.builders.get(&installed.builder)?.clone();
        if !builder.has_run() {
            return Err(LaunchError::NoRun(builder.name));
        }
        // 3. A fresh run directory, and the launch recorded for the REGISTER to come.
        let run = RunLaunch::new(peer, package_id, slot);
        let _ = std::fs::remove_dir_all(&run.run_dir);
        std::fs::create_dir_all(&run.run_dir).map_err(|e| LaunchError::Io(e.to_string()))?;
        let (notify, registered) = oneshot::channel();
        let (tls, waiting) = self.expect_register(peer, package_id, slot, notify)?;
        // 4. chaincode.json for the run program, then the program itself.
        let child = match run.start(peer, &builder, &dirs, &tls) {
            Ok(child) => child,
            Err(e) => {
                self.withdraw(&waiting, package_id, slot);
                return Err(e);
            }
        };
        // 5. The chaincode registers, exits, or runs out of time.
        self.wait_register(
            &run,
            &waiting,
            registered,
            child,
            peer.config.launch_timeout,
        )
        .await
    }

    /// Step 3 of `launch`: records the launch so the REGISTER can find it: by the TLS client
    /// certificate made for it, or (without TLS) by name, first come first served.
    fn expect_register(
        &self,
        peer: &Peer,
        package_id: &str,
        slot: usize,
        notify: oneshot::Sender<Arc<Handler>>,
    ) -> Result<(ClientTls, Waiting), LaunchError> {
        let pending = (package_id.to_string(), slot, notify);
        match &peer.tls {
            Some(tls) => {
                let c = tls.ca.client_cert(package_id)?;
                let hash = c.cert_hash();
                lock(&self.by_cert).insert(hash, pending);
                let material = ClientTls {
                    cert: c.cert_pem.clone(),
                    key: c.key_pem_fabric(),
                    root: tls.ca.cert_pem().to_string(),
                };
                Ok((material, Waiting::Cert(hash)))
            }
            None => {
                lock(&self.by_name)
                    .entry(package_id.to_string())
                    .or_default()
                    .push_back(pending);
                Ok((ClientTls::default(), Waiting::Name))
            }
        }
    }

    /// Undoes `expect_register` for a launch that failed.
    fn withdraw(&self, waiting: &Waiting, package_id: &str, slot: usize) {
        match waiting {
            Waiting::Cert(h) => {
                lock(&self.by_cert).remove(h);
            }
            Waiting::Name => {
                // Drop a stale by-name entry for this slot (its receiver is gone).
                let mut m = lock(&self.by_name);
                if let Some(q) = m.get_mut(package_id) {
                    q.retain(|(_, s, n)| *s != slot && !n.is_closed());
                    if q.is_empty() {
                        m.remove(package_id);
                    }
                }
            }
        }
    }

    /// Step 5 of `launch`: the handler once the chaincode registered, or why it did not.
    async fn wait_register(
        &self,
        run: &RunLaunch<'_>,
        waiting: &Waiting,
        registered: oneshot::Receiver<Arc<Handler>>,
        child: Child,
        timeout: Duration,
    ) -> Result<(Arc<Handler>, Option<Child>), LaunchError> {
        let (package_id, slot) = (run.package_id, run.slot);
        let mut exited = child.exited.clone();
        tokio::select! {
            h = registered => match h {
                Ok(h) => Ok((h, Some(child))),
                Err(_) => {
                    self.withdraw(waiting, package_id, slot);
                    child.stop().await;
                    Err(LaunchError::Io("launch was cancelled".into()))
                }
            },
            status = async {
                exited
                    .wait_for(|s| s.is_some())
                    .await
                    .map(|g| g.clone().unwrap_or_default())
                    .unwrap_or_default()
            } => {
                self.withdraw(waiting, package_id, slot);
                Err(LaunchError::ExitedEarly {
                    package_id: package_id.to_string(),
                    status,
                    log: run.log_path.display().to_string(),
                    tail: log_tail(&run.log_path),
                })
            }
            _ = tokio::time::sleep(timeout) => {
                self.withdraw(waiting, package_id, slot);
                child.stop().await;
                Err(LaunchError::RegisterTimeout(package_id.to_string(), timeout))
            }
        }
    }

    async fn dial(
        &self,
        peer: &Arc<Peer>,
        package_id: &str,
        slot: usize,
        info: &ConnectionInfo,
    ) -> Result<Arc<Handler>, LaunchError> {
        use fabric_protos::peer::chaincode_client::ChaincodeClient;
        let channel = info.connect().await?;
        let (out_tx, out_rx) = tokio::sync::mpsc::channel(64);
        // Outbound Err items only exist on the server side; on a dialled stream they end it.
        let outbound = tokio_stream::StreamExt::map_while(
            tokio_stream::wrappers::ReceiverStream::new(out_rx),
            |m: Result<_, tonic::Status>| m.ok(),
        );
        let mut client = ChaincodeClient::new(channel)
            .max_decoding_message_size(crate::peer::MAX_MSG)
            .max_encoding_message_size(crate::peer::MAX_MSG);
        let timeout = peer.config.launch_timeout;
        let inbound = match tokio::time::timeout(timeout, client.connect(outbound)).await {
            Ok(Ok(r)) => r.into_inner(),
            Ok(Err(e)) => {
                return Err(LaunchError::Dial {
                    address: info.address.clone(),
                    msg: e.to_string(),
                })
            }
            Err(_) => {
                return Err(LaunchError::RegisterTimeout(
                    package_id.to_string(),
                    timeout,
                ))
            }
        };
        let (notify, registered) = oneshot::channel();
        let expect = Expect::Dialled {
            package_id: package_id.to_string(),
            slot,
            notify,
        };
        tokio::spawn(crate::handler::serve_stream(
            peer.clone(),
            inbound,
            out_tx,
            expect,
        ));
        match tokio::time::timeout(timeout, registered).await {
            Ok(Ok(h)) => Ok(h),
            Ok(Err(_)) => Err(LaunchError::Dial {
                address: info.address.clone(),
                msg: "the chaincode server did not complete registration".into(),
            }),
            Err(_) => Err(LaunchError::RegisterTimeout(
                package_id.to_string(),
                timeout,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_tail_reads_only_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cc.log");
        let mut log = "x".repeat(10_000);
        log.push_str("\nlast line\n");
        std::fs::write(&path, &log).unwrap();
        let tail = log_tail(&path);
        assert!(
            tail.starts_with('\n') && tail.ends_with("last line"),
            "{tail:?}"
        );
        assert_eq!(
            tail.len(),
            1 + 2048 - 1,
            "2048 bytes, trimmed, after a newline"
        );
        assert_eq!(log_tail(&dir.path().join("missing.log")), "");
        std::fs::write(&path, "  \n").unwrap();
        assert_eq!(log_tail(&path), "");
    }
}
