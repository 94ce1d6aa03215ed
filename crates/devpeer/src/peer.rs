//! The peer: installs packages, commits definitions, endorses proposals on one or more
//! chaincode launches (all must agree), commits valid transactions, and serves chaincode's
//! chaincode-to-chaincode and `_lifecycle` calls.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fabric_protos::peer::chaincode_message::Type as MsgType;
use fabric_protos::peer::{
    ChaincodeInput, ChaincodeMessage, ChaincodeSpec, Response, SignedProposal,
};
use fabric_protos::prost::Message;
use serde::{Deserialize, Serialize};

use crate::builder::Builders;
use crate::handler::TxContext;
use crate::identity::{Identities, Identity};
use crate::launcher::Launcher;
use crate::ledger::{Definition, InstalledPackage, Ledger, LedgerError};
use crate::simulator::Simulation;
use crate::tls::{CertKey, TlsCa};

/// gRPC message size limit, as Fabric's (100 MiB).
pub const MAX_MSG: usize = 100 * 1024 * 1024;
/// Most endorsers one transaction may ask for.
pub const MAX_ENDORSERS: usize = 16;
/// Chaincode-to-chaincode nesting limit.
const MAX_DEPTH: u32 = 16;

/// Peer settings.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// The one channel this peer serves.
    pub channel: String,
    /// The peer's local MSP id (`mspid` in chaincode.json, approvals in definitions).
    pub msp_id: String,
    /// How long a launched chaincode has to register.
    pub launch_timeout: Duration,
    /// How long a transaction may run.
    pub execute_timeout: Duration,
    /// Endorsing launches per transaction unless a request says otherwise.
    pub default_endorsers: usize,
    /// Send READY with `ChaincodeAdditionalParams` (write batches and multi-key reads on), as
    /// Fabric 3.1+ does; off = the empty READY of Fabric 2.x.
    pub runtime_params: bool,
}

/// TLS material of the chaincode listener.
pub struct PeerTls {
    /// The CA that signs the server and every launch's client certificate.
    pub ca: TlsCa,
    /// The chaincode listener's certificate.
    pub server: CertKey,
}

