//! The accept loop and the per-request wrapper around the routes: request
//! recording, connection accounting and fault injection live here, and the
//! split between FlowFlex's own endpoints (recorded, faulted) and the
//! inspector and control API (neither: looking must not change what a test
//! sees).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use futures_util::StreamExt;
use http::{HeaderMap, Request, header};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tower::ServiceExt;
use tracing::Instrument;

use crate::error::DropConnection;
use crate::fault::{Action, Injection};
use crate::headers::{content_length, is_chunked};
use crate::model::{Endpoint, RecordedRequest};
use crate::state::Shared;

/// How long shutdown waits for in-flight requests before cutting connections.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Returned by the service to make hyper close the connection unanswered.
#[derive(Debug)]
struct Dropped(&'static str);

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connection dropped: {}", self.0)
    }
}

impl std::error::Error for Dropped {}

/// Counts a request as in flight for as long as it is handled.
struct InFlight(Arc<Shared>, Endpoint);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_finished(self.1);
    }
}

/// Counts a connection as open for as long as it lives.
#[derive(Debug)]
struct OpenConnection(Arc<Shared>);

impl OpenConnection {
    fn new(shared: Arc<Shared>) -> Self {
        shared.connection_opened();
        OpenConnection(shared)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.connection_closed();
    }
}

/// Resolves once shutdown was asked for (or every handle is gone).
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Serves until `shutdown` turns true, then lets in-flight requests finish
/// for a while.
pub(crate) async fn run(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let routes = Routes {
        api: crate::api::router(Arc::clone(&shared)),
        local: crate::inspector::router(Arc::clone(&shared))
            .merge(crate::control::router(Arc::clone(&shared))),
    };
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            () = stopped(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let open = OpenConnection::new(Arc::clone(&shared));
                    let span = tracing::debug_span!("connection", %peer);
                    let connection = serve_connection(
                        stream,
                        open,
                        routes.clone(),
                        shutdown.clone(),
                    );
                    connections.spawn(connection.instrument(span));
                }
                Err(err) => {
                    // Typically out of file descriptors: back off instead of spinning.
                    tracing::warn!(%err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.shutdown().await;
    }
    tracing::debug!("emulator stopped");
}

/// FlowFlex's endpoints, and the inspector with the control API.
#[derive(Clone)]
struct Routes {
    api: Router,
    local: Router,
}

async fn serve_connection(
    stream: TcpStream,
    open: OpenConnection,
    routes: Routes,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let shared = Arc::clone(&open.0);
    let request_shutdown = shutdown.clone();
    let service = service_fn(move |request: Request<Incoming>| {
        let shared = Arc::clone(&shared);
        let routes = routes.clone();
        let shutdown = request_shutdown.clone();
        async move {
            if crate::guard::is_local_path(request.uri().path()) {
                Ok(serve_local(&shared, routes.local, request).await)
            } else {
                handle(shared, routes.api, shutdown, request).await
            }
        }
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = stopped(&mut shutdown) => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(err) = result {
        tracing::debug!(%err, "connection closed with an error");
    }
    drop(open);
}

/// One request: record it, apply a fault if one fires, route it, record the answer.
async fn handle(
    shared: Arc<Shared>,
    router: Router,
    shutdown: watch::Receiver<bool>,
    request: Request<Incoming>,
) -> Result<Response, Dropped> {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let endpoint = Endpoint::classify(&method, &path);
    let span = tracing::info_span!(
        "request",
        %method,
        %path,
        %endpoint,
        status = tracing::field::Empty,
    );
    shared.request_started(endpoint);
    let _in_flight = InFlight(Arc::clone(&shared), endpoint);
    async move {
        let seq = shared.record_request(RecordedRequest {
            method,
            path,
            endpoint,
            status: None,
            headers: recorded_headers(request.headers()),
            content_length: content_length(request.headers()),
            chunked: is_chunked(request.headers()),
        });
        let injection = shared.next_fault(endpoint);
        let request = request.map(Body::new);
        let outcome = match injection {
            None => route(router, request).await,
            Some(injection) => {
                tracing::debug!(action = ?injection.action, "fault injected");
                inject(&shared, injection, endpoint, router, shutdown, request).await
            }
        };
        match &outcome {
            Ok(response) => {
                let status = response.status().as_u16();
                shared.record_status(seq, status);
                tracing::Span::current().record("status", status);
                tracing::debug!(status, "answered");
            }
            Err(err) => tracing::debug!(%err, "no answer"),
        }
        outcome
    }
    .instrument(span)
    .await
}

/// One request to the inspector or the control API: admitted or refused by
/// the guard, never recorded nor faulted, answered with hardened headers.
async fn serve_local(shared: &Shared, router: Router, request: Request<Incoming>) -> Response {
    let (parts, body) = request.into_parts();
    let mut response = match crate::guard::admit(&shared.config, &parts) {
        Ok(()) => {
            let request = Request::from_parts(parts, Body::new(body));
            match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            }
        }
        Err(refused) => {
            tracing::debug!(code = refused.code(), "inspector request refused");
            axum::response::IntoResponse::into_response(refused)
        }
    };
    crate::guard::harden(response.headers_mut());
    response
}

async fn route(router: Router, request: Request<Body>) -> Result<Response, Dropped> {
    let response = match router.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    if response.extensions().get::<DropConnection>().is_some() {
        return Err(Dropped("the client stopped sending the body"));
    }
    Ok(response)
}

async fn inject(
    shared: &Shared,
    injection: Injection,
    endpoint: Endpoint,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
    request: Request<Body>,
) -> Result<Response, Dropped> {
    if let Some(delay) = injection.delay {
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = stopped(&mut shutdown) => return Err(Dropped("shutting down")),
        }
    }
    let drain_limit = crate::api::drain_limit(&shared.config);
    match injection.action {
        Action::Proceed => route(router, request).await,
        Action::Respond => {
            let headers = request.headers().clone();
            crate::api::drain(request.into_body(), drain_limit).await;
            Ok(injection.response(&headers))
        }
        Action::RespondEarly => {
            // The body is dropped unread: hyper answers, then closes.
            let headers = request.headers().clone();
            drop(request);
            Ok(injection.response(&headers))
        }
        Action::DropConnection => {
            if endpoint == Endpoint::Storage {
                read_half(request).await;
            }
            Err(Dropped("injected drop_connection"))
        }
        Action::DropAfterProcessing => {
            route(router, request).await?;
            Err(Dropped("injected drop_after_processing"))
        }
        Action::Hang => {
            // Reading the whole request lets hyper notice when the client gives up.
            crate::api::drain(request.into_body(), drain_limit).await;
            stopped(&mut shutdown).await;
            Err(Dropped("shutting down"))
        }
        Action::HangAfterProcessing => {
            route(router, request).await?;
            stopped(&mut shutdown).await;
            Err(Dropped("shutting down"))
        }
    }
}

/// Reads about half of the declared body (or one chunk when none is
/// declared), as an upload cut off mid-way.
async fn read_half(request: Request<Body>) {
    let half = content_length(request.headers()).map(|length| length / 2);
    if half == Some(0) {
        return;
    }
    let mut stream = request.into_body().into_data_stream();
    let mut read = 0u64;
    while let Some(Ok(chunk)) = stream.next().await {
        read += chunk.len() as u64;
        if half.is_none_or(|half| read >= half) {
            break;
        }
    }
}

fn recorded_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let value = if name == header::AUTHORIZATION || name == header::PROXY_AUTHORIZATION {
                "<redacted>".to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name.as_str().to_owned(), value)
        })
        .collect()
}
