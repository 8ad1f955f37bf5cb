//! The results as a Markdown table (for `docs/performance.md`) and as JSON.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::curl::Curl;
use crate::data::size;
use crate::machine::Machine;
use crate::python::Python;
use crate::workloads::{Outcome, Results};
use crate::{Plan, Workload};

const MIB: f64 = 1024.0 * 1024.0;

/// Which way a figure is better.
#[derive(Debug, Clone, Copy)]
enum Better {
    Lower,
    Higher,
}

/// One line of the table.
#[derive(Debug, Clone)]
struct Row {
    key: &'static str,
    /// The workload it belongs to, for `--only`.
    of: Workload,
    workload: String,
    unit: &'static str,
    decimals: usize,
    better: Better,
    rust: Option<f64>,
    python: Option<f64>,
    curl: Option<f64>,
    /// The target, and the figure it is judged on (`0.98x curl`) and whether
    /// it is met, when there is one.
    target: Option<Target>,
    /// Shown where a row without a target has its verdict.
    note: Option<String>,
}

#[derive(Debug, Clone)]
struct Target {
    text: &'static str,
    measured: Option<(String, bool)>,
}

/// The report of one run.
#[derive(Debug)]
pub(crate) struct Report {
    rows: Vec<Row>,
    machine: Machine,
    plan: Plan,
    python: Result<String, String>,
    curl: Result<String, String>,
    results: Results,
}

impl Report {
    pub(crate) fn new(
        plan: &Plan,
        machine: &Machine,
        r: &Results,
        python: &Result<Python, String>,
        curl: &Result<Curl, String>,
    ) -> Report {
        #[allow(clippy::cast_precision_loss)]
        let big_mib = plan.big_file as f64 / MIB;
        let (big, fan_size) = (size(plan.big_file), size(plan.fan_file_size));
        let ms = |o: &Outcome| o.median().map(|s| s * 1000.0);
        let us = |o: &Outcome| o.median().map(|ns| ns / 1000.0);
        let rate = |o: &Outcome| o.median().map(|s| big_mib / s);
        let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);

