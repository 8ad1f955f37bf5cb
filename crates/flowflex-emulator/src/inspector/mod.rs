//! The inspector page at `/`: events as they arrive (server-sent events,
//! no reload), each value with its flow name, each file with a preview and
//! a download link, a flow template filled from the selected event, the
//! faults in force, the clock and reset. Plain HTML, CSS and a little
//! JavaScript, embedded; the HTML comes from minijinja templates that
//! escape every value (auto-escaping by the `.html` name).

mod view;

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::Stream;
use http::{HeaderValue, StatusCode, header};
use minijinja::Environment;
use serde::Serialize;
use serde_json::json;
use tokio::sync::watch;

use crate::state::Shared;

/// The most events the page shows (newest first); the control API has all.
const PAGE_EVENTS: usize = 100;

/// What the page may load: its own script, style, files and stream, and
/// nothing inline, so that no payload text can ever run.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self'; media-src 'self'; frame-src 'self'; connect-src 'self'; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Shown in the template box until the user types their own.
const DEFAULT_TEMPLATE: &str = "Invoice {{trigger.invoice}} for {{trigger.customer.name}}";

struct Inspector {
    shared: Arc<Shared>,
    templates: Environment<'static>,
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let inspector = Arc::new(Inspector {
        shared,
        templates: templates(),
    });
    Router::new()
        .route("/", get(page))
        .route("/_emulator/inspector/app.js", get(script))
        .route("/_emulator/inspector/app.css", get(style))
        .route("/_emulator/inspector/stream", get(stream))
        .with_state(inspector)
}

fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    let sources = [
        ("page.html", include_str!("templates/page.html")),
        ("status.html", include_str!("templates/status.html")),
        ("events.html", include_str!("templates/events.html")),
    ];
    for (name, source) in sources {
        if let Err(err) = env.add_template(name, source) {
            // The page then answers 500 with the reason; tests catch it.
            tracing::error!(%err, name, "an inspector template does not parse");
        }
    }
    env
}

impl Inspector {
    fn render(&self, name: &str, context: impl Serialize) -> Result<String, minijinja::Error> {
        self.templates
            .get_template(name)?
            .render(minijinja::value::Serde(context))
    }
}

fn render_failed(err: &minijinja::Error) -> Response {
    tracing::error!(%err, "the inspector page cannot be rendered");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("the inspector page cannot be rendered: {err}"),
    )
        .into_response()
}

async fn page(State(inspector): State<Arc<Inspector>>) -> Response {
    let shared = &inspector.shared;
    let (status, cards) = {
        let state = shared.state();
        (
            view::status(shared, &state),
            view::cards(&state, &state.events, PAGE_EVENTS),
        )
    };
    let html = inspector.render(
        "page.html",
        json!({
            "status": status,
            "cards": cards,
            "limit": PAGE_EVENTS,
            "base_url": shared.config.base_url,
            "default_template": DEFAULT_TEMPLATE,
        }),
    );
    match html {
        Ok(html) => {
            let mut response = typed(html, "text/html; charset=utf-8");
            response.headers_mut().insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(PAGE_POLICY),
            );
            response
        }
        Err(err) => render_failed(&err),
    }
}

async fn script() -> Response {
    typed(
        include_str!("static/app.js"),
        "text/javascript; charset=utf-8",
    )
}

async fn style() -> Response {
    typed(include_str!("static/app.css"), "text/css; charset=utf-8")
}

fn typed(body: impl Into<axum::body::Body>, content_type: &'static str) -> Response {
    let mut response = Response::new(body.into());
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Where a stream's client is: the reset it saw last and how many events
/// it has.
struct Cursor {
    inspector: Arc<Inspector>,
    changes: watch::Receiver<u64>,
    stopped: watch::Receiver<bool>,
    resets: Option<u64>,
    shown: usize,
}

/// `GET /_emulator/inspector/stream`: one `update` at once (the events to
/// show, replacing the list), then one after each change (the new events
/// to put on top, or the whole list after a reset), each with the status
/// panel. Ends when the emulator stops.
async fn stream(
    State(inspector): State<Arc<Inspector>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let cursor = Cursor {
        changes: inspector.shared.watch_changes(),
        stopped: inspector.shared.watch_stop(),
        inspector,
        resets: None,
        shown: 0,
    };
    let updates = futures_util::stream::unfold(cursor, |mut cursor| async move {
        if *cursor.stopped.borrow() {
            return None;
        }
        if cursor.resets.is_some() {
            tokio::select! {
                changed = cursor.changes.changed() => changed.ok()?,
                _ = cursor.stopped.wait_for(|stop| *stop) => return None,
            }
        }
        let event = cursor.update();
        Some((Ok(event), cursor))
    });
    Sse::new(updates).keep_alive(KeepAlive::default())
}

impl Cursor {
    fn update(&mut self) -> Event {
        let shared = &self.inspector.shared;
        let (replace, status, cards) = {
            let state = shared.state();
            let fresh = state.events.len().saturating_sub(self.shown);
            let replace = self.resets != Some(state.resets) || fresh > PAGE_EVENTS;
            let events = if replace {
                &state.events[..]
            } else {
                &state.events[self.shown..]
            };
            self.resets = Some(state.resets);
            self.shown = state.events.len();
            (
                replace,
                view::status(shared, &state),
                view::cards(&state, events, PAGE_EVENTS),
            )
        };
        let rendered = self
            .inspector
            .render("status.html", json!({ "status": status }))
            .and_then(|status| {
                let events = self
                    .inspector
                    .render("events.html", json!({ "cards": cards }))?;
                Ok((status, events))
            });
        let data = match rendered {
            Ok((status, events)) => json!({"replace": replace, "status": status, "events": events}),
            Err(err) => {
                tracing::error!(%err, "an inspector update cannot be rendered");
                json!({"replace": false, "status": format!("<p>the inspector cannot render: {}</p>", html_escape(&err.to_string())), "events": ""})
            }
        };
        Event::default().event("update").data(data.to_string())
    }
}

/// For the one message not rendered by a template.
fn html_escape(text: &str) -> String {
    minijinja::HtmlEscape(text).to_string()
}