/// Peer-level failures of admin operations.
#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    /// The package is invalid.
    #[error("{0}")]
    Package(#[from] crate::package::PackageError),
    /// No builder took the package, or one failed.
    #[error("{0}")]
    Builder(#[from] crate::builder::BuilderError),
    /// The ledger failed.
    #[error("{0}")]
    Ledger(#[from] LedgerError),
    /// The request is invalid (name, version, sequence, package), or a file could not be written.
    #[error("{0}")]
    Invalid(String),
}

/// The peer.
pub struct Peer {
    /// Its settings.
    pub config: PeerConfig,
    /// Its home directory (ledger, builds, identities, logs, admin socket).
    pub home: PathBuf,
    /// World state, definitions and installed packages.
    pub ledger: Ledger,
    /// The client identities proposals are signed with.
    pub identities: Identities,
    /// The running chaincode launches.
    pub launcher: Launcher,
    /// The configured external builders.
    pub builders: Builders,
    /// TLS of the chaincode listener; `None` when it is off.
    pub tls: Option<PeerTls>,
    /// The address handed to chaincode as `peer_address`.
    pub chaincode_address: String,
    install_lock: tokio::sync::Mutex<()>,
    define_lock: tokio::sync::Mutex<()>,
}

/// The package a definition runs, or Fabric's error for a definition committed without one.
fn installed_package(def: &Definition) -> Result<&str, String> {
    if def.package_id.is_empty() {
        return Err(format!(
            "chaincode definition for '{}' exists, but chaincode is not installed",
            def.name
        ));
    }
    Ok(&def.package_id)
}

/// Result of an install.
#[derive(Debug, Serialize, Deserialize)]
pub struct InstallOutcome {
    /// The package id.
    pub package_id: String,
    /// Its label.
    pub label: String,
    /// The builder that built it.
    pub builder: String,
    /// True if the package was installed before (nothing was built).
    pub already_installed: bool,
}

/// A definition request (`peer lifecycle chaincode approveformyorg` + `commit` in one).
#[derive(Debug, Serialize, Deserialize)]
pub struct DefineRequest {
    /// The chaincode name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Must be the current sequence plus one (1 at first).
    pub sequence: i64,
    /// The installed package to run; `None` commits the definition only.
    #[serde(default)]
    pub package_id: Option<String>,
    /// Whether the first transaction must be an `Init`.
    #[serde(default)]
    pub init_required: bool,
}

/// Result of a define, with how launching it went.
#[derive(Debug, Serialize, Deserialize)]
pub struct DefineOutcome {
    /// The committed definition.
    pub definition: Definition,
    /// `None` if every endorser slot launched, else why not (the definition stays committed).
    pub launch_error: Option<String>,
}

/// A transaction request (invoke commits, query does not).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TxRequest {
    /// The chaincode to call.
    pub chaincode: String,
    /// Its arguments, the function first.
    pub args: Vec<String>,
    /// The client MSP that signs the proposal (default: the peer's).
    #[serde(default)]
    pub msp: Option<String>,
    /// RFC 3339; default now.
    #[serde(default)]
    pub timestamp: Option<String>,
    /// Must be the peer's channel if given.
    #[serde(default)]
    pub channel: Option<String>,
    /// Endorsing launches (default: the peer's setting).
    #[serde(default)]
    pub endorsers: Option<usize>,
    /// Values base64, like the peer CLI's `--transient`.
    #[serde(default)]
    pub transient: BTreeMap<String, String>,
    /// Send `INIT` instead of `TRANSACTION`.
    #[serde(default)]
    pub is_init: bool,
    /// Commit when endorsed (invoke) or not (query).
    pub commit: bool,
}

/// What a transaction produced. `status` < 400 means endorsed (and committed for invoke).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TxOutcome {
    /// The transaction id (empty if no proposal was made).
    pub txid: String,
    /// The chaincode's status, or 500 for a peer-side failure.
    pub status: i32,
    /// The chaincode's message, or the peer's error.
    pub message: String,
    /// Base64 of the response payload.
    pub payload: String,
    /// The chaincode event's name, if it set one.
    #[serde(default)]
    pub event_name: Option<String>,
    /// Block number the transaction was committed in (invoke only).
    #[serde(default)]
    pub block: Option<u64>,
}

struct Endorsement {
    response: Response,
    event: Option<(String, Vec<u8>)>,
    rwset: crate::rwset::RwSet,
}

/// A transaction request once checked: what its proposal is built from.
struct TxPlan {
    channel: String,
    def: Definition,
    identity: Arc<Identity>,
    timestamp: prost_types::Timestamp,
    transient: BTreeMap<String, Vec<u8>>,
    endorsers: usize,
}

impl TxPlan {
    /// Step 2 of `transact`: the signed proposal, with a fresh nonce (hence a fresh txid).
    fn proposal(&self, req: &TxRequest) -> EndorseJob {
        let mut nonce = [0u8; 24];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
        let built = crate::proposal::build(
            &self.identity,
            crate::proposal::ProposalSpec {
                channel: &self.channel,
                chaincode: &self.def.name,
                args: req.args.iter().map(|a| a.as_bytes().to_vec()).collect(),
                transient: self.transient.clone(),
                is_init: req.is_init,
                timestamp: self.timestamp,
            },
            &nonce,
        );
        EndorseJob {
            def: self.def.clone(),
            channel: self.channel.clone(),
            txid: built.txid,
            signed: built.signed,
            input: built.input,
            is_init: req.is_init,
        }
    }
}

/// What every endorser slot of one transaction executes: the same signed proposal.
struct EndorseJob {
    def: Definition,
    channel: String,
    txid: String,
    signed: SignedProposal,
    input: ChaincodeInput,
    is_init: bool,
}

/// The peer CLI's `--transient` map: base64 values decoded, or which key is not base64.
fn decode_transient(map: &BTreeMap<String, String>) -> Result<BTreeMap<String, Vec<u8>>, String> {
    use base64::Engine;
    map.iter()
        .map(|(k, v)| {
            base64::engine::general_purpose::STANDARD
                .decode(v)
                .map(|b| (k.clone(), b))
                .map_err(|e| format!("transient value of {k} is not base64: {e}"))
        })
        .collect()
}

