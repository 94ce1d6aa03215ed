//! The command line, shaped like the peer CLI: `start` and `up` run the peer in the
//! foreground; `install`, `define`, `invoke`, `query`, `status` and `stop` talk to it through
//! the admin socket in the home directory.
#![deny(clippy::indexing_slicing)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use clap::{Args, Parser, Subcommand};
use hyper::Method;

use crate::builder::{parse_builder_flag, read_builders_file, BuilderConfig, Builders};
use crate::peer::{DefineOutcome, DefineRequest, InstallOutcome, PeerConfig, TxOutcome, TxRequest};
use crate::server::StartOptions;

#[derive(Parser, Debug)]
#[command(
    name = "devpeer",
    version,
    about = "A development Fabric peer that runs chaincode over the real protocol"
)]
struct Cli {
    /// Home directory (ledger, builds, identities, admin socket).
    #[arg(long, global = true, env = "DEVPEER_HOME")]
    home: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the peer in the foreground.
    Start(StartArgs),
    /// Start with this repository's registry (ercc) packaged, installed, defined and running.
    Up(UpArgs),
    /// Install a chaincode package (prints its package id).
    Install {
        /// The package file (`.tar.gz`, Fabric v2 format).
        package: PathBuf,
    },
    /// Commit a chaincode definition (approve + commit in one step) and launch its package.
    /// Without --package-id only the definition is committed (as Fabric's approveformyorg
    /// without a package): e.g. an FPC chaincode's MRENCLAVE as its version, for the registry.
    Define {
        name: String,
        #[arg(long)]
        version: String,
        #[arg(long)]
        sequence: i64,
        /// The installed package to run (`devpeer install` prints it).
        #[arg(long = "package-id")]
        package_id: Option<String>,
        #[arg(long = "init-required")]
        init_required: bool,
    },
    /// Endorse and commit a transaction; prints the payload raw.
    Invoke(TxArgs),
    /// Endorse a transaction without committing; prints the payload raw.
    Query(TxArgs),
    /// Show the running peer's state (JSON).
    Status,
    /// Stop the running peer.
    Stop,
}

#[derive(Args, Debug, Clone)]
struct StartArgs {
    /// Listen address of the chaincode (ChaincodeSupport) gRPC service.
    #[arg(long = "chaincode-listen", default_value = "127.0.0.1:7052")]
    chaincode_listen: SocketAddr,
    /// Address handed to chaincode as peer_address (default: the listen address).
    #[arg(long = "chaincode-address")]
    chaincode_address: Option<String>,
    /// The channel.
    #[arg(long, default_value = "mychannel")]
    channel: String,
    /// The peer's local MSP id.
    #[arg(long = "peer-msp", default_value = "Org1MSP")]
    peer_msp: String,
    /// TLS on the chaincode listener (true or false).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    tls: bool,
    /// An external builder NAME=PATH (repeatable; tried after the config file's, in order).
    #[arg(long = "builder")]
    builders: Vec<String>,
    /// A JSON file with core.yaml's externalBuilders list ({name, path, propagateEnvironment}).
    #[arg(long = "builders-config")]
    builders_config: Option<PathBuf>,
    /// An environment variable to pass to --builder builders (repeatable).
    #[arg(long = "propagate")]
    propagate: Vec<String>,
    /// How long a launched chaincode has to register (Go duration, e.g. 60s).
    #[arg(long = "launch-timeout", default_value = "60s")]
    launch_timeout: String,
    /// How long a transaction may run (Go duration).
    #[arg(long = "execute-timeout", default_value = "30s")]
    execute_timeout: String,
    /// Default number of endorsing launches per transaction.
    #[arg(long, default_value_t = 1)]
    endorsers: usize,
    /// Send READY with ChaincodeAdditionalParams (write batches, multi-key reads) like
    /// Fabric 3.1+ (true or false; false = Fabric 2.x's empty READY).
    #[arg(long = "runtime-params", default_value_t = false, action = clap::ArgAction::Set)]
    runtime_params: bool,
}

