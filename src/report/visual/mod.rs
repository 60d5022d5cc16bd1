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
//! axis helpers), `sample` and `requests` turn requests.csv's rows (from
//! `results`' reader) into bounded data, `html` and `tables` write the page.
//! Charts and the page are rendered to bytes from typed values (the summary,
//! run.json's `RunInfo`, the sampled requests); `ResultsDir` writes them.

mod bars;
mod capacity;
mod cost;
mod escape;
mod html;
mod knee;
mod requests;
mod sample;
mod spectrum;
mod style;
mod tables;
mod timeline;
mod tokens;

use anyhow::Context;
use image::ImageEncoder;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::metrics::{Metrics, Summary, VariantMetrics};
use crate::results::{ResultsDir, RunInfo};
use crate::scenario::SweepMode;

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
/// the run (one, or one per variant in a sequential sweep); the per-request
/// charts read the directory's requests.csv, when it has one.
pub fn write_visuals(
    dir: &ResultsDir,
    summary: &Summary,
    steps: &[Metrics],
    run: &RunInfo,
) -> anyhow::Result<()> {
    let names: Vec<String> = summary.variants.iter().map(|v| v.name.clone()).collect();
    let sequential = run.load.sweep_mode == SweepMode::Sequential;
    let reqs = if dir.has_requests() {
        Some(requests::load(|| dir.requests(), &names, sequential, MAX_POINTS)?)
    } else {
        None
    };
    for (name, bytes) in render_visuals(summary, steps, run, reqs.as_ref())? {
        dir.write(&name, &bytes)?;
    }
    Ok(())
}

/// Every chart that applies (SVG and PNG, under `charts/`) and report.html,
/// as (file name, bytes).
pub fn render_visuals(
    summary: &Summary,
    steps: &[Metrics],
    run: &RunInfo,
    reqs: Option<&requests::Requests>,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    style::register_font()?;
    let variants = merge_variants(steps);
    let names: Vec<String> = summary.variants.iter().map(|v| v.name.clone()).collect();
    let labels = style::short_names(&names, style::LABEL_CHARS);
    let mut out = Out { files: Vec::new(), rendered: Vec::new(), skipped: Vec::new() };

    out.chart(spectrum::Spectrum::new(&variants, summary, &labels))?;
    out.chart(bars::Bars::new(summary, &labels))?;
    match reqs {
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
    match (knee::Knee::stages(summary, run.load.mode.level_unit()), knee::Knee::sweep(summary)) {
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
    let html = html::render(summary, run, &out.rendered, &out.skipped);
    out.files.push(("report.html".into(), html.into_bytes()));
    Ok(out.files)
}

struct Out {
    files: Vec<(String, Vec<u8>)>,
    rendered: Vec<Rendered>,
    skipped: Vec<Skipped>,
}

impl Out {
    /// Renders a chart, or records why it does not apply.
    fn chart<C: Chart>(&mut self, chart: Result<C, Skipped>) -> anyhow::Result<()> {
        match chart {
            Ok(c) => {
                let (r, png) = render(&c).with_context(|| format!("cannot draw chart {}", c.name()))?;
                self.files.push((format!("charts/{}.svg", c.name()), r.svg.clone().into_bytes()));
                self.files.push((format!("charts/{}.png", c.name()), png));
                self.rendered.push(r);
            }
            Err(s) => self.skipped.push(s),
        }
        Ok(())
    }
}

/// The chart of a capacity search, as SVG and PNG bytes, and a page that
/// shows it with the capacity table (`llmload search`'s report.html).
pub fn capacity_visuals(
    c: &crate::capacity::Capacity,
    table: &str,
    scenario: &str,
) -> anyhow::Result<(String, Vec<u8>, String)> {
    style::register_font()?;
    let (rendered, png) = render(&capacity::CapacityChart { capacity: c })?;
    let e = escape::esc;
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>llmload search: {name}</title>\n\
         <style>body{{font-family:sans-serif;max-width:1000px;margin:2em auto;padding:0 1em}}\
         pre{{overflow-x:auto;font-size:13px}}</style></head><body>\n<h1>llmload search: {name}</h1>\n\
         <pre>{table}</pre>\n<figure id=\"capacity\">{svg}<figcaption>{caption}</figcaption></figure>\n</body></html>\n",
        name = e(scenario),
        table = e(table),
        svg = rendered.svg,
        caption = e(&rendered.caption),
    );
    Ok((rendered.svg, png, html))
}

/// The chart as SVG (kept for report.html) and as PNG bytes.
fn render<C: Chart>(c: &C) -> anyhow::Result<(Rendered, Vec<u8>)> {
    let size = c.size();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE)?;
        c.draw(&root)?;
        root.present()?;
    }
    let mut rgb = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        root.fill(&WHITE)?;
        c.draw(&root)?;
        root.present()?;
    }
    let mut png = Vec::new();
    image::codecs::png::PngEncoder::new(&mut png)
        .write_image(&rgb, size.0, size.1, image::ColorType::Rgb8)
        .context("cannot encode the PNG")?;
    Ok((Rendered { name: c.name(), title: c.title(), caption: c.caption(), svg }, png))
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
