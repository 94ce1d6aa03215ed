//! The admin API the CLI commands talk to: HTTP/1.1 + JSON on a unix socket
//! (`<home>/admin.sock`, mode 0600, so only the owner can drive the peer).
//!
//! | method and path | body | answer |
//! |---|---|---|
//! | `GET /status` | – | channel, addresses, height, definitions, packages |
//! | `POST /install` | the package bytes | `InstallOutcome` |
//! | `POST /define` | `DefineRequest` | `DefineOutcome` |
//! | `POST /transact` | `TxRequest` | `TxOutcome` |
//! | `POST /shutdown` | – | `{}`; the peer stops its chaincode and exits |
//!
//! Errors are HTTP 4xx/5xx with `{"error": "..."}`.
#![deny(clippy::indexing_slicing)]

use std::path::Path;
use std::sync::Arc;

use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{UnixListener, UnixStream};

use crate::peer::{DefineRequest, Peer, TxRequest, MAX_MSG};

type Resp = Response<Full<Bytes>>;

fn json(status: StatusCode, v: &serde_json::Value) -> Resp {
    let mut r = Response::new(Full::new(Bytes::from(v.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    r
}

fn error(status: StatusCode, msg: impl std::fmt::Display) -> Resp {
    json(status, &serde_json::json!({ "error": msg.to_string() }))
}

fn ok<T: serde::Serialize>(v: &T) -> Resp {
    match serde_json::to_value(v) {
        Ok(v) => json(StatusCode::OK, &v),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// Binds the admin socket, refusing if another devpeer answers on it.
pub async fn bind(path: &Path) -> Result<UnixListener, String> {
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(format!(
                "another devpeer is already serving {} (stop it first)",
                path.display()
            ));
        }
        let _ = std::fs::remove_file(path);
    }
    let l = UnixListener::bind(path).map_err(|e| format!("binding {}: {e}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    Ok(l)
}

/// Serves the admin API until `shutdown` fires.
pub async fn serve(
    peer: Arc<Peer>,
    listener: UnixListener,
    shutdown_tx: tokio::sync::watch::Sender<bool>,
) {
    let mut shutdown_rx = shutdown_tx.subscribe();
    let shutdown_tx = Arc::new(shutdown_tx);
    loop {
        let stream = tokio::select! {
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => { tracing::warn!("admin accept: {e}"); continue; }
            },
            _ = shutdown_rx.changed() => return,
        };
        let peer = peer.clone();
        let sd = shutdown_tx.clone();
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let peer = peer.clone();
                let sd = sd.clone();
                async move { Ok::<_, std::convert::Infallible>(route(peer, req, sd).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!("admin connection: {e}");
            }
        });
    }
}

async fn body(req: Request<Incoming>) -> Result<Bytes, Resp> {
    match Limited::new(req.into_body(), MAX_MSG).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(e) => Err(error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body: {e}"),
        )),
    }
}

async fn route(
    peer: Arc<Peer>,
    req: Request<Incoming>,
    shutdown: Arc<tokio::sync::watch::Sender<bool>>,
) -> Resp {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    match (method, path.as_str()) {
        (Method::GET, "/status") => status(&peer),
        (Method::POST, "/install") => {
            let b = match body(req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            match peer.install(&b).await {
                Ok(o) => ok(&o),
                Err(e) => error(StatusCode::BAD_REQUEST, e),
            }
        }
        (Method::POST, "/define") => {
            let b = match body(req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let d: DefineRequest = match serde_json::from_slice(&b) {
                Ok(d) => d,
                Err(e) => return error(StatusCode::BAD_REQUEST, format!("define request: {e}")),
            };
            match peer.define(d).await {
                Ok(o) => ok(&o),
                Err(e) => error(StatusCode::BAD_REQUEST, e),
            }
        }
        (Method::POST, "/transact") => {
            let b = match body(req).await {
                Ok(b) => b,
                Err(r) => return r,
            };
            let t: TxRequest = match serde_json::from_slice(&b) {
                Ok(t) => t,
                Err(e) => {
                    return error(StatusCode::BAD_REQUEST, format!("transaction request: {e}"))
                }
            };
            ok(&peer.transact(t).await)
        }
        (Method::POST, "/shutdown") => {
            let _ = shutdown.send(true);
            json(StatusCode::OK, &serde_json::json!({}))
        }
        _ => error(StatusCode::NOT_FOUND, format!("no such endpoint {path}")),
    }
}

fn status(peer: &Peer) -> Resp {
    let defs = match peer.ledger.definitions() {
        Ok(d) => d,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let pkgs = match peer.ledger.packages() {
        Ok(p) => p,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let height = peer.ledger.height().unwrap_or(0);
    json(
        StatusCode::OK,
        &serde_json::json!({
            "channel": peer.config.channel,
            "msp_id": peer.config.msp_id,
            "chaincode_address": peer.chaincode_address,
            "tls": peer.tls.is_some(),
            "height": height,
            "definitions": defs,
            "packages": pkgs,
        }),
    )
}

/// Client side: one request to the admin socket; returns the HTTP status and the body.
pub async fn request(
    socket: &Path,
    method: Method,
    path: &str,
    body: Vec<u8>,
) -> Result<(u16, Vec<u8>), String> {
    let stream = UnixStream::connect(socket).await.map_err(|e| {
        format!(
            "cannot reach devpeer at {}: {e} (is `devpeer start` running with this --home?)",
            socket.display()
        )
    })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("admin connection: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(hyper::header::HOST, "devpeer")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| e.to_string())?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("admin request: {e}"))?;
    let status = resp.status().as_u16();
    let bytes = Limited::new(resp.into_body(), MAX_MSG)
        .collect()
        .await
        .map_err(|e| format!("admin response: {e}"))?
        .to_bytes();
    Ok((status, bytes.to_vec()))
}
