//! The comparison's outputs: one table of figures per engine with Folio's ratio against each,
//! as Markdown and JSON, and an SVG chart of events/s and query p99.

use serde::Serialize;
use std::fmt::Write as _;

/// One engine's figures.
#[derive(Clone, Debug, Serialize)]
pub struct EngineFigures {
    pub engine: String,
    pub ingest_batch_events_per_sec: f64,
    pub ingest_single_events_per_sec: f64,
    /// `None` for a single-writer engine (SQLite).
    pub ingest_concurrent_events_per_sec: Option<f64>,
    /// Per query kind Q1..Q5: (p50 µs, p99 µs, timed instances).
    pub query_us: Vec<(f64, f64, usize)>,
    /// Data on disk (Folio: log + checkpoint store; PostgreSQL: the database; SQLite: the file).
    pub disk_bytes: u64,
    /// Write-ahead log counted separately (PostgreSQL's pg_wal, SQLite's -wal file after a
    /// checkpoint; Folio's log is its data and is in `disk_bytes`).
    pub wal_bytes: u64,
    /// Peak resident memory of the process after Folio's phases (Folio only).
    pub peak_rss_bytes: Option<u64>,
    /// Peak anonymous memory while the engine ingested and answered, sampled every 50 ms (Folio:
    /// its process's RssAnon; PostgreSQL on this machine: its server processes' Σ RssAnon plus
    /// the largest RssShmem, the shared buffers touched; `None` where not measured).
    pub peak_anon_bytes: Option<u64>,
    /// Months held as frozen files when the queries ran (Folio with `--freeze` only).
    pub frozen_months: Option<u64>,
}

/// Everything `folio compare` measured.
#[derive(Clone, Debug, Serialize)]
pub struct CompareReport {
    pub orgs: u64,
    pub events: u64,
    pub seed: u64,
    /// hotel-ledger-v1's years of history (1: the single-year stream).
    pub years: u64,
    pub batch: usize,
    pub singles: u64,
    pub concurrent: u64,
    pub writers: usize,
    pub timed: usize,
    pub checked_per_kind: usize,
    pub balance_rows: usize,
    /// Answers and balance rows compared against Folio's.
    pub compared: u64,
    pub engines: Vec<EngineFigures>,
    /// Every disagreement (empty when all answers are identical).
    pub disagreements: Vec<String>,
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1 << 20) as f64)
}

fn rate(r: f64) -> String {
    if r >= 100.0 {
        format!("{:.0}", r)
    } else {
        format!("{r:.1}")
    }
}

impl CompareReport {
    fn folio(&self) -> Option<&EngineFigures> {
        self.engines.iter().find(|e| e.engine == "folio")
    }

    /// Rows of (figure, value per engine, Folio's ratio per other engine). Ratios are "how many
    /// times better Folio is": rates Folio ÷ other, latencies and bytes other ÷ Folio.
    fn rows(&self) -> Vec<Row> {
        let Some(folio) = self.folio() else {
            return Vec::new();
        };
        let columns = Columns {
            all: &self.engines,
            folio,
            others: self
                .engines
                .iter()
                .filter(|e| e.engine != "folio")
                .collect(),
        };
        let mut rows = self.ingest_rows(&columns);
        rows.extend(query_rows(&columns));
        rows.extend(size_rows(&columns));
        rows
    }

    /// Events/s of the three ingest phases.
    fn ingest_rows(&self, columns: &Columns<'_>) -> Vec<Row> {
        let rate_row = |name: String, get: &dyn Fn(&EngineFigures) -> Option<f64>| {
            columns.ratio_row(
                name,
                get,
                &|v| v.map_or("single writer".into(), rate),
                |folio, other| folio / other,
            )
        };
        vec![
            rate_row(
                format!("ingest, batches of {}, events/s", self.batch),
                &|e| Some(e.ingest_batch_events_per_sec),
            ),
            rate_row(
                format!(
                    "ingest, 1 event per transaction ({} events), events/s",
                    self.singles
                ),
                &|e| Some(e.ingest_single_events_per_sec),
            ),
            rate_row(
                format!(
                    "ingest, {} concurrent writers × 1 event ({} events), events/s",
                    self.writers, self.concurrent
                ),
                &|e| e.ingest_concurrent_events_per_sec,
            ),
        ]
    }
    /// The table as Markdown.
    pub fn markdown(&self) -> String {
        let others: Vec<&str> = self
            .engines
            .iter()
            .filter(|e| e.engine != "folio")
            .map(|e| e.engine.as_str())
            .collect();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "hotel-ledger-v1 years={}: {} orgs, {} events, seed {}; answers compared: {} ({} per query kind + {} daily balance rows per engine); disagreements: {}\n",
            self.years,
            self.orgs,
            self.events,
            self.seed,
            self.compared,
            self.checked_per_kind,
            self.balance_rows,
            self.disagreements.len()
        );
        let _ = write!(out, "| figure |");
        for e in &self.engines {
            let _ = write!(out, " {} |", e.engine);
        }
        for o in &others {
            let _ = write!(out, " Folio vs {o} |");
        }
        let _ = writeln!(out);
        let _ = write!(out, "|---|");
        for _ in 0..self.engines.len() + others.len() {
            let _ = write!(out, "---:|");
        }
        let _ = writeln!(out);
        for (name, values, ratios) in self.rows() {
            let _ = writeln!(
                out,
                "| {name} | {} | {} |",
                values.join(" | "),
                ratios.join(" | ")
            );
        }
        let _ = writeln!(
            out,
            "\nRatios: how many times better Folio is (rates: Folio ÷ other; latencies: other ÷ Folio). \
             Timed: {} instances of Q1–Q4, {} of Q5, one client, after ingest.",
            self.timed,
            (self.timed / 100).max(1)
        );
        out
    }

    /// A bar chart (SVG) of batch ingest events/s and query p99 per engine.
    pub fn svg(&self) -> String {
        let colors = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1"];
        let groups: Vec<(String, Vec<f64>)> = std::iter::once((
            format!("ingest ×{} ev/s", self.batch),
            self.engines
                .iter()
                .map(|e| e.ingest_batch_events_per_sec)
                .collect(),
        ))
        .chain((0..5).map(|q| {
            (
                format!("Q{} p99 µs", q + 1),
                self.engines
                    .iter()
                    .map(|e| e.query_us.get(q).map_or(0.0, |t| t.1))
                    .collect(),
            )
        }))
        .collect();
        let (w, h, top, bottom) = (900.0, 360.0, 40.0, 60.0);
        let group_w = w / groups.len() as f64;
        let bar_w = (group_w - 30.0) / self.engines.len().max(1) as f64;
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"11\">\n\
             <text x=\"10\" y=\"20\" font-size=\"14\">hotel-ledger-v1 years={}, {} orgs, {} events (log scale per group; higher ingest and lower p99 are better)</text>\n",
            h + 30.0,
            self.years,
            self.orgs,
            self.events
        );
        for (g, (label, values)) in groups.iter().enumerate() {
            let max = values.iter().cloned().fold(1.0, f64::max).log10().max(1.0);
            let x0 = g as f64 * group_w + 15.0;
            for (i, v) in values.iter().enumerate() {
                let bar = (v.max(1.0).log10() / max) * (h - top - bottom);
                let x = x0 + i as f64 * bar_w;
                let y = h - bottom - bar;
                let _ = writeln!(
                    svg,
                    "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{bar:.1}\" fill=\"{}\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                    bar_w - 4.0,
                    colors[i % colors.len()],
                    x + bar_w / 2.0 - 2.0,
                    y - 4.0,
                    rate(*v)
                );
            }
            let _ = writeln!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
                x0 + (group_w - 30.0) / 2.0,
                h - bottom + 18.0
            );
        }
        for (i, e) in self.engines.iter().enumerate() {
            let x = 15.0 + i as f64 * 130.0;
            let _ = writeln!(
                svg,
                "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"{}\">{}</text>",
                h + 5.0,
                colors[i % colors.len()],
                x + 16.0,
                h + 15.0,
                e.engine
            );
        }
        svg.push_str("</svg>\n");
        svg
    }
}

