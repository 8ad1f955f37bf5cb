//! `flowflex outbox status`: the queue and its live relays, once, as JSON,
//! or redrawn every second (`--watch`). Says plainly when events are
//! pending and no relay is alive to deliver them, and since when.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant, SystemTime};

use flowflex_outbox::{Outbox, RelayInfo, Stats};
use serde_json::{Value, json};

use super::{failed, human, out};
use crate::args::StatusArgs;
use crate::exit;
use crate::report::Failure;

/// The outbox at one moment.
struct Snapshot {
    stats: Stats,
    relays: Vec<RelayInfo>,
    at: SystemTime,
}

async fn read(outbox: &Outbox) -> Result<Snapshot, flowflex_outbox::Error> {
    let stats = outbox.stats().await?;
    let relays = outbox.relays().await?;
    Ok(Snapshot {
        stats,
        relays,
        at: SystemTime::now(),
    })
}

pub(super) async fn run(outbox: &Outbox, args: &StatusArgs) -> Result<u8, Failure> {
    if args.watch {
        return watch(outbox, args.json).await;
    }
    let now = read(outbox).await.map_err(|e| failed(&e))?;
    if args.json {
        out(&json(&now, None).to_string())?;
    } else {
        out(&text(&now))?;
    }
    Ok(exit::OK)
}