/// Step 4 of `transact`: the first endorsement, if every other one matches it.
fn agreed(endorsements: &[Endorsement]) -> Result<&Endorsement, String> {
    let first = endorsements.first().ok_or("no endorsement")?;
    for (slot, e) in endorsements.iter().enumerate().skip(1) {
        if e.response != first.response || e.event != first.event {
            return Err(format!(
                "endorsements do not match: endorser 0 returned status {} payload {} bytes, endorser {slot} returned status {} payload {} bytes",
                first.response.status,
                first.response.payload.len(),
                e.response.status,
                e.response.payload.len()
            ));
        }
        if e.rwset.canonical_bytes() != first.rwset.canonical_bytes() {
            return Err(format!("endorsements do not match: the read/write sets of endorser 0 and endorser {slot} differ"));
        }
    }
    Ok(first)
}

fn b64(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(data)
}

fn failure(txid: &str, status: i32, message: String) -> TxOutcome {
    TxOutcome {
        txid: txid.to_string(),
        status,
        message,
        payload: String::new(),
        event_name: None,
        block: None,
    }
}

/// Parses an RFC 3339 timestamp into a protobuf Timestamp.
pub fn parse_timestamp(s: &str) -> Result<prost_types::Timestamp, String> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("invalid timestamp '{s}' (want RFC 3339): {e}"))?;
    Ok(prost_types::Timestamp {
        seconds: t.unix_timestamp(),
        nanos: t.nanosecond() as i32,
    })
}

fn now_timestamp() -> prost_types::Timestamp {
    let t = time::OffsetDateTime::now_utc();
    prost_types::Timestamp {
        seconds: t.unix_timestamp(),
        nanos: t.nanosecond() as i32,
    }
}

/// Fabric's error for a chaincode with no committed definition on the channel.
fn not_defined(name: &str, channel: &str) -> String {
    format!(
        "make sure the chaincode {name} has been successfully defined on channel {channel} and try again: chaincode {name} not found"
    )
}

