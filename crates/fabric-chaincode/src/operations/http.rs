//! The HTTP/1 server of the operations endpoint (hyper): `GET /healthz` and `GET /metrics`,
//! 404 for anything else. Fabric's `/healthz` answer format: `{"status":"OK","time":...}`, or
//! 503 with `"status":"Service Unavailable"` and the `failed_checks`.

use std::convert::Infallible;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::json;
use tokio::net::TcpListener;

use crate::error::RuntimeError;

/// Longest a client may take to send its request headers; scrapers send them at once.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Prometheus' text exposition format (what prometheus-client writes, OpenMetrics-compatible).
const METRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Binds the configured address (when the endpoint is on) and serves it on a background task
/// for the life of the process.
pub(crate) async fn spawn() -> Result<(), RuntimeError> {
    let Some(address) = super::listen_address() else {
        return Ok(());
    };
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| RuntimeError::Bind {
            address: format!("{address} ({})", super::ENV_LISTEN_ADDRESS),
            source,
        })?;
    tracing::info!(address = ?listener.local_addr().ok(), "operations endpoint serving /healthz and /metrics");
    tokio::spawn(serve(listener));
    Ok(())
}

/// Serves operations requests on `listener` until the process ends.
pub async fn serve(listener: TcpListener) {
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(conn) => conn,
            Err(e) => {
                // Out of file descriptors and the like: wait instead of spinning.
                tracing::warn!("operations endpoint: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(|req| async move { Ok::<_, Infallible>(route(&req)) });
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service);
            if let Err(e) = conn.await {
                tracing::debug!("operations endpoint connection: {e}");
            }
        });
    }
}

fn route(req: &Request<Incoming>) -> Response<Full<Bytes>> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/healthz") => healthz(),
        (&Method::GET, "/metrics") => metrics(),
        (_, "/healthz" | "/metrics") => reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "method not allowed\n".into(),
        ),
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n".into()),
    }
}

fn healthz() -> Response<Full<Bytes>> {
    let time = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let failed = super::failed_checks();
    let (status, body) = if failed.is_empty() {
        (StatusCode::OK, json!({ "status": "OK", "time": time }))
    } else {
        let checks: Vec<_> = failed
            .iter()
            .map(|(component, reason)| json!({ "component": component, "reason": reason }))
            .collect();
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "Service Unavailable", "time": time, "failed_checks": checks }),
        )
    };
    reply(status, "application/json", body.to_string())
}

fn metrics() -> Response<Full<Bytes>> {
    match super::operations().map(super::Operations::encode) {
        Some(Ok(text)) => reply(StatusCode::OK, METRICS_CONTENT_TYPE, text),
        Some(Err(_)) | None => reply(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            "cannot encode the metrics\n".into(),
        ),
    }
}

fn reply(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, v);
    }
    response
}