        let rss = r.rss_rust.median();
        // Rate over rate is curl's time over ours, per adjacent pair.
        let upload = paired(&r.upload_curl, &r.upload_rust);
        let fan = ratio(r.fan_rust.median(), r.single_rust.median());
        let events = ratio(r.events1_rust.median(), r.events1_python.median());
        // Per batch, then the median: both sides of a pair ran side by side.
        let encode = paired(&r.encode_runtime, &r.encode_plain);
        let direct = paired(&r.encode_direct, &r.encode_plain);
        let latency = plan.latency.as_millis();
        let rows = vec![
            Row {
                key: "rss_growth",
                of: Workload::Memory,
                workload: format!("1. Peak RSS growth, {big} upload vs none"),
                unit: "MiB",
                decimals: 1,
                better: Better::Lower,
                rust: rss,
                python: r.rss_python.median(),
                curl: None,
                target: Some(Target {
                    text: "< 4 MiB",
                    measured: rss.map(|m| (format!("{m:.1} MiB"), m < 4.0)),
                }),
                note: None,
            },
            Row {
                key: "rss_baseline",
                of: Workload::Memory,
                workload: "   Peak RSS of the send without a file".to_owned(),
                unit: "MiB",
                decimals: 1,
                better: Better::Lower,
                rust: r.rss_base_rust.median(),
                python: r.rss_base_python.median(),
                curl: None,
                target: None,
                note: None,
            },
            Row {
                key: "upload_throughput",
                of: Workload::Upload,
                workload: format!("2. Upload one {big} file"),
                unit: "MiB/s",
                decimals: 0,
                better: Better::Higher,
                rust: rate(&r.upload_rust),
                python: rate(&r.upload_python),
                curl: rate(&r.upload_curl),
                target: Some(Target {
                    text: ">= 0.9x curl",
                    measured: upload.map(|x| (format!("{x:.2}x curl"), x >= 0.9)),
                }),
                note: None,
            },
            Row {
                key: "single_upload",
                of: Workload::Fanout,
                workload: format!(
                    "   Send with 1 file of {fan_size}, {latency} ms storage latency"
                ),
                unit: "ms",
                decimals: 0,
                better: Better::Lower,
                rust: ms(&r.single_rust),
                python: ms(&r.single_python),
                curl: None,
                target: None,
                note: None,
            },
            Row {
                key: "fan_out",
                of: Workload::Fanout,
                workload: format!(
                    "3. Send with {} files of {fan_size}, {latency} ms storage latency",
                    plan.fan_files
                ),
                unit: "ms",
                decimals: 0,
                better: Better::Lower,
                rust: ms(&r.fan_rust),
                python: ms(&r.fan_python),
                curl: None,
                target: Some(Target {
                    text: "< 1.5x one upload",
                    measured: fan.map(|x| (format!("{x:.2}x one upload"), x < 1.5)),
                }),
                note: None,
            },
            Row {
                key: "events_1",
                of: Workload::Events,
                workload: "4. Events/s without files, 1 in flight".to_owned(),
                unit: "events/s",
                decimals: 0,
                better: Better::Higher,
                rust: r.events1_rust.median(),
                python: r.events1_python.median(),
                curl: None,
                target: Some(Target {
                    text: ">= 5x Python",
                    measured: events.map(|x| (format!("{x:.1}x Python"), x >= 5.0)),
                }),
                note: None,
            },
            Row {
                key: "events_64",
                of: Workload::Events,
                workload: "   Events/s without files, 64 in flight".to_owned(),
                unit: "events/s",
                decimals: 0,
                better: Better::Higher,
                rust: r.events64_rust.median(),
                python: r.events64_python.median(),
                curl: None,
                target: None,
                note: None,
            },
            Row {
                key: "encode_runtime",
                of: Workload::Encode,
                workload: "5. Encode an order with 4 attachments (SDK path)".to_owned(),
                unit: "µs",
                decimals: 2,
                better: Better::Lower,
                rust: us(&r.encode_runtime),
                python: us(&r.encode_python_sdk),
                curl: None,
                target: Some(Target {
                    text: "<= 1.5x to_vec",
                    measured: encode.map(|x| (format!("{x:.2}x to_vec"), x <= 1.5)),
                }),
                note: None,
            },
            Row {
                key: "encode_plain",
                of: Workload::Encode,
                workload: "   Same order, ids as strings (to_vec / json.dumps)".to_owned(),
                unit: "µs",
                decimals: 2,
                better: Better::Lower,
                rust: us(&r.encode_plain),
                python: us(&r.encode_python_plain),
                curl: None,
                target: None,
                note: None,
            },
            Row {
                key: "encode_direct",
                of: Workload::Encode,
                workload: "   Prototype: derive's paths, one to_vec, ids spliced in".to_owned(),
                unit: "µs",
                decimals: 2,
                better: Better::Lower,
                rust: us(&r.encode_direct),
                python: None,
                curl: None,
                target: None,
                note: direct.map(|x| format!("{x:.2}x to_vec")),
            },
        ];
        let mut rows = rows;
        rows.extend(outbox_rows(plan, r));
        rows.extend(fleet_rows(r));
        let stop = ms(&r.stop);
        rows.push(Row {
            key: "emulator_stop",
            of: Workload::Stop,
            workload: "8. Emulator stop, idle connection and held request".to_owned(),
            unit: "ms",
            decimals: 1,
            better: Better::Lower,
            rust: stop,
            python: None,
            curl: None,
            target: Some(Target {
                text: "< 500 ms",
                measured: stop.map(|m| (format!("{m:.1} ms"), m < 500.0)),
            }),
            note: None,
        });
        let rows = rows.into_iter().filter(|row| plan.runs(row.of)).collect();
        Report {
            rows,
            machine: machine.clone(),
            plan: plan.clone(),
            python: python
                .as_ref()
                .map(|p| format!("Python {} with {}", p.version, crate::python::SDK))
                .map_err(Clone::clone),
            curl: curl
                .as_ref()
                .map(|c| c.version.clone())
                .map_err(Clone::clone),
            results: r.clone(),
        }
    }

    /// A Markdown table, then what was measured with.
    pub(crate) fn table(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "| workload | unit | Rust | Python | curl | Rust vs Python | target | met? |\n",
        );
        out.push_str("| --- | --- | ---: | ---: | ---: | ---: | --- | --- |\n");
        for row in &self.rows {
            let cell =
                |v: Option<f64>| v.map_or("n/a".to_owned(), |v| format!("{v:.*}", row.decimals));
            let (target, met) = match &row.target {
                None => (
                    "—".to_owned(),
                    row.note.clone().unwrap_or_else(|| "—".to_owned()),
                ),
                Some(t) => (
                    t.text.to_owned(),
                    match &t.measured {
                        Some((figure, true)) => format!("yes ({figure})"),
                        Some((figure, false)) => format!("**no** ({figure})"),
                        None => "n/a".to_owned(),
                    },
                ),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {target} | {met} |",
                row.workload.trim(),
                row.unit,
                cell(row.rust),
                // The Python SDK has no outbox and no emulator to compare with.
                if matches!(row.of, Workload::Outbox | Workload::Fleet | Workload::Stop) {
                    "—".to_owned()
                } else {
                    cell(row.python)
                },
                if row.curl.is_some() {
                    cell(row.curl)
                } else {
                    "—".to_owned()
                },
                vs_python(row).map_or("—".to_owned(), |x| format!("{x:.1}x")),
            );
        }
        let _ = write!(
            out,
            "\nMachine: {}, {:.2} at end\nPython: {}\ncurl: {}\n",
            self.machine.summary(),
            crate::machine::load_average(),
            self.python.as_ref().unwrap_or_else(|e| e),
            self.curl.as_ref().unwrap_or_else(|e| e),
        );
        let _ = writeln!(
            out,
            "Medians of {} run(s); Rust vs Python is how many times better Rust is (higher is better).",
            self.plan.runs
        );
        if self.plan.quick {
            out.push_str("--quick: small sizes and one run check that the harness works; these figures are not measurements.\n");
        }
        out
    }

    pub(crate) fn json(&self) -> Value {
        let rows: Vec<Value> = self
            .rows
            .iter()
            .map(|row| {
                json!({
                    "key": row.key,
                    "workload": row.workload.trim(),
                    "unit": row.unit,
                    "rust": row.rust,
                    "python": row.python,
                    "curl": row.curl,
                    "rust_vs_python": vs_python(row),
                    "target": row.target.as_ref().map(|t| t.text),
                    "measured": row.target.as_ref().and_then(|t| t.measured.as_ref()).map(|m| &m.0),
                    "met": row.target.as_ref().and_then(|t| t.measured.as_ref()).map(|m| m.1),
                    "note": row.note,
                })
            })
            .collect();
        let r = &self.results;
        let outcome = |o: &Outcome| json!({"samples": o.samples, "error": o.error});
        json!({
            "machine": self.machine.json(),
            "plan": {
                "quick": self.plan.quick,
                "big_file_bytes": self.plan.big_file,
                "fan_out_files": self.plan.fan_files,
                "fan_out_file_bytes": self.plan.fan_file_size,
                "storage_latency_ms": u64::try_from(self.plan.latency.as_millis()).unwrap_or(u64::MAX),
                "runs": self.plan.runs,
                "event_seconds": self.plan.event_duration.as_secs_f64(),
                "encode_iterations": self.plan.encode_iterations,
                "outbox_events": self.plan.outbox_events,
                "outbox_backlog": self.plan.outbox_backlog,
            },
            "python": match &self.python { Ok(v) => json!({"version": v}), Err(e) => json!({"missing": e}) },
            "curl": match &self.curl { Ok(v) => json!({"version": v}), Err(e) => json!({"missing": e}) },
            "rows": rows,
            "samples": {
                "rss_growth_mib": {"rust": outcome(&r.rss_rust), "python": outcome(&r.rss_python)},
                "rss_baseline_mib": {"rust": outcome(&r.rss_base_rust), "python": outcome(&r.rss_base_python)},
                "upload_seconds": {"rust": outcome(&r.upload_rust), "python": outcome(&r.upload_python), "curl": outcome(&r.upload_curl)},
                "single_upload_seconds": {"rust": outcome(&r.single_rust), "python": outcome(&r.single_python)},
                "fan_out_seconds": {"rust": outcome(&r.fan_rust), "python": outcome(&r.fan_python)},
                "events_1_per_second": {"rust": outcome(&r.events1_rust), "python": outcome(&r.events1_python)},
                "events_64_per_second": {"rust": outcome(&r.events64_rust), "python": outcome(&r.events64_python)},
                "outbox": {
                    "enqueue_sqlite_1_task_per_second": outcome(&r.outbox_enqueue1),
                    "enqueue_sqlite_64_tasks_per_second": outcome(&r.outbox_enqueue64),
                    "enqueue_sqlite_1_task_backlog_per_second": outcome(&r.outbox_enqueue1_backlog),
                    "enqueue_sqlite_64_tasks_backlog_per_second": outcome(&r.outbox_enqueue64_backlog),
                    "relay_sqlite_per_second": outcome(&r.outbox_relay),
                    "direct_send_per_second": outcome(&r.outbox_direct),
                    "enqueue_postgres_64_tasks_per_second": outcome(&r.outbox_pg_enqueue),
                    "relay_postgres_1_per_second": outcome(&r.outbox_pg1),
                    "relay_postgres_4_per_second": outcome(&r.outbox_pg4),
                    "postgres_unavailable": r.outbox_pg_unavailable,
                    "rss_growth_mib": outcome(&r.outbox_rss),
                    "rss_baseline_mib": outcome(&r.outbox_rss_base),
                },
                "fleet": {
                    "latency_postgres_ms": outcome(&r.fleet_latency_pg),
                    "latency_sqlite_ms": outcome(&r.fleet_latency_sqlite),
                    "enqueue_sqlite_64_tasks_per_second": outcome(&r.fleet_enqueue_sqlite),
                    "enqueue_postgres_64_tasks_per_second": outcome(&r.fleet_enqueue_pg),
                    "enqueue_many_postgres_per_second": outcome(&r.fleet_enqueue_many),
                    "work_sqlite": work_json(r.fleet_work_sqlite.as_ref()),
                    "work_postgres": work_json(r.fleet_work_pg.as_ref()),
                    "work_sqlite_file": work_json(r.fleet_work_sqlite_file.as_ref()),
                    "work_postgres_file": work_json(r.fleet_work_pg_file.as_ref()),
                    "postgres_unavailable": r.fleet_pg_unavailable,
                    "fleet_32": match &r.fleet_32 {
                        None => Value::Null,
                        Some(Err(e)) => json!({"error": e}),
                        Some(Ok(f)) => json!({
                            "events": f.events,
                            "per_second": f.per_second,
                            "claims": f.claims,
                            "empty_claims": f.empty_claims,
                            "relays": f.relays,
                        }),
                    },
                },
                "emulator_stop_seconds": outcome(&r.stop),
                "encode_ns": {
                    "rust_runtime": outcome(&r.encode_runtime),
                    "rust_to_vec": outcome(&r.encode_plain),
                    "rust_direct_prototype": outcome(&r.encode_direct),
                    "rust_derive_walk": outcome(&r.encode_walk),
                    "python_sdk": outcome(&r.encode_python_sdk),
                    "python_json_dumps": outcome(&r.encode_python_plain),
                },
            },
        })
    }
}

