//! Charts and the self-contained report.html of a results directory.
//!
//! Every chart is drawn once per backend from the same code: SVG (inlined in
//! report.html, crisp at any size) and PNG (for places that cannot show SVG).
//! Text in PNGs is rendered with DejaVu Sans compiled into the binary, so a
//! headless machine with no fonts installed draws the same chart.
//!
//! Sources: latency distributions come from the histograms of the run (the
//! steps' `Metrics`, merged exactly per variant); percentiles, throughput and
//! cost from the one `Summary`; per-request scatter plots from `requests.csv`
//! read back and thinned to a bounded number of points, so a run of a million
//! requests still gives small files quickly.
//!
//! One file per chart kind; `style` holds what they share (palette, fonts,
//! axis helpers), `sample` and `requests` read requests.csv into bounded
//! data, `sweep_axis` finds a swept parameter, `html` and `tables` write the
//! page.

mod bars;
mod cost;
mod html;
mod knee;
mod requests;
mod sample;
mod spectrum;
mod style;
mod sweep_axis;
mod tables;
mod timeline;
mod tokens;

use std::path::Path;

use anyhow::Context;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::metrics::{Metrics, Summary, VariantMetrics};

/// Per-request points drawn at most (uniform sample plus the slowest).
pub const MAX_POINTS: usize = 20_000;

/// One chart kind. `draw` is generic so that the SVG and the PNG come from
/// the same code.
trait Chart {
    /// File stem under `charts/` and the id of its figure in report.html.
    fn name(&self) -> &'static str;
    fn title(&self) -> &'static str;
    /// What the chart shows and how to read it, for report.html.
    fn caption(&self) -> String;
    fn size(&self) -> (u32, u32) {
        (960, 540)
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static;
}

/// A chart written to disk, kept for report.html.
pub(crate) struct Rendered {
    pub name: &'static str,
    pub title: &'static str,
    pub caption: String,
    pub svg: String,
}

/// A chart that does not apply to this run, and why.
pub(crate) struct Skipped {
    pub title: &'static str,
    pub reason: String,
}

/// Writes `charts/<name>.svg` and `charts/<name>.png` for every chart that
/// applies to the run, and `report.html`. `steps` are the measured steps of
/// the run (one, or one per variant in a sequential sweep).
pub fn write_visuals(dir: &Path, summary: &Summary, steps: &[Metrics]) -> anyhow::Result<()> {
    style::register_font()?;
    let run = read_run_json(dir)?;
    let variants = merge_variants(steps);
    let names: Vec<String> = summary.variants.iter().map(|v| v.name.clone()).collect();
    let labels = style::short_names(&names, style::LABEL_CHARS);
    let sequential = run.pointer("/load/sweep_mode").and_then(|m| m.as_str()) == Some("sequential");
    let csv = dir.join("requests.csv");
    let reqs = if csv.exists() { Some(requests::load(&csv, &names, sequential, MAX_POINTS)?) } else { None };

    let charts_dir = dir.join("charts");
    std::fs::create_dir_all(&charts_dir)
        .with_context(|| format!("cannot create {}", charts_dir.display()))?;
    let mut out = Out { dir: &charts_dir, rendered: Vec::new(), skipped: Vec::new() };

    out.chart(spectrum::Spectrum::new(&variants, summary, &labels))?;
    out.chart(bars::Bars::new(summary, &labels))?;
    match &reqs {
        Some(r) => {
            out.chart(timeline::Timeline::new(r, &labels))?;
            out.chart(tokens::Tokens::new(r, &labels))?;
        }
        None => {
            for title in [timeline::TITLE, tokens::TITLE] {
                out.skipped.push(Skipped { title, reason: "this directory has no requests.csv".into() });
            }
        }
    }
    let level_unit = match run.pointer("/load/mode").and_then(|m| m.as_str()) {
        Some("open") => "requests/s",
        _ => "users",
    };
    match (knee::Knee::stages(summary, level_unit), knee::Knee::sweep(summary)) {
        (Err(_), Err(sweep)) => out.skipped.push(Skipped {
            title: "Metrics against load level or swept parameter",
            reason: format!("the load has a single stage, and {}", sweep.reason),
        }),
        (stages, sweep) => {
            for chart in [stages, sweep].into_iter().flatten() {
                out.chart(Ok(chart))?;
            }
        }
    }
    out.chart(cost::Cost::new(summary, &labels))?;
    html::write(dir, summary, &run, &out.rendered, &out.skipped)
}

struct Out<'a> {
    dir: &'a Path,
    rendered: Vec<Rendered>,
    skipped: Vec<Skipped>,
}

impl Out<'_> {
    /// Renders a chart, or records why it does not apply.
    fn chart<C: Chart>(&mut self, chart: Result<C, Skipped>) -> anyhow::Result<()> {
        match chart {
            Ok(c) => {
                let r = render(self.dir, &c).with_context(|| format!("cannot draw chart {}", c.name()))?;
                self.rendered.push(r);
            }
            Err(s) => self.skipped.push(s),
        }
        Ok(())
    }
}

fn render<C: Chart>(dir: &Path, c: &C) -> anyhow::Result<Rendered> {
    let size = c.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        c.draw(&root)?;
        root.present()?;
    }
    write_atomic(&dir.join(format!("{}.svg", c.name())), svg.as_bytes())?;
    // The bitmap backend encodes the PNG itself; it writes to a temporary
    // name first so a crash never leaves half a picture under the real one.
    let png = dir.join(format!("{}.png", c.name()));
    let tmp = dir.join(format!(".{}.png.tmp.png", c.name()));
    {
        let root = BitMapBackend::new(&tmp, size).into_drawing_area();
        root.fill(&WHITE)?;
        c.draw(&root)?;
        root.present()?;
    }
    std::fs::rename(&tmp, &png).with_context(|| format!("cannot write {}", png.display()))?;
    Ok(Rendered { name: c.name(), title: c.title(), caption: c.caption(), svg })
}

fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))
}

/// run.json of the directory; an empty object when there is none (the page
/// then shows no metadata rather than failing).
fn read_run_json(dir: &Path) -> anyhow::Result<serde_json::Value> {
    let path = dir.join("run.json");
    if !path.exists() {
        return Ok(serde_json::json!({}));
    }
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{}: not valid JSON", path.display()))
}

/// Each variant's measurements over every step (exact: histograms add). A
/// variant appears in every step, measured in one (sequential sweep) or all.
fn merge_variants(steps: &[Metrics]) -> Vec<VariantMetrics> {
    let Some(first) = steps.first() else { return Vec::new() };
    (0..first.variants.len())
        .map(|i| {
            let mut v = first.variants[i].clone();
            v.reset_counts();
            for m in steps {
                v.merge(&m.variants[i]);
            }
            v
        })
        .collect()
}