/// Every second until Ctrl-C: a full status redrawn on a terminal, one
/// line (or one JSON object) per second otherwise. A read that fails is
/// shown and the watch goes on: the database may come back.
async fn watch(outbox: &Outbox, as_json: bool) -> Result<u8, Failure> {
    let terminal = !as_json && std::io::stdout().is_terminal();
    let mut ticks = tokio::time::interval(Duration::from_secs(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    let mut before: Option<(u64, Instant)> = None;
    loop {
        tokio::select! {
            _ = &mut stop => return Ok(exit::OK),
            _ = ticks.tick() => {}
        }
        let frame = match read(outbox).await {
            Ok(now) => {
                let delivered = now.stats.delivered;
                let rate = before.and_then(|(was, when)| rate(was, delivered, when.elapsed()));
                before = Some((delivered, Instant::now()));
                if as_json {
                    json(&now, Some(rate)).to_string()
                } else if terminal {
                    format!(
                        "{}\ndelivered per second: {}",
                        text(&now),
                        rate.map_or_else(|| "-".to_owned(), |r| format!("{r:.1}"))
                    )
                } else {
                    line(&now, rate)
                }
            }
            Err(e) => {
                before = None;
                let message = format!("cannot read the outbox: {e}");
                if as_json {
                    json!({ "at": time(SystemTime::now()), "error": message }).to_string()
                } else {
                    message
                }
            }
        };
        if terminal {
            // Home and clear, then the frame: a redraw in place.
            out(&format!(
                "\x1b[H\x1b[2J{}  (every second; Ctrl-C to stop)\n{frame}",
                time(SystemTime::now())
            ))?;
        } else {
            out(&frame)?;
        }
    }
}

/// Events delivered per second between two readings; none when the count
/// fell (old delivered events were pruned between them) or no time passed.
fn rate(was: u64, now: u64, over: Duration) -> Option<f64> {
    let secs = over.as_secs_f64();
    (now >= was && secs > 0.0).then(|| (now - was) as f64 / secs)
}

/// The whole status, as `flowflex outbox status` prints it.
fn text(now: &Snapshot) -> String {
    let s = &now.stats;
    let oldest = s.oldest_pending_age.map_or_else(|| "-".to_owned(), human);
    let mut lines = vec![
        format!(
            "pending: {} ({} bytes, oldest {oldest})",
            s.pending, s.pending_bytes
        ),
        format!("delivered: {}", s.delivered),
        format!("dead: {}", s.dead),
    ];
    if s.held_back > 0 {
        lines.push(format!(
            "held back: {} pending events wait behind a dead letter of their ordering key (`flowflex outbox dead`, then requeue or discard it)",
            s.held_back
        ));
    }
    match stalled(now) {
        Some(stall) => lines.push(stall),
        None if now.relays.is_empty() => lines.push(format!("relays: {}", none_alive(now))),
        None => {
            lines.push(format!("relays: {} alive", now.relays.len()));
            for r in &now.relays {
                lines.push(format!(
                    "  {} on {} (pid {}), up {}, seen {} ago",
                    r.name,
                    r.host,
                    r.pid,
                    human(since(r.started_at, now.at)),
                    human(since(r.last_seen, now.at)),
                ));
            }
        }
    }
    lines.join("\n")
}

/// One line per second for `--watch` into a file or a pipe.
fn line(now: &Snapshot, rate: Option<f64>) -> String {
    let s = &now.stats;
    let oldest = s.oldest_pending_age.map_or_else(|| "-".to_owned(), human);
    let rate = rate.map_or_else(|| "-".to_owned(), |r| format!("{r:.1}"));
    let mut line = format!(
        "{} pending {}, dead {}, oldest {oldest}, relays {}, delivered/s {rate}",
        time(now.at),
        s.pending,
        s.dead,
        now.relays.len(),
    );
    if let Some(stall) = stalled(now) {
        line.push_str(" | ");
        line.push_str(&stall);
    }
    line
}

/// With events pending and no relay alive, nothing delivers them: since
/// when, in one plain sentence.
fn stalled(now: &Snapshot) -> Option<String> {
    let s = &now.stats;
    if s.pending == 0 || !now.relays.is_empty() {
        return None;
    }
    let events = if s.pending == 1 { "event" } else { "events" };
    Some(format!(
        "nothing delivers the {} pending {events}: {} (start a relay in your service, or run `flowflex outbox drain`)",
        s.pending,
        none_alive(now)
    ))
}

/// "no relay alive since ..." or "no relay has ever run on this outbox".
fn none_alive(now: &Snapshot) -> String {
    match now.stats.last_relay_seen {
        Some(seen) => format!(
            "no relay alive since {} ({} ago)",
            time(seen),
            human(since(seen, now.at))
        ),
        None => "no relay has ever run on this outbox".to_owned(),
    }
}

fn json(now: &Snapshot, rate: Option<Option<f64>>) -> Value {
    let s = &now.stats;
    let relays: Vec<Value> = now
        .relays
        .iter()
        .map(|r| {
            json!({
                "name": r.name,
                "host": r.host,
                "pid": r.pid,
                "started_at": time(r.started_at),
                "last_seen": time(r.last_seen),
            })
        })
        .collect();
    let mut v = json!({
        "at": time(now.at),
        "pending": s.pending,
        "pending_bytes": s.pending_bytes,
        "oldest_pending_seconds": s.oldest_pending_age.map(|d| d.as_secs_f64()),
        "delivered": s.delivered,
        "dead": s.dead,
        "held_back": s.held_back,
        "live_relays": now.relays.len(),
        "relays": relays,
        "last_relay_seen": s.last_relay_seen.map(time),
        // Pending events and no relay alive: nothing delivers them.
        "stalled": stalled(now).is_some(),
    });
    if let (Some(rate), Some(map)) = (rate, v.as_object_mut()) {
        map.insert("delivered_per_second".to_owned(), json!(rate));
    }
    v
}

/// RFC 3339 in UTC, to the second.
fn time(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}

/// How long before `now` `t` was (zero if after it: clocks of two hosts).
fn since(t: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(t).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::rate;
    use std::time::Duration;

    #[test]
    fn the_rate_is_per_second_and_none_when_rows_were_pruned() {
        assert_eq!(rate(10, 30, Duration::from_secs(2)), Some(10.0));
        assert_eq!(rate(10, 10, Duration::from_secs(1)), Some(0.0));
        assert_eq!(rate(10, 4, Duration::from_secs(1)), None);
        assert_eq!(rate(10, 20, Duration::ZERO), None);
    }
}
