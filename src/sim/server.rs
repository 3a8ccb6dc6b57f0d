//! The accept loop. Written by hand instead of `axum::serve` for one reason: to drop a
//! connection on demand. Each connection gets a cancellation token in its requests'
//! extensions; when the gate cancels it, this loop drops the hyper connection, which
//! closes the socket without writing an answer.

use std::convert::Infallible;

use axum::Router;
use axum::body::Body;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Cancelling it closes the connection the request came on.
#[derive(Clone)]
pub struct ConnectionKill(pub CancellationToken);

/// Connections served at once; more wait in the accept queue.
pub const MAX_CONNECTIONS: usize = 1024;
/// A connection that sends no complete request headers for this long is closed (idle
/// keep-alive connections included).
pub const IDLE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

pub async fn run(listener: TcpListener, app: Router, shutdown: CancellationToken) {
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let slot = tokio::select! {
            _ = shutdown.cancelled() => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Usually "too many open files": back off instead of spinning.
                tracing::warn!(error = %e, "simulator accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let serve = serve_connection(stream, app.clone(), shutdown.child_token());
        tokio::spawn(async move {
            serve.await;
            drop(slot);
        });
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, app: Router, kill: CancellationToken) {
    let marker = ConnectionKill(kill.clone());
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(marker.clone());
        let app = app.clone();
        async move {
            let response = app.oneshot(request.map(Body::new)).await;
            Ok::<_, Infallible>(response.unwrap_or_else(|never| match never {}))
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(IDLE_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        result = connection => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "simulator connection ended with an error");
            }
        }
        _ = kill.cancelled() => {}
    }
}