/// The outbox's rows (workload 6).
fn outbox_rows(plan: &Plan, r: &Results) -> Vec<Row> {
    use crate::outbox::{ENQUEUE_TASKS, IN_FLIGHT, PG_RELAYS};
    let n = plan.outbox_events;
    let big = size(plan.big_file);
    let row = |key, workload: String, unit, decimals, better, rust| Row {
        key,
        of: Workload::Outbox,
        workload,
        unit,
        decimals,
        better,
        rust,
        python: None,
        curl: None,
        target: None,
        note: None,
    };
    let enqueue64 = r.outbox_enqueue64.median();
    let relay = paired(&r.outbox_relay, &r.outbox_direct);
    // Without a server: the reason on the first PostgreSQL row.
    let pg_note = |first: bool, figure: Option<String>| match &r.outbox_pg_unavailable {
        Some(why) if first => Some(format!("n/a: {why}")),
        Some(_) => Some("n/a (no server)".to_owned()),
        None => figure,
    };
    let pg_scaling = paired(&r.outbox_pg4, &r.outbox_pg1);
    let rss = r.outbox_rss.median();
    vec![
        row(
            "outbox_enqueue_1",
            "6. Outbox: durable enqueues/s, SQLite, 1 task".to_owned(),
            "events/s",
            0,
            Better::Higher,
            r.outbox_enqueue1.median(),
        ),
        Row {
            target: Some(Target {
                text: ">= 5000 events/s",
                measured: enqueue64.map(|x| (format!("{x:.0} events/s"), x >= 5000.0)),
            }),
            ..row(
                "outbox_enqueue_64",
                format!("   Durable enqueues/s, SQLite, {ENQUEUE_TASKS} tasks"),
                "events/s",
                0,
                Better::Higher,
                enqueue64,
            )
        },
        Row {
            note: paired(&r.outbox_enqueue1_backlog, &r.outbox_enqueue1)
                .map(|x| format!("{x:.2}x with none pending")),
            ..row(
                "outbox_enqueue_1_backlog",
                format!(
                    "   Durable enqueues/s, SQLite, 1 task, {} pending",
                    plan.outbox_backlog
                ),
                "events/s",
                0,
                Better::Higher,
                r.outbox_enqueue1_backlog.median(),
            )
        },
        Row {
            note: paired(&r.outbox_enqueue64_backlog, &r.outbox_enqueue64)
                .map(|x| format!("{x:.2}x with none pending")),
            ..row(
                "outbox_enqueue_64_backlog",
                format!(
                    "   Durable enqueues/s, SQLite, {ENQUEUE_TASKS} tasks, {} pending",
                    plan.outbox_backlog
                ),
                "events/s",
                0,
                Better::Higher,
                r.outbox_enqueue64_backlog.median(),
            )
        },
        row(
            "outbox_direct",
            format!("   send_event of {n} events, {IN_FLIGHT} in flight (no outbox)"),
            "events/s",
            0,
            Better::Higher,
            r.outbox_direct.median(),
        ),
        Row {
            target: Some(Target {
                text: ">= 0.8x send_event",
                measured: relay.map(|x| (format!("{x:.2}x send_event"), x >= 0.8)),
            }),
            ..row(
                "outbox_relay",
                format!("   Relay delivering {n} events from SQLite, {IN_FLIGHT} in flight"),
                "events/s",
                0,
                Better::Higher,
                r.outbox_relay.median(),
            )
        },
        Row {
            note: pg_note(true, None),
            ..row(
                "outbox_pg_enqueue",
                format!("   PostgreSQL: enqueues/s, {ENQUEUE_TASKS} tasks"),
                "events/s",
                0,
                Better::Higher,
                r.outbox_pg_enqueue.median(),
            )
        },
        Row {
            note: pg_note(false, None),
            ..row(
                "outbox_pg_relay_1",
                format!("   PostgreSQL: 1 relay delivering {n} events"),
                "events/s",
                0,
                Better::Higher,
                r.outbox_pg1.median(),
            )
        },
        Row {
            note: pg_note(false, pg_scaling.map(|x| format!("{x:.2}x 1 relay"))),
            ..row(
                "outbox_pg_relay_4",
                format!("   PostgreSQL: {PG_RELAYS} relays delivering {n} events"),
                "events/s",
                0,
                Better::Higher,
                r.outbox_pg4.median(),
            )
        },
        Row {
            target: Some(Target {
                text: "<= 8 MiB",
                measured: rss.map(|m| (format!("{m:.1} MiB"), m <= 8.0)),
            }),
            ..row(
                "outbox_rss_growth",
                format!("   Peak RSS growth, enqueue and deliver {big} vs none (SQLite)"),
                "MiB",
                1,
                Better::Lower,
                rss,
            )
        },
        row(
            "outbox_rss_baseline",
            "   Peak RSS of enqueue and deliver without a file".to_owned(),
            "MiB",
            1,
            Better::Lower,
            r.outbox_rss_base.median(),
        ),
    ]
}

