use reqwest::StatusCode;
use serde_json::json;

use crate::{Ctx, PDF, PNG, hostile};

async fn page(ctx: &Ctx) -> (reqwest::header::HeaderMap, String) {
    let response = ctx.get("/").await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    (headers, response.text().await.expect("text"))
}

#[tokio::test]
async fn the_page_is_html_under_a_strict_policy() {
    let ctx = Ctx::start().await;
    let (headers, html) = page(&ctx).await;
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let policy = headers["content-security-policy"].to_str().expect("ascii");
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    // No inline script or style for the policy to refuse.
    assert!(!html.contains("<script>") && !html.contains("<style") && !html.contains(" style="));
    assert!(html.contains(r#"<script src="/_emulator/inspector/app.js" defer></script>"#));
    assert!(html.contains("No event yet"));
    assert!(html.contains("Invoice {{trigger.invoice}} for {{trigger.customer.name}}"));
    // The secret is nowhere; the key and code a client needs are.
    assert!(!html.contains(ctx.emu.api_secret()));
    assert!(html.contains(ctx.emu.api_key()) && html.contains(ctx.emu.integration_code()));

    for (path, content_type) in [
        (
            "/_emulator/inspector/app.js",
            "text/javascript; charset=utf-8",
        ),
        ("/_emulator/inspector/app.css", "text/css; charset=utf-8"),
    ] {
        let response = ctx.get(path).await;
        assert_eq!(response.headers()["content-type"], content_type, "{path}");
        assert!(!response.text().await.expect("text").is_empty());
    }
}

#[tokio::test]
async fn each_value_shows_with_its_flow_name_and_each_file_as_a_file() {
    let ctx = Ctx::start().await;
    let label = ctx.upload("label.png", "image/png", PNG).await;
    let invoice = ctx.upload("invoice.pdf", "application/pdf", PDF).await;
    let terms = ctx
        .upload("terms.doc", "application/msword", b"\xd0\xcf\x11\xe0")
        .await;
    let id = ctx
        .send_with_files(
            "order.shipped",
            json!({
                "invoice": invoice,
                "gallery": [label],
                "order": {"terms": terms, "total": 42.5},
            }),
        )
        .await;
    let (_, html) = page(&ctx).await;
    assert!(html.contains(&format!(r#"data-id="{id}""#)));
    for flow in [
        "{{trigger.invoice}}",
        "{{trigger.gallery}}",
        "{{trigger.gallery[0]}}",
        "{{trigger.order.terms}}",
        "{{trigger.order.total}}",
    ] {
        assert!(
            html.contains(&format!(r#"data-copy="{flow}""#)),
            "{flow} is not offered to copy"
        );
    }
    // The templates escape every value, '/' too (as &#x2f;).
    let content = |asset: &str| format!("&#x2f;_emulator&#x2f;assets&#x2f;{asset}&#x2f;content");
    // The image is shown, the PDF behind a preview toggle, the Word file
    // only downloaded; each named with its type and size.
    assert!(html.contains(&format!(
        r#"<img class="preview" src="{}" alt="label.png" loading="lazy">"#,
        content(&label)
    )));
    assert!(html.contains(&format!(
        r#"<iframe class="preview doc" src="{}" title="invoice.pdf">"#,
        content(&invoice)
    )));
    assert!(!html.contains(&format!(r#"src="{}""#, content(&terms))));
    assert!(html.contains(&format!(
        r#"href="{}?download=1" download="terms.doc""#,
        content(&terms)
    )));
    assert!(html.contains(r#"<span class="fname">label.png</span> <span class="mime">image&#x2f;png</span> <span class="size">69 bytes</span>"#));
    assert!(html.contains(
        r#"<span class="k">&quot;total&quot;</span>: <span class="v v-value">42.5</span>"#
    ));
}

#[tokio::test]
async fn payload_markup_stays_text() {
    let ctx = Ctx::start().await;
    let key = "<i>key</i>";
    let response = ctx
        .event_request("<b>order</b>.shipped", &hostile())
        .header("x-idempotency-key", key)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let (_, html) = page(&ctx).await;
    for raw in [
        "<script>window",
        "<img src=x",
        "<b>key</b>",
        "<b>order</b>",
        "<i>key</i>",
        "\"><img",
    ] {
        assert!(!html.contains(raw), "{raw} reached the page as markup");
    }
    assert!(html.contains("&lt;script&gt;window.pwned = 1&lt;&#x2f;script&gt;"));
    assert!(html.contains("&lt;b&gt;order&lt;&#x2f;b&gt;.shipped"));
    assert!(html.contains("&lt;i&gt;key&lt;&#x2f;i&gt;"));
    // The payload for the template box is an attribute, escaped whole.
    assert!(html.contains("data-payload=\"{&quot;&lt;b&gt;key&lt;&#x2f;b&gt;&quot;:"));
}

#[tokio::test]
async fn the_page_shows_faults_and_the_clock() {
    let ctx = Ctx::start().await;
    ctx.post_json(
        "/_emulator/faults",
        &json!({"on": "events", "status": 503, "code": "<b>", "times": 2}),
    )
    .await;
    ctx.post_json("/_emulator/clock", &json!({"advance_secs": 7200}))
        .await;
    let (_, html) = page(&ctx).await;
    assert!(html.contains(
        "<code>{&quot;code&quot;:&quot;&lt;b&gt;&quot;,&quot;on&quot;:&quot;events&quot;,&quot;status&quot;:503,&quot;times&quot;:2}</code>"
    ), "{html}");
    assert!(html.contains("(moved forward 2h)"));
}