#[derive(Args, Debug)]
struct UpArgs {
    #[command(flatten)]
    start: StartArgs,
    /// The ercc binary (default: `ercc` next to this executable).
    #[arg(long)]
    ercc: Option<PathBuf>,
    /// The fpc-c external builder directory (default: fabric/externalBuilder/chaincode found
    /// above the current directory or this executable).
    #[arg(long = "fpc-builder")]
    fpc_builder: Option<PathBuf>,
    /// Chaincode name of the registry.
    #[arg(long, default_value = "ercc")]
    name: String,
    /// The definition's version: the enclave's MRENCLAVE (64 hex characters).
    #[arg(
        long,
        default_value = "0000000000000000000000000000000000000000000000000000000000000000"
    )]
    version: String,
    /// DEVELOPMENT ONLY: the registry accepts `simulated` evidence (no attestation at all), so
    /// that a mock enclave can register. Adds `simulated` to ERCC_ACCEPTED_EVIDENCE.
    #[arg(long = "dev-accept-simulated")]
    dev_accept_simulated: bool,
}

#[derive(Args, Debug)]
struct TxArgs {
    /// Chaincode name.
    name: String,
    /// Constructor JSON: {"Args":["fn","a"]} or {"Function":"fn","Args":["a"]}.
    #[arg(short = 'c', long = "ctor")]
    ctor: String,
    /// Creator MSP id.
    #[arg(long, default_value = "Org1MSP")]
    msp: String,
    /// Transaction timestamp (RFC 3339; default now).
    #[arg(long)]
    timestamp: Option<String>,
    #[arg(short = 'C', long = "channel")]
    channel: Option<String>,
    /// Number of endorsing launches that must agree.
    #[arg(long)]
    endorsers: Option<usize>,
    /// Transient map JSON, values base64 (as the peer CLI).
    #[arg(long)]
    transient: Option<String>,
    /// Send INIT instead of TRANSACTION.
    #[arg(short = 'I', long = "is-init")]
    is_init: bool,
}

fn home_dir(h: Option<PathBuf>) -> PathBuf {
    h.unwrap_or_else(|| {
        std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
            .join(".devpeer")
    })
}

/// Parses the `-c` constructor the way the peer CLI does (field names case-insensitive).
pub fn parse_ctor(ctor: &str) -> Result<Vec<String>, String> {
    let v: serde_json::Value =
        serde_json::from_str(ctor).map_err(|e| format!("-c is not valid JSON: {e}"))?;
    let obj = v.as_object().ok_or("-c must be a JSON object")?;
    let mut function = None;
    let mut args = Vec::new();
    for (k, v) in obj {
        match k.to_ascii_lowercase().as_str() {
            "function" => {
                function = Some(v.as_str().ok_or("Function must be a string")?.to_string())
            }
            "args" => {
                for a in v.as_array().ok_or("Args must be an array")? {
                    args.push(
                        a.as_str()
                            .ok_or("every Args entry must be a string")?
                            .to_string(),
                    );
                }
            }
            _ => {}
        }
    }
    if let Some(f) = function {
        args.insert(0, f);
    }
    Ok(args)
}

fn start_options(
    home: PathBuf,
    a: &StartArgs,
    extra: Vec<BuilderConfig>,
) -> Result<StartOptions, String> {
    let mut list = Vec::new();
    if let Some(f) = &a.builders_config {
        list.extend(read_builders_file(f)?);
    }
    for b in &a.builders {
        list.push(parse_builder_flag(b, &a.propagate)?);
    }
    list.extend(extra);
    let parse = |s: &str| fabric_formats::duration::parse_timeout(s).map_err(|e| e.to_string());
    Ok(StartOptions {
        home,
        chaincode_listen: a.chaincode_listen,
        chaincode_address: a.chaincode_address.clone(),
        tls: a.tls,
        builders: Builders { list },
        config: PeerConfig {
            channel: a.channel.clone(),
            msp_id: a.peer_msp.clone(),
            launch_timeout: parse(&a.launch_timeout)?,
            execute_timeout: parse(&a.execute_timeout)?,
            default_endorsers: a.endorsers.clamp(1, crate::peer::MAX_ENDORSERS),
            runtime_params: a.runtime_params,
        },
    })
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DEVPEER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Fabric's line format (FABRIC_LOGGING_FORMAT honoured), colour only on a terminal: the
    // background peer's log is a file.
    fabric_chaincode::logging::install(filter, None);
}

/// Entry point; returns the exit code.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("devpeer: cannot start the runtime: {e}");
            return 1;
        }
    };
    let home = home_dir(cli.home);
    rt.block_on(async move {
        match run(home, cli.cmd).await {
            Ok(code) => code,
            Err(e) => {
                eprintln!("Error: {e}");
                1
            }
        }
    })
}