fn valid_cc_name(n: &str) -> bool {
    // Fabric: ^[a-zA-Z0-9]+([-_][a-zA-Z0-9]+)*$
    !n.is_empty()
        && n.split(['-', '_'])
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

impl Peer {
    /// Assembles a peer (the caller binds listeners).
    pub fn new(
        config: PeerConfig,
        home: PathBuf,
        ledger: Ledger,
        builders: Builders,
        tls: Option<PeerTls>,
        chaincode_address: String,
    ) -> Peer {
        Peer {
            identities: Identities::new(home.join("msp")),
            launcher: Launcher::default(),
            config,
            home,
            ledger,
            builders,
            tls,
            chaincode_address,
            install_lock: tokio::sync::Mutex::new(()),
            define_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// Where builds live.
    pub fn builds_dir(&self) -> PathBuf {
        self.home.join("externalbuilder/builds")
    }

    /// Installs a package: validates it and runs detect/build/release.
    pub async fn install(&self, bytes: &[u8]) -> Result<InstallOutcome, PeerError> {
        let pkg = crate::package::parse(bytes)?;
        let _guard = self.install_lock.lock().await;
        if let Some(p) = self.ledger.package(&pkg.id)? {
            return Ok(InstallOutcome {
                package_id: p.package_id,
                label: p.label,
                builder: p.builder,
                already_installed: true,
            });
        }
        let builds = self.builds_dir();
        std::fs::create_dir_all(&builds)
            .map_err(|e| PeerError::Invalid(format!("{}: {e}", builds.display())))?;
        let builder = self.builders.build(&pkg, &builds).await?;
        let pkgs = self.home.join("packages");
        std::fs::create_dir_all(&pkgs)
            .and_then(|_| {
                std::fs::write(
                    pkgs.join(format!("{}.tar.gz", crate::package::sanitize_id(&pkg.id))),
                    bytes,
                )
            })
            .map_err(|e| PeerError::Invalid(format!("{}: {e}", pkgs.display())))?;
        let rec = InstalledPackage {
            package_id: pkg.id.clone(),
            label: pkg.metadata.label.clone(),
            cc_type: pkg.metadata.cc_type.clone(),
            path: pkg.metadata.path.clone(),
            builder: builder.clone(),
        };
        self.ledger.put_package(&rec)?;
        tracing::info!(package_id = %pkg.id, builder = %builder, "installed chaincode package");
        Ok(InstallOutcome {
            package_id: pkg.id,
            label: rec.label,
            builder,
            already_installed: false,
        })
    }

    /// Commits a definition (sequence must be the next one) and launches it.
    pub async fn define(self: &Arc<Self>, req: DefineRequest) -> Result<DefineOutcome, PeerError> {
        if !valid_cc_name(&req.name) {
            return Err(PeerError::Invalid(format!(
                "invalid chaincode name '{}': must match ^[a-zA-Z0-9]+([-_][a-zA-Z0-9]+)*$",
                req.name
            )));
        }
        if req.version.is_empty() {
            return Err(PeerError::Invalid("the version must not be empty".into()));
        }
        let _guard = self.define_lock.lock().await;
        let current = self.ledger.definition(&req.name)?;
        let expected = current.as_ref().map(|d| d.sequence + 1).unwrap_or(1);
        if req.sequence != expected {
            return Err(PeerError::Invalid(format!(
                "requested sequence is {}, but new definition must be sequence {expected}",
                req.sequence
            )));
        }
        let package_id = match req.package_id {
            Some(id) => {
                if self.ledger.package(&id)?.is_none() {
                    return Err(PeerError::Invalid(format!("package {id} is not installed")));
                }
                id
            }
            // Like Fabric's approveformyorg without --package-id: the definition alone (an FPC
            // chaincode's MRENCLAVE, say, for the registry to check), nothing to launch.
            None => String::new(),
        };
        let def = Definition {
            name: req.name,
            version: req.version,
            sequence: req.sequence,
            package_id,
            init_required: req.init_required,
        };
        self.ledger.put_definition(&def)?;
        tracing::info!(name = %def.name, version = %def.version, sequence = def.sequence, package_id = %def.package_id, "committed chaincode definition");
        let launch_error = if def.package_id.is_empty() {
            None
        } else {
            self.ensure_running(&def.package_id, self.config.default_endorsers)
                .await
                .err()
        };
        Ok(DefineOutcome {
            definition: def,
            launch_error,
        })
    }

    /// Launches (if needed) the first `n` endorser slots of a package.
    pub async fn ensure_running(
        self: &Arc<Self>,
        package_id: &str,
        n: usize,
    ) -> Result<(), String> {
        for slot in 0..n.clamp(1, MAX_ENDORSERS) {
            self.launcher
                .get(self, package_id, slot)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Launches every defined chaincode in the background (as a peer does at start).
    pub fn launch_defined_in_background(self: &Arc<Self>) {
        let peer = self.clone();
        tokio::spawn(async move {
            let defs = match peer.ledger.definitions() {
                Ok(d) => d,
                Err(e) => {
                    tracing::warn!("reading definitions: {e}");
                    return;
                }
            };
            for d in defs.values().filter(|d| !d.package_id.is_empty()) {
                if let Err(e) = peer
                    .ensure_running(&d.package_id, peer.config.default_endorsers)
                    .await
                {
                    tracing::warn!(chaincode = %d.name, "launch at start failed: {e}");
                }
            }
        });
    }

    /// Builds a signed proposal, endorses it on N launches, and commits it when asked.
    pub async fn transact(self: &Arc<Self>, req: TxRequest) -> TxOutcome {
        // 1. Check the request: channel, definition, identity, timestamp, transient, endorsers.
        let plan = match self.plan(&req) {
            Ok(plan) => plan,
            Err(e) => return failure("", 500, e),
        };
        // 2. Build and sign the one proposal every endorser executes.
        let job = Arc::new(plan.proposal(&req));
        let txid = job.txid.clone();
        // 3. Execute it on each endorser slot at once.
        let endorsements = match self.endorse_all(&job, plan.endorsers).await {
            Ok(e) => e,
            Err(e) => return failure(&txid, 500, e),
        };
        // 4. All endorsers must agree on response, event and read/write set.
        let first = match agreed(&endorsements) {
            Ok(first) => first,
            Err(e) => return failure(&txid, 500, e),
        };
        // 5. A failed response is returned as is; an invoke commits, a query does not.
        self.conclude(txid, req.commit, plan.timestamp, first)
    }

    /// Step 1 of `transact`: everything the request names, checked, or Fabric's error.
    fn plan(&self, req: &TxRequest) -> Result<TxPlan, String> {
        let channel = req
            .channel
            .clone()
            .unwrap_or_else(|| self.config.channel.clone());
        if channel != self.config.channel {
            return Err(format!(
                "channel '{channel}' not found (devpeer serves '{}')",
                self.config.channel
            ));
        }
        let def = self
            .ledger
            .definition(&req.chaincode)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| not_defined(&req.chaincode, &channel))?;
        let msp = req
            .msp
            .clone()
            .unwrap_or_else(|| self.config.msp_id.clone());
        let identity = self.identities.get(&msp).map_err(|e| e.to_string())?;
        let timestamp = match &req.timestamp {
            Some(t) => parse_timestamp(t)?,
            None => now_timestamp(),
        };
        let transient = decode_transient(&req.transient)?;
        let endorsers = req.endorsers.unwrap_or(self.config.default_endorsers);
        if endorsers == 0 || endorsers > MAX_ENDORSERS {
            return Err(format!("--endorsers must be between 1 and {MAX_ENDORSERS}"));
        }
        Ok(TxPlan {
            channel,
            def,
            identity,
            timestamp,
            transient,
            endorsers,
        })
    }

    /// Step 3 of `transact`: runs the proposal on slots `0..endorsers` concurrently; the
    /// first failure (in slot order) is the transaction's.
    async fn endorse_all(
        self: &Arc<Self>,
        job: &Arc<EndorseJob>,
        endorsers: usize,
    ) -> Result<Vec<Endorsement>, String> {
        let mut tasks = Vec::with_capacity(endorsers);
        for slot in 0..endorsers {
            let peer = self.clone();
            let job = job.clone();
            tasks.push(tokio::spawn(
                async move { peer.endorse_one(&job, slot).await },
            ));
        }
        let mut results = Vec::with_capacity(endorsers);
        for t in tasks {
            results.push(t.await.map_err(|e| format!("endorser task failed: {e}"))?);
        }
        let mut endorsements = Vec::with_capacity(endorsers);
        for (slot, r) in results.into_iter().enumerate() {
            match r {
                Ok(e) => endorsements.push(e),
                Err(msg) if endorsers > 1 => return Err(format!("endorser {slot}: {msg}")),
                Err(msg) => return Err(msg),
            }
        }
        Ok(endorsements)
    }

    /// Step 5 of `transact`: the outcome of an agreed endorsement, committed if asked.
    fn conclude(
        &self,
        txid: String,
        commit: bool,
        timestamp: prost_types::Timestamp,
        first: &Endorsement,
    ) -> TxOutcome {
        let resp = &first.response;
        if resp.status >= 400 {
            return TxOutcome {
                txid,
                status: resp.status,
                message: resp.message.clone(),
                payload: b64(&resp.payload),
                event_name: None,
                block: None,
            };
        }
        let mut block = None;
        if commit {
            match self.ledger.commit(&txid, Some(timestamp), &first.rwset) {
                Ok(v) => block = Some(v.block),
                Err(e) => {
                    return failure(
                        &txid,
                        500,
                        format!("transaction {txid} was not committed: {e}"),
                    )
                }
            }
        }
        TxOutcome {
            txid,
            status: resp.status,
            message: resp.message.clone(),
            payload: b64(&resp.payload),
            event_name: first.event.as_ref().map(|(n, _)| n.clone()),
            block,
        }
    }

    /// Executes the proposal on one endorser slot against its own snapshot of the ledger.
    async fn endorse_one(
        self: &Arc<Self>,
        job: &EndorseJob,
        slot: usize,
    ) -> Result<Endorsement, String> {
        let def = &job.def;
        let snapshot = self.ledger.snapshot().map_err(|e| e.to_string())?;
        let sim = Arc::new(Mutex::new(Simulation::new(snapshot)));
        let ctx = Arc::new(TxContext {
            channel: job.channel.clone(),
            txid: job.txid.clone(),
            namespace: def.name.clone(),
            proposal: Some(job.signed.clone()),
            sim: sim.clone(),
            slot,
            depth: 0,
        });
        let handler = self
            .launcher
            .get(self, installed_package(def)?, slot)
            .await
            .map_err(|e| format!("error launching chaincode {}: {e}", def.name))?;
        let reply = handler
            .execute(
                ctx.clone(),
                job.is_init,
                job.input.clone(),
                self.config.execute_timeout,
            )
            .await
            .map_err(|e| format!("error in simulation: {e}"))?;
        drop(ctx);
        let (response, event) = completion(&reply)?;
        let rwset = std::mem::take(&mut sim.lock().unwrap_or_else(|p| p.into_inner()).rwset);
        Ok(Endorsement {
            response,
            event,
            rwset,
        })
    }

    /// INVOKE_CHAINCODE from a running transaction.
    ///
    /// Boxed because it closes a cycle (stream handler → peer → launcher → stream handler).
    pub fn invoke_from_chaincode<'a>(
        self: &'a Arc<Self>,
        ctx: &'a TxContext,
        spec: ChaincodeSpec,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<ChaincodeMessage, String>> + Send + 'a>,
    > {
        Box::pin(self.invoke_from_chaincode_inner(ctx, spec))
    }

    async fn invoke_from_chaincode_inner(
        self: &Arc<Self>,
        ctx: &TxContext,
        spec: ChaincodeSpec,
    ) -> Result<ChaincodeMessage, String> {
        let full = spec.chaincode_id.map(|c| c.name).unwrap_or_default();
        let (name_ver, channel) = full.split_once('/').unwrap_or((full.as_str(), ""));
        let name = name_ver.split_once(':').map(|(n, _)| n).unwrap_or(name_ver);
        if !channel.is_empty() && channel != ctx.channel {
            return Err(format!(
                "channel '{channel}' not found (devpeer serves '{}')",
                ctx.channel
            ));
        }
        let input = spec.input.unwrap_or_default();
        if name == fabric_protos::lifecycle::LIFECYCLE_NAMESPACE {
            let resp = crate::lifecycle::invoke(&self.ledger, &self.config.msp_id, &input.args);
            return Ok(ChaincodeMessage {
                r#type: MsgType::Completed as i32,
                payload: resp.encode_to_vec(),
                txid: ctx.txid.clone(),
                channel_id: ctx.channel.clone(),
                ..Default::default()
            });
        }
        if ctx.depth >= MAX_DEPTH {
            return Err(format!(
                "chaincode-to-chaincode calls nested deeper than {MAX_DEPTH}"
            ));
        }
        let def = self
            .ledger
            .definition(name)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| not_defined(name, &ctx.channel))?;
        let callee = Arc::new(TxContext {
            channel: ctx.channel.clone(),
            txid: ctx.txid.clone(),
            namespace: def.name.clone(),
            proposal: ctx.proposal.clone(),
            sim: ctx.sim.clone(),
            slot: ctx.slot,
            depth: ctx.depth + 1,
        });
        let handler = self
            .launcher
            .get(self, installed_package(&def)?, ctx.slot)
            .await
            .map_err(|e| format!("error launching chaincode {name}: {e}"))?;
        handler
            .execute(callee, false, input, self.config.execute_timeout)
            .await
            .map_err(|e| e.to_string())
    }
}

type Completion = (Response, Option<(String, Vec<u8>)>);

fn completion(reply: &ChaincodeMessage) -> Result<Completion, String> {
    match MsgType::try_from(reply.r#type) {
        Ok(MsgType::Completed) => {
            let r = Response::decode(reply.payload.as_slice()).map_err(|e| {
                format!("error in simulation: failed to unmarshal chaincode response: {e}")
            })?;
            let event = reply
                .chaincode_event
                .as_ref()
                .map(|e| (e.event_name.clone(), e.payload.clone()));
            Ok((r, event))
        }
        Ok(MsgType::Error) => Err(format!(
            "error in simulation: transaction returned with failure: {}",
            String::from_utf8_lossy(&reply.payload)
        )),
        _ => Err(format!(
            "error in simulation: unexpected message type {} in reply to the transaction",
            reply.r#type
        )),
    }
}
