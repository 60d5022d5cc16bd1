//! Chart 5: Each metric against the load level (stages) or the swept parameter
//! (sweeps): where latency starts to climb and throughput stops growing —
//! the knee.
//!
//! A sweep's parameters come typed with each variant (`Stats::swept`): the
//! x axis is the numeric one with the most distinct values, and the other
//! swept values make one line each.

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::style::{self, color, font};
use super::{Chart, Skipped};
use crate::metrics::{Stats, Summary};
use crate::scenario::{Swept, SweptValue};

pub const STAGES_TITLE: &str = "Metrics per load stage";
pub const SWEEP_TITLE: &str = "Metrics across the sweep";

/// The six figures drawn, straight from the summary.
#[derive(Clone, Copy)]
struct Figures {
    ttft: [Option<f64>; 2],
    e2e: [Option<f64>; 2],
    rps: f64,
    tps: f64,
}

impl From<&Stats> for Figures {
    fn from(s: &Stats) -> Self {
        Figures {
            ttft: [s.ttft_ms.p50, s.ttft_ms.p99],
            e2e: [s.e2e_ms.p50, s.e2e_ms.p99],
            rps: s.throughput.requests_per_s,
            tps: s.throughput.output_tokens_per_s,
        }
    }
}

pub struct Knee {
    name: &'static str,
    title: &'static str,
    x_desc: String,
    /// One line each: its label and points sorted by x.
    lines: Vec<(String, Vec<(f64, Figures)>)>,
}

impl Knee {
    pub fn stages(summary: &Summary, unit: &str) -> Result<Self, Skipped> {
        if summary.stages.len() < 2 {
            return Err(Skipped { title: STAGES_TITLE, reason: "the load has a single stage".into() });
        }
        let mut points: Vec<(f64, Figures)> =
            summary.stages.iter().map(|s| (s.level, Figures::from(&s.stats))).collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        Ok(Knee {
            name: "stages",
            title: STAGES_TITLE,
            x_desc: format!("load level ({unit})"),
            lines: vec![("all variants".into(), points)],
        })
    }

    pub fn sweep(summary: &Summary) -> Result<Self, Skipped> {
        let Some(axis) = sweep_axis(&summary.variants) else {
            return Err(Skipped {
                title: SWEEP_TITLE,
                reason: if summary.variants.iter().any(|v| v.swept.is_some()) {
                    "no numeric parameter is swept with two values or more on one line".into()
                } else {
                    "no parameter is swept (or the results were written before llmload recorded sweeps)"
                        .into()
                },
            });
        };
        let mut lines: Vec<(String, Vec<(f64, Figures)>)> = Vec::new();
        for ((x, line), v) in axis.points.iter().zip(&summary.variants) {
            let f = (*x, Figures::from(v));
            match lines.iter_mut().find(|(l, _)| l == line) {
                Some((_, pts)) => pts.push(f),
                None => lines.push((line.clone(), vec![f])),
            }
        }
        for (_, pts) in &mut lines {
            pts.sort_by(|a, b| a.0.total_cmp(&b.0));
        }
        let labels: Vec<String> = lines.iter().map(|(l, _)| l.clone()).collect();
        for ((l, _), short) in lines.iter_mut().zip(style::short_names(&labels, style::LABEL_CHARS)) {
            *l = short;
        }
        Ok(Knee { name: "sweep", title: SWEEP_TITLE, x_desc: axis.param, lines })
    }
}

/// The swept parameter drawn on x.
#[derive(Debug, PartialEq)]
struct Axis {
    param: String,
    /// Per variant: its x value and its line (the base variant and the
    /// other swept values).
    points: Vec<(f64, String)>,
}

/// The numeric parameter swept in every variant with the most distinct
/// values; `None` outside a sweep or unless some line has two points.
fn sweep_axis(variants: &[Stats]) -> Option<Axis> {
    let swept: Vec<&Swept> = variants.iter().map(|v| v.swept.as_ref()).collect::<Option<_>>()?;
    let value =
        |s: &Swept, param: &str| s.values.iter().find(|v| v.param == param).and_then(SweptValue::number);
    let mut best: Option<(usize, &str)> = None;
    for p in &swept.first()?.values {
        let Some(mut xs) = swept.iter().map(|s| value(s, &p.param)).collect::<Option<Vec<f64>>>() else {
            continue;
        };
        xs.sort_by(f64::total_cmp);
        xs.dedup();
        if best.is_none_or(|(n, _)| xs.len() > n) {
            best = Some((xs.len(), &p.param));
        }
    }
    let (distinct, param) = best?;
    if distinct < 2 {
        return None;
    }
    let points: Vec<(f64, String)> = swept
        .iter()
        .map(|s| {
            let others = s.values.iter().filter(|v| v.param != param).map(|v| v.label.as_str());
            let line: Vec<&str> = std::iter::once(s.base.as_str()).chain(others).collect();
            Some((value(s, param)?, line.join("/")))
        })
        .collect::<Option<_>>()?;
    let multi = points.iter().any(|(x, l)| points.iter().any(|(x2, l2)| l == l2 && x != x2));
    multi.then(|| Axis { param: param.to_owned(), points })
}