async fn call(home: &Path, method: Method, path: &str, body: Vec<u8>) -> Result<Vec<u8>, String> {
    let (status, body) =
        crate::admin::request(&home.join("admin.sock"), method, path, body).await?;
    if status != 200 {
        let msg = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_string))
            .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
        return Err(msg);
    }
    Ok(body)
}

async fn run(home: PathBuf, cmd: Command) -> Result<i32, String> {
    match cmd {
        Command::Start(a) => {
            init_logging();
            let opts = start_options(home, &a, Vec::new())?;
            let started = crate::server::start(opts).await?;
            started.peer.launch_defined_in_background();
            started.run_until_stopped().await;
            Ok(0)
        }
        Command::Up(a) => up(home, a).await,
        Command::Install { package } => {
            let bytes = fabric_formats::file::read_bounded(
                &package,
                crate::package::MAX_PACKAGE_BYTES as u64,
            )
            .map_err(|e| e.to_string())?;
            let out = call(&home, Method::POST, "/install", bytes).await?;
            let o: InstallOutcome = serde_json::from_slice(&out).map_err(|e| e.to_string())?;
            if o.already_installed {
                return Err(format!(
                    "chaincode already successfully installed (package ID '{}')",
                    o.package_id
                ));
            }
            eprintln!(
                "Chaincode code package identifier: {} (builder {})",
                o.package_id, o.builder
            );
            println!("{}", o.package_id);
            Ok(0)
        }
        Command::Define {
            name,
            version,
            sequence,
            package_id,
            init_required,
        } => {
            let req = DefineRequest {
                name,
                version,
                sequence,
                package_id,
                init_required,
            };
            let body = serde_json::to_vec(&req).map_err(|e| e.to_string())?;
            let out = call(&home, Method::POST, "/define", body).await?;
            let o: DefineOutcome = serde_json::from_slice(&out).map_err(|e| e.to_string())?;
            let package = match o.definition.package_id.as_str() {
                "" => "none (definition only)",
                id => id,
            };
            eprintln!(
                "Committed chaincode definition for chaincode '{}' on channel: version {}, sequence {}, package {package}",
                o.definition.name, o.definition.version, o.definition.sequence
            );
            if let Some(e) = o.launch_error {
                eprintln!("Warning: the chaincode did not launch yet: {e}");
            }
            Ok(0)
        }
        Command::Invoke(a) => transact(&home, a, true).await,
        Command::Query(a) => transact(&home, a, false).await,
        Command::Status => {
            let out = call(&home, Method::GET, "/status", Vec::new()).await?;
            println!("{}", String::from_utf8_lossy(&out));
            Ok(0)
        }
        Command::Stop => {
            call(&home, Method::POST, "/shutdown", Vec::new()).await?;
            Ok(0)
        }
    }
}

async fn transact(home: &Path, a: TxArgs, commit: bool) -> Result<i32, String> {
    let args = parse_ctor(&a.ctor)?;
    let transient = match &a.transient {
        Some(t) => serde_json::from_str(t).map_err(|e| format!("--transient: {e}"))?,
        None => Default::default(),
    };
    let req = TxRequest {
        chaincode: a.name,
        args,
        msp: Some(a.msp),
        timestamp: a.timestamp,
        channel: a.channel,
        endorsers: a.endorsers,
        transient,
        is_init: a.is_init,
        commit,
    };
    let body = serde_json::to_vec(&req).map_err(|e| e.to_string())?;
    let out = call(home, Method::POST, "/transact", body).await?;
    let o: TxOutcome = serde_json::from_slice(&out).map_err(|e| e.to_string())?;
    let payload = base64::engine::general_purpose::STANDARD
        .decode(&o.payload)
        .map_err(|e| e.to_string())?;
    if o.status >= 400 {
        eprintln!(
            "Error: endorsement failure during {}: status: {}, message: {}",
            if commit { "invoke" } else { "query" },
            o.status,
            o.message
        );
        return Ok(1);
    }
    use std::io::Write;
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(&payload);
    let _ = stdout.flush();
    if commit {
        eprintln!(
            "Chaincode invoke successful. result: status:{} txid:{} block:{}",
            o.status,
            o.txid,
            o.block.unwrap_or(0)
        );
    }
    Ok(0)
}

fn find_upwards(start: &Path, rel: &str) -> Option<PathBuf> {
    let mut dir = Some(start);
    while let Some(d) = dir {
        let p = d.join(rel);
        if p.join("bin/detect").is_file() {
            return Some(p);
        }
        dir = d.parent();
    }
    None
}