/// The fleet's rows (workload 7).
fn fleet_rows(r: &Results) -> Vec<Row> {
    use crate::fleet::{BATCH, ENQUEUE_TASKS, LATENCY_EVENTS, LATENCY_SPACING};
    use crate::stats::percentile;
    let row = |key, workload: String, unit, decimals, better, rust| Row {
        key,
        of: Workload::Fleet,
        workload,
        unit,
        decimals,
        better,
        rust,
        python: None,
        curl: None,
        target: None,
        note: None,
    };
    let spacing = LATENCY_SPACING.as_millis();
    let latency = |key,
                   which: &str,
                   samples: &Outcome,
                   p: f64,
                   target: Option<(&'static str, f64)>| {
        let figure = percentile(&samples.samples, p);
        let name = if p >= 100.0 {
            "max".to_owned()
        } else {
            format!("p{p}")
        };
        Row {
            target: target.map(|(text, bound)| Target {
                text,
                measured: figure.map(|x| (format!("{x:.1} ms"), x <= bound)),
            }),
            ..row(
                key,
                format!(
                    "{}Enqueue to POST, {which}, {LATENCY_EVENTS} events {spacing} ms apart: {name}",
                    if key == "fleet_latency_pg_p50" {
                        "7. Fleet: "
                    } else {
                        "   "
                    }
                ),
                "ms",
                1,
                Better::Lower,
                figure,
            )
        }
    };
    let pg_ratio = paired(&r.fleet_enqueue_pg, &r.fleet_enqueue_sqlite);
    let many_ratio = r
        .fleet_enqueue_many
        .median()
        .zip(r.fleet_enqueue_pg.median())
        .map(|(a, b)| a / b);
    let mut rows = vec![
        latency(
            "fleet_latency_pg_p50",
            "PostgreSQL, relay in another process",
            &r.fleet_latency_pg,
            50.0,
            Some(("<= 5 ms", 5.0)),
        ),
        latency(
            "fleet_latency_pg_p99",
            "PostgreSQL, relay in another process",
            &r.fleet_latency_pg,
            99.0,
            Some(("<= 25 ms", 25.0)),
        ),
        latency(
            "fleet_latency_pg_max",
            "PostgreSQL, relay in another process",
            &r.fleet_latency_pg,
            100.0,
            None,
        ),
        latency(
            "fleet_latency_sqlite_p50",
            "SQLite, relay in the same process",
            &r.fleet_latency_sqlite,
            50.0,
            None,
        ),
        latency(
            "fleet_latency_sqlite_p99",
            "SQLite, relay in the same process",
            &r.fleet_latency_sqlite,
            99.0,
            None,
        ),
        row(
            "fleet_enqueue_sqlite",
            format!("   Durable enqueues/s, SQLite, {ENQUEUE_TASKS} tasks"),
            "events/s",
            0,
            Better::Higher,
            r.fleet_enqueue_sqlite.median(),
        ),
        Row {
            target: Some(Target {
                text: ">= 1x SQLite",
                measured: pg_ratio.map(|x| (format!("{x:.2}x SQLite"), x >= 1.0)),
            }),
            ..row(
                "fleet_enqueue_pg",
                format!("   Durable enqueues/s, PostgreSQL, {ENQUEUE_TASKS} tasks"),
                "events/s",
                0,
                Better::Higher,
                r.fleet_enqueue_pg.median(),
            )
        },
        Row {
            target: Some(Target {
                text: ">= 10x 64 tasks",
                measured: many_ratio.map(|x| (format!("{x:.1}x 64 tasks"), x >= 10.0)),
            }),
            ..row(
                "fleet_enqueue_many",
                format!("   Durable enqueues/s, PostgreSQL, enqueue_many of {BATCH}"),
                "events/s",
                0,
                Better::Higher,
                r.fleet_enqueue_many.median(),
            )
        },
    ];
    let fleet = r.fleet_32.as_ref().and_then(|f| f.as_ref().ok());
    rows.push(Row {
        note: fleet.map(|f| {
            format!(
                "{} claims, {} empty ({:.3} per event), all {} once",
                f.claims,
                f.empty_claims,
                f.empty_claims as f64 / f.events as f64,
                f.events
            )
        }),
        ..row(
            "fleet_32_relays",
            format!(
                "   {} relays (a pool each) draining {} events, PostgreSQL",
                crate::fleet::FLEET,
                fleet.map_or(0, |f| f.events)
            ),
            "events/s",
            0,
            Better::Higher,
            fleet.map(|f| f.per_second),
        )
    });
    for (key, which, work) in [
        ("fleet_work_sqlite", "SQLite", &r.fleet_work_sqlite),
        (
            "fleet_work_sqlite_file",
            "SQLite, one file each",
            &r.fleet_work_sqlite_file,
        ),
        ("fleet_work_pg", "PostgreSQL", &r.fleet_work_pg),
        (
            "fleet_work_pg_file",
            "PostgreSQL, one file each",
            &r.fleet_work_pg_file,
        ),
    ] {
        let w = work.as_ref().and_then(|w| w.as_ref().ok());
        let note = w.map(|w| {
            let mut note = format!("{:.2} rows", w.rows);
            if let (Some(t), Some(c), Some(b)) = (w.tuples, w.commits, w.wal_bytes) {
                note.push_str(&format!(
                    "; {t:.2} tuples incl. triggers, {c:.3} commits, {b:.0} WAL bytes"
                ));
            }
            if let (Some(cpu), Some(e)) = (w.pg_cpu_us, w.enqueue) {
                note.push_str(&format!(
                    "; server CPU {cpu:.0} µs; its enqueue: {:.2} tuples, {:.0} WAL bytes, {:.0} µs",
                    e.tuples, e.wal_bytes, e.pg_cpu_us
                ));
            }
            note
        });
        rows.push(Row {
            note,
            ..row(
                key,
                format!("   Statements per delivered event, {which}"),
                "statements",
                2,
                Better::Lower,
                w.map(|w| w.statements),
            )
        });
    }
    rows
}

