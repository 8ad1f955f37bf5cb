use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::{Ctx, hostile};

/// The `update` messages of `/_emulator/inspector/stream`, as they come.
struct Updates {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: String,
}

impl Updates {
    async fn open(ctx: &Ctx) -> Updates {
        let response = ctx
            .http
            .get(ctx.url("/_emulator/inspector/stream"))
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .expect("answers");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Updates {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }

    /// The next update, or `None` once the stream has ended.
    async fn next(&mut self) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let message: String = self.buffer.drain(..end + 2).collect();
                if let Some(data) = message.lines().find_map(|line| line.strip_prefix("data: ")) {
                    assert!(message.starts_with("event: update\n"), "{message}");
                    return Some(serde_json::from_str(data).expect("JSON data"));
                }
                continue; // A keep-alive comment.
            }
            let chunk = self.body.next().await?.expect("the stream reads");
            self.buffer
                .push_str(std::str::from_utf8(&chunk).expect("utf-8"));
        }
    }
}

#[tokio::test]
async fn new_events_arrive_on_the_stream_as_escaped_html() {
    let ctx = Ctx::start().await;
    let earlier = ctx.send_with_files("order.placed", json!({"n": 1})).await;
    let mut updates = Updates::open(&ctx).await;
    let first = updates.next().await.expect("a first update");
    assert_eq!(first["replace"], true);
    let events = first["events"].as_str().expect("html");
    assert!(events.contains(&format!(r#"data-id="{earlier}""#)));
    assert!(
        first["status"]
            .as_str()
            .is_some_and(|s| s.contains("1 events, 0 files"))
    );

    let id = ctx.send_with_files("order.shipped", hostile()).await;
    let update = updates.next().await.expect("an update");
    assert_eq!(update["replace"], false);
    let events = update["events"].as_str().expect("html");
    assert!(events.contains(&format!(r#"data-id="{id}""#)));
    assert!(
        !events.contains(&format!(r#"data-id="{earlier}""#)),
        "only the new one"
    );
    assert!(!events.contains("<script>"), "{events}");
    assert!(events.contains("&lt;script&gt;"));
    assert!(
        update["status"]
            .as_str()
            .is_some_and(|s| s.contains("2 events, 0 files"))
    );

    // A reset replaces the whole list.
    ctx.emu.reset();
    let update = updates.next().await.expect("an update");
    assert_eq!(update["replace"], true);
    assert!(!update["events"].as_str().expect("html").contains("data-id"));
}

#[tokio::test]
async fn faults_and_the_clock_update_the_status() {
    let ctx = Ctx::start().await;
    let mut updates = Updates::open(&ctx).await;
    updates.next().await.expect("a first update");
    ctx.post_json("/_emulator/faults", &json!({"on": "storage", "hang": true}))
        .await;
    let update = updates.next().await.expect("an update");
    assert!(
        update["status"]
            .as_str()
            .is_some_and(|s| s.contains("&quot;hang&quot;:true"))
    );
    ctx.emu.advance_clock(Duration::from_secs(90));
    let update = updates.next().await.expect("an update");
    assert!(
        update["status"]
            .as_str()
            .is_some_and(|s| s.contains("moved forward 1m 30s"))
    );
}

#[tokio::test]
async fn the_stream_ends_when_the_emulator_stops() {
    let ctx = Ctx::start().await;
    let mut updates = Updates::open(&ctx).await;
    updates.next().await.expect("a first update");
    ctx.emu.clone().shutdown().await;
    assert_eq!(updates.next().await, None);
}