/// A row of the table: (figure, value per engine, Folio's ratio per other engine).
type Row = (String, Vec<String>, Vec<String>);

/// The table's engines: every one in order, Folio, and the others Folio is compared with.
struct Columns<'a> {
    all: &'a [EngineFigures],
    folio: &'a EngineFigures,
    others: Vec<&'a EngineFigures>,
}

impl Columns<'_> {
    /// The row of the figure `get` reads: each engine's value as `show` prints it, and per other
    /// engine `better(Folio's, its)` where both have the figure.
    fn ratio_row(
        &self,
        name: String,
        get: &dyn Fn(&EngineFigures) -> Option<f64>,
        show: &dyn Fn(Option<f64>) -> String,
        better: fn(f64, f64) -> f64,
    ) -> Row {
        let values = self.all.iter().map(|e| show(get(e))).collect();
        let ratios = self
            .others
            .iter()
            .map(|o| {
                let x = get(self.folio).zip(get(o)).map(|(a, b)| better(a, b));
                x.map_or("—".into(), |x| format!("{x:.1}×"))
            })
            .collect();
        (name, values, ratios)
    }

    /// A row with no ratios.
    fn plain_row(&self, name: &str, show: impl Fn(&EngineFigures) -> String) -> Row {
        let values = self.all.iter().map(show).collect();
        (
            name.into(),
            values,
            self.others.iter().map(|_| "".into()).collect(),
        )
    }
}

/// p50 and p99 latencies of Q1–Q5.
fn query_rows(columns: &Columns<'_>) -> Vec<Row> {
    let mut rows = Vec::new();
    for q in 0..5 {
        for (p, label) in [(0usize, "p50"), (1, "p99")] {
            let get = |e: &EngineFigures| e.query_us.get(q).map(|t| if p == 0 { t.0 } else { t.1 });
            rows.push(columns.ratio_row(
                format!("Q{} {label} µs", q + 1),
                &get,
                &|v| v.map_or("—".into(), |v| format!("{v:.1}")),
                |folio, other| other / folio.max(1e-3),
            ));
        }
    }
    rows
}

/// Bytes on disk, the write-ahead log and peak memory.
fn size_rows(columns: &Columns<'_>) -> Vec<Row> {
    let values = columns.all.iter().map(|e| mib(e.disk_bytes)).collect();
    let ratios = columns
        .others
        .iter()
        .map(|o| {
            format!(
                "{:.2}× (Folio ÷ {})",
                columns.folio.disk_bytes as f64 / o.disk_bytes.max(1) as f64,
                o.engine
            )
        })
        .collect();
    vec![
        (
            "bytes on disk (data; Folio: whole log + store)".into(),
            values,
            ratios,
        ),
        columns.plain_row("write-ahead log, counted separately", |e| mib(e.wal_bytes)),
        columns.plain_row("peak memory (Folio's process)", |e| {
            e.peak_rss_bytes.map_or("—".into(), mib)
        }),
        columns.plain_row(
            "peak anonymous memory (Folio: RssAnon; PostgreSQL: servers' RssAnon + shared buffers touched)",
            |e| e.peak_anon_bytes.map_or("—".into(), mib),
        ),
        columns.plain_row("frozen months at query time (Folio, --freeze)", |e| {
            e.frozen_months.map_or("—".into(), |n| n.to_string())
        }),
    ]
}