fn work_json(work: Option<&Result<crate::fleet::Work, String>>) -> Value {
    match work {
        None => Value::Null,
        Some(Err(e)) => json!({"error": e}),
        Some(Ok(w)) => json!({
            "statements": w.statements,
            "rows": w.rows,
            "tuples_incl_triggers": w.tuples,
            "commits": w.commits,
            "wal_bytes": w.wal_bytes,
            "postgres_cpu_us": w.pg_cpu_us,
            "enqueue": w.enqueue.map(|e| json!({
                "tuples_incl_triggers": e.tuples,
                "wal_bytes": e.wal_bytes,
                "postgres_cpu_us": e.pg_cpu_us,
            })),
        }),
    }
}

/// The median of `a[i] / b[i]`.
fn paired(a: &Outcome, b: &Outcome) -> Option<f64> {
    let ratios: Vec<f64> = a
        .samples
        .iter()
        .zip(&b.samples)
        .map(|(a, b)| a / b)
        .collect();
    crate::stats::median(&ratios)
}

/// How many times better Rust is than Python on this row.
fn vs_python(row: &Row) -> Option<f64> {
    let (rust, python) = row.rust.zip(row.python)?;
    let x = match row.better {
        Better::Lower => python / rust,
        Better::Higher => rust / python,
    };
    // A growth near zero makes the quotient meaningless.
    (x.is_finite() && rust.abs() > 0.05).then_some(x)
}