/// What `--dev-accept-simulated` sets for the registry: the accepted evidence of the
/// environment (or the registry's default, as `enclave-attestation`'s policy documents it) plus
/// `simulated`. Names, not code, are shared: the dev peer does not link the registry.
///
/// `ERCC_ACCEPTED_EVIDENCE` overrides a policy file's list, so with `ERCC_POLICY_FILE` set and
/// no explicit list the switch would silently replace the file's choice by the default one;
/// that is refused instead.
fn dev_environment(
    accept_simulated: bool,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<(String, String)>, String> {
    if !accept_simulated {
        return Ok(Vec::new());
    }
    let var = "ERCC_ACCEPTED_EVIDENCE";
    let set = |name: &str| env(name).filter(|v| !v.trim().is_empty());
    let accepted = match (set(var), set("ERCC_POLICY_FILE")) {
        (Some(list), _) => list,
        (None, Some(file)) => {
            return Err(format!(
                "--dev-accept-simulated would replace the accepted evidence of ERCC_POLICY_FILE \
                 ({file}): add \"simulated\" to the file's list, or set {var}"
            ))
        }
        (None, None) => "epid-linkable,epid-unlinkable,dcap".into(),
    };
    Ok(vec![(var.to_owned(), format!("{accepted},simulated"))])
}

async fn up(home: PathBuf, a: UpArgs) -> Result<i32, String> {
    init_logging();
    // 1. The registry's version is its MRENCLAVE.
    if a.version.len() != 64 || !a.version.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!(
            "--version must be 64 hex characters (an MRENCLAVE), got '{}'",
            a.version
        ));
    }
    // 2. Find the ercc binary and the fpc-c builder, and start the peer with that builder.
    let (ercc, fpc) = locate_registry(&a)?;
    let extra = vec![fpc_builder(fpc, a.dev_accept_simulated)?];
    let opts = start_options(home.clone(), &a.start, extra)?;
    let started = crate::server::start(opts).await?;
    let peer = started.peer.clone();
    // 3. Package the registry, install it, define it if needed, and wait until it runs.
    let bytes = package_registry(&ercc, &a.name, &home.join("ercc.tar.gz")).await?;
    let installed = peer.install(&bytes).await.map_err(|e| e.to_string())?;
    run_registry(&peer, &a, &installed.package_id).await?;
    // 4. Say what to do next, and serve until stopped.
    print_up(&home, &a, &installed.package_id, &peer.config.channel);
    started.run_until_stopped().await;
    Ok(0)
}

/// Step 2 of `up`: the ercc binary (`--ercc`, else next to this executable) and the fpc-c
/// builder (`--fpc-builder`, else found above the current directory or this executable).
fn locate_registry(a: &UpArgs) -> Result<(PathBuf, PathBuf), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let exe_dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    let ercc = a.ercc.clone().unwrap_or_else(|| exe_dir.join("ercc"));
    if !ercc.is_file() {
        return Err(format!(
            "ercc binary not found at {} (build it with `cargo build -p ercc` or pass --ercc PATH)",
            ercc.display()
        ));
    }
    let rel = "fabric/externalBuilder/chaincode";
    let fpc = match a.fpc_builder.clone() {
        Some(p) => p,
        None => std::env::current_dir()
            .ok()
            .and_then(|d| find_upwards(&d, rel))
            .or_else(|| find_upwards(&exe_dir, rel))
            .ok_or_else(|| {
                format!("the fpc-c builder ({rel}) was not found; pass --fpc-builder PATH")
            })?,
    };
    Ok((ercc, fpc))
}

/// The fpc-c builder as `up` configures it: the registry's settings pass through to it.
fn fpc_builder(path: PathBuf, accept_simulated: bool) -> Result<BuilderConfig, String> {
    Ok(BuilderConfig {
        name: "fpc-c".into(),
        path,
        propagate_environment: vec![
            "ERCC_POLICY_FILE".into(),
            "ERCC_ACCEPTED_EVIDENCE".into(),
            "ERCC_IAS_ACCEPTED_QUOTE_STATUSES".into(),
            "ERCC_ALLOW_DEBUG_ENCLAVES".into(),
            "ERCC_MAX_REPORT_AGE".into(),
            "ERCC_IAS_ROOT_CA".into(),
            "ERCC_DCAP_ROOT_CA".into(),
            "ERCC_DCAP_ACCEPTED_TCB_STATUSES".into(),
            "ERCC_DCAP_REJECTED_ADVISORIES".into(),
            "FABRIC_LOGGING_SPEC".into(),
        ],
        set_environment: dev_environment(accept_simulated, |name| std::env::var(name).ok())?,
    })
}