impl Chart for Knee {
    fn name(&self) -> &'static str {
        self.name
    }
    fn title(&self) -> &'static str {
        self.title
    }
    fn caption(&self) -> String {
        format!(
            "TTFT and e2e latency (p50 solid, p99 dashed; ms from the intended start), ok requests per \
             second and output tokens per second, against {}.",
            self.x_desc
        )
    }
    fn size(&self) -> (u32, u32) {
        (960, 720)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let root = root.titled(self.title, style::caption_font())?;
        let mut items: Vec<(String, Option<RGBColor>)> =
            self.lines.iter().enumerate().map(|(i, (l, _))| (l.clone(), Some(color(i)))).collect();
        if self.lines.len() == 1 {
            items.clear();
        }
        items.push(("lines: p50 solid ●, p99 dashed ▲".into(), None));
        let grid = style::legend(&root, &items)?;
        let panels = grid.split_evenly((2, 2));
        let lat = |f: &Figures, k: usize, ttft: bool| if ttft { f.ttft[k] } else { f.e2e[k] };
        self.latency_panel(&panels[0], "Time to first token", "TTFT (ms)", |f, k| lat(f, k, true))?;
        self.latency_panel(&panels[1], "End-to-end latency", "e2e (ms)", |f, k| lat(f, k, false))?;
        self.rate_panel(&panels[2], "Throughput", "ok requests/s", |f| f.rps)?;
        self.rate_panel(&panels[3], "Output tokens", "output tokens/s", |f| f.tps)?;
        Ok(())
    }
}

impl Knee {
    fn x_range(&self) -> std::ops::Range<f64> {
        let xs = self.lines.iter().flat_map(|(_, p)| p.iter().map(|p| p.0));
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
        let pad = ((hi - lo) * 0.05).max(0.5);
        (lo - pad).max(if lo >= 0.0 { 0.0 } else { f64::NEG_INFINITY })..hi + pad
    }

    fn frame<'a, DB: DrawingBackend>(
        &self,
        area: &'a DrawingArea<DB, Shift>,
        title: &str,
        y_desc: &str,
        ymax: f64,
    ) -> anyhow::Result<ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>>
    where
        DB::ErrorType: 'static,
    {
        let mut chart = ChartBuilder::on(area)
            .caption(title, font(15))
            .margin(10)
            .margin_right(20)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(self.x_range(), 0f64..style::nice_max(ymax))?;
        style::axes(&mut chart, self.x_desc.as_str(), y_desc)?;
        Ok(chart)
    }

    fn latency_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
        y_desc: &str,
        get: impl Fn(&Figures, usize) -> Option<f64>,
    ) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let ymax =
            self.lines.iter().flat_map(|(_, p)| p.iter().filter_map(|(_, f)| get(f, 1))).fold(0.0, f64::max);
        let mut chart = self.frame(area, title, y_desc, ymax)?;
        for (i, (_, pts)) in self.lines.iter().enumerate() {
            let c = color(i);
            let p50: Vec<(f64, f64)> = pts.iter().filter_map(|(x, f)| Some((*x, get(f, 0)?))).collect();
            let p99: Vec<(f64, f64)> = pts.iter().filter_map(|(x, f)| Some((*x, get(f, 1)?))).collect();
            chart.draw_series(LineSeries::new(p50.iter().copied(), c.stroke_width(2)))?;
            chart.draw_series(p50.iter().map(|p| Circle::new(*p, 4, c.filled())))?;
            chart.draw_series(DashedLineSeries::new(p99.iter().copied(), 8, 5, c.stroke_width(2)))?;
            chart.draw_series(p99.iter().map(|p| TriangleMarker::new(*p, 5, c.filled())))?;
        }
        Ok(())
    }

    fn rate_panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        title: &str,
        y_desc: &str,
        get: impl Fn(&Figures) -> f64,
    ) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let ymax = self.lines.iter().flat_map(|(_, p)| p.iter().map(|(_, f)| get(f))).fold(0.0, f64::max);
        let mut chart = self.frame(area, title, y_desc, ymax)?;
        for (i, (_, pts)) in self.lines.iter().enumerate() {
            let c = color(i);
            let line: Vec<(f64, f64)> = pts.iter().map(|(x, f)| (*x, get(f))).collect();
            chart.draw_series(LineSeries::new(line.iter().copied(), c.stroke_width(2)))?;
            chart.draw_series(line.iter().map(|p| Circle::new(*p, 4, c.filled())))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod sweep_tests {
    use super::*;

    /// Stats of variants `base` swept over `values` (param, JSON value).
    fn swept(base: &str, values: &[(&str, serde_json::Value)]) -> Stats {
        let json = include_str!("../../../tests/fixtures/results-v0/summary.json");
        let summary: Summary = serde_json::from_str(json).expect("fixture");
        let mut s = summary.total;
        let values: Vec<SweptValue> = values
            .iter()
            .map(|(p, v)| SweptValue { param: (*p).into(), value: v.clone(), label: format!("{p}={v}") })
            .collect();
        s.swept = Some(Swept { base: base.into(), values });
        s
    }

    #[test]
    fn the_most_varied_numeric_parameter_is_x_and_the_others_make_lines() {
        use serde_json::json;
        let vs: Vec<Stats> = [1, 2]
            .iter()
            .flat_map(|n| [16, 64, 256].map(|m| swept("c", &[("n", json!(n)), ("max_tokens", json!(m))])))
            .collect();
        let a = sweep_axis(&vs).expect("a sweep");
        assert_eq!(a.param, "max_tokens");
        assert_eq!(a.points[3], (16.0, "c/n=2".into()));
    }

    #[test]
    fn no_axis_without_numbers_or_without_a_line_of_two_points() {
        use serde_json::json;
        let stream = [true, false].map(|b| swept("a", &[("stream", json!(b))]));
        assert_eq!(sweep_axis(&stream), None);
        let model = ["m1", "m2"].map(|m| swept("a", &[("model", json!(m))]));
        assert_eq!(sweep_axis(&model), None);
        // Each line one point: nothing to draw a line through.
        let lonely = [swept("a", &[("n", json!(1))]), swept("b", &[("n", json!(2))])];
        assert_eq!(sweep_axis(&lonely), None);
        assert_eq!(sweep_axis(&[]), None);
    }
}