/// Step 3 of `up`: `ercc package normal` writes the registry's package to `out`; its bytes.
async fn package_registry(ercc: &Path, label: &str, out: &Path) -> Result<Vec<u8>, String> {
    let run = tokio::process::Command::new(ercc)
        .args(["package", "normal", "--label", label, "--out"])
        .arg(out)
        .arg("--binary")
        .arg(ercc)
        .output()
        .await
        .map_err(|e| format!("running {} package: {e}", ercc.display()))?;
    if !run.status.success() {
        return Err(format!(
            "`{} package normal` failed ({}): {}",
            ercc.display(),
            run.status,
            String::from_utf8_lossy(&run.stderr).trim()
        ));
    }
    fabric_formats::file::read_bounded(out, crate::package::MAX_PACKAGE_BYTES as u64)
        .map_err(|e| e.to_string())
}

/// Step 3 of `up`: defines the registry at the next sequence unless its current definition
/// already runs this version and package, and waits until it runs.
async fn run_registry(
    peer: &std::sync::Arc<crate::peer::Peer>,
    a: &UpArgs,
    package_id: &str,
) -> Result<(), String> {
    let current = peer.ledger.definition(&a.name).map_err(|e| e.to_string())?;
    let needs_define = match &current {
        Some(d) => d.version != a.version || d.package_id != package_id,
        None => true,
    };
    if !needs_define {
        return peer
            .ensure_running(package_id, peer.config.default_endorsers)
            .await
            .map_err(|e| format!("the registry did not start: {e}"));
    }
    let sequence = current.map(|d| d.sequence + 1).unwrap_or(1);
    let o = peer
        .define(DefineRequest {
            name: a.name.clone(),
            version: a.version.clone(),
            sequence,
            package_id: Some(package_id.to_string()),
            init_required: false,
        })
        .await
        .map_err(|e| e.to_string())?;
    match o.launch_error {
        Some(e) => Err(format!("the registry did not start: {e}")),
        None => Ok(()),
    }
}

/// Step 4 of `up`: what runs, and the commands to try next.
fn print_up(home: &Path, a: &UpArgs, package_id: &str, channel: &str) {
    let home_flag = format!("--home {}", home.display());
    println!(
        "devpeer is up: registry '{}' ({package_id}) is running on channel {channel}.",
        a.name
    );
    if a.dev_accept_simulated {
        println!(
            "WARNING: --dev-accept-simulated: the registry accepts simulated evidence, which proves \
             nothing; for development only."
        );
    }
    println!("Next, in another terminal:");
    println!("  devpeer {home_flag} query {} -c '{{\"Args\":[\"QueryListProvisionedEnclaves\",\"mycc\"]}}'", a.name);
    println!("  devpeer {home_flag} invoke {} -c '{{\"Args\":[\"RegisterEnclave\",\"<base64 credentials>\"]}}'", a.name);
    println!("  devpeer {home_flag} status");
    println!("Stop with Ctrl-C or `devpeer {home_flag} stop`.");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    /// The switch adds `simulated` to the list in force, and never replaces a policy file's.
    #[test]
    fn accept_simulated_adds_to_the_list_in_force() {
        assert!(dev_environment(false, env_of(&[])).unwrap().is_empty());
        let default = dev_environment(true, env_of(&[])).unwrap();
        assert_eq!(
            default,
            [(
                "ERCC_ACCEPTED_EVIDENCE".to_owned(),
                "epid-linkable,epid-unlinkable,dcap,simulated".to_owned()
            )]
        );
        assert_eq!(
            dev_environment(
                true,
                env_of(&[
                    ("ERCC_ACCEPTED_EVIDENCE", "dcap"),
                    ("ERCC_POLICY_FILE", "/p.json")
                ])
            )
            .unwrap()[0]
                .1,
            "dcap,simulated"
        );
        let e = dev_environment(true, env_of(&[("ERCC_POLICY_FILE", "/p.json")])).unwrap_err();
        assert!(e.contains("ERCC_POLICY_FILE (/p.json)"), "{e}");
    }
}
