//! Chart 5: Each metric against the load level (stages) or the swept parameter
//! (sweeps): where latency starts to climb and throughput stops growing —
//! the knee.
//!
//! A sweep's parameters come typed with each variant (`Stats::swept`): the
//! x axis is the numeric one with the most distinct values, and the other
//! swept values make one line each.

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
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
    /// The x values double (or more) at each step (16, 64, 256): drawn on
    /// a log axis, where they are evenly spaced.
    log_x: bool,
}

impl Knee {
    pub fn stages(summary: &Summary, unit: &str) -> Result<Self, Skipped> {
        if summary.stages.len() < 2 {
            return Err(Skipped { title: STAGES_TITLE, reason: "the load has a single stage".into() });
        }
        let mut points: Vec<(f64, Figures)> =
            summary.stages.iter().map(|s| (s.level, Figures::from(&s.stats))).collect();
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let log_x = geometric(points.iter().map(|p| p.0));
        Ok(Knee {
            name: "stages",
            title: STAGES_TITLE,
            x_desc: format!("load level ({unit})"),
            lines: vec![("all variants".into(), points)],
            log_x,
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
        let log_x = geometric(axis.points.iter().map(|p| p.0));
        Ok(Knee { name: "sweep", title: SWEEP_TITLE, x_desc: axis.param, lines, log_x })
    }
}

/// Whether the distinct values form a geometric series: three or more, all
/// positive, each step multiplying by at least 1.5 and by about the same
/// factor (within 25%). 16, 64, 256 are; 1, 2, 3 and 10, 20, 200 are not.
fn geometric(xs: impl Iterator<Item = f64>) -> bool {
    let mut xs: Vec<f64> = xs.collect();
    xs.sort_by(f64::total_cmp);
    xs.dedup();
    if xs.len() < 3 || xs[0] <= 0.0 {
        return false;
    }
    let ratios: Vec<f64> = xs.windows(2).map(|w| w[1] / w[0]).collect();
    let (lo, hi) = ratios.iter().fold((f64::INFINITY, 0f64), |(a, b), r| (a.min(*r), b.max(*r)));
    lo >= 1.5 && hi / lo <= 1.25
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
        let scale = if self.log_x { " (log scale: the values grow geometrically)" } else { "" };
        let layers = if self.lines.len() > 1 {
            " Where lines coincide, each one drawn earlier is wider and shows around the later ones."
        } else {
            ""
        };
        format!(
            "TTFT and e2e latency (p50 solid, p99 dashed; ms from the intended start), ok requests per \
             second and output tokens per second, against {}{scale}.{layers}",
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
        // A log axis ticks the values measured (at most 12 of them): its
        // own ticks would be 10, 20, 50, far from 16, 64, 256.
        let mut ticks: Vec<f64> = self.lines.iter().flat_map(|(_, p)| p.iter().map(|p| p.0)).collect();
        ticks.sort_by(f64::total_cmp);
        ticks.dedup();
        let every = ticks.len().div_ceil(12).max(1);
        let ticks: Vec<f64> = ticks.into_iter().step_by(every).collect();
        let (lo, hi) = self.x_range();
        if self.log_x {
            self.panels(&panels, || (lo..hi).log_scale().with_key_points(ticks.clone()))
        } else {
            self.panels(&panels, || lo..hi)
        }
    }
}

/// A chart of the knee's panels, on x coordinates `X` (linear or log).
type Panel<'a, DB, X> = ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>;

impl Knee {
    /// The x range with a margin around the points: 5% of the span on a
    /// linear axis, a fifth of the first and last steps' factors on a log one.
    fn x_range(&self) -> (f64, f64) {
        let xs = self.lines.iter().flat_map(|(_, p)| p.iter().map(|p| p.0));
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(x), b.max(x)));
        if self.log_x {
            let f = (hi / lo).powf(0.05);
            return (lo / f, hi * f);
        }
        let pad = ((hi - lo) * 0.05).max(0.5);
        ((lo - pad).max(if lo >= 0.0 { 0.0 } else { f64::NEG_INFINITY }), hi + pad)
    }

    fn panels<DB: DrawingBackend, X: AsRangedCoord<Value = f64>>(
        &self,
        panels: &[DrawingArea<DB, Shift>],
        x: impl Fn() -> X,
    ) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
        X::CoordDescType: ValueFormatter<f64>,
    {
        let lat = |f: &Figures, k: usize, ttft: bool| if ttft { f.ttft[k] } else { f.e2e[k] };
        let chart =
            |i: usize, title: &str, y_desc: &str, ymax: f64| self.frame(&panels[i], title, y_desc, ymax, x());
        let ymax = |get: &dyn Fn(&Figures) -> Option<f64>| {
            self.lines.iter().flat_map(|(_, p)| p.iter().filter_map(|(_, f)| get(f))).fold(0.0, f64::max)
        };
        let (ttft, e2e) = (|f: &Figures, k| lat(f, k, true), |f: &Figures, k| lat(f, k, false));
        self.latency_panel(chart(0, "Time to first token", "TTFT (ms)", ymax(&|f| ttft(f, 1)))?, ttft)?;
        self.latency_panel(chart(1, "End-to-end latency", "e2e (ms)", ymax(&|f| e2e(f, 1)))?, e2e)?;
        self.rate_panel(chart(2, "Throughput", "ok requests/s", ymax(&|f| Some(f.rps)))?, |f| f.rps)?;
        self.rate_panel(chart(3, "Output tokens", "output tokens/s", ymax(&|f| Some(f.tps)))?, |f| f.tps)
    }

    fn frame<'a, DB: DrawingBackend, X: AsRangedCoord<Value = f64>>(
        &self,
        area: &'a DrawingArea<DB, Shift>,
        title: &str,
        y_desc: &str,
        ymax: f64,
        x: X,
    ) -> anyhow::Result<Panel<'a, DB, X::CoordDescType>>
    where
        DB::ErrorType: 'static,
        X::CoordDescType: ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(area)
            .caption(title, font(15))
            .margin(10)
            .margin_right(20)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(x, 0f64..style::nice_max(ymax))?;
        chart
            .configure_mesh()
            .x_desc(self.x_desc.as_str())
            .y_desc(y_desc)
            .x_label_formatter(&|x| style::number(*x))
            .y_label_formatter(&|y| style::number(*y))
            .label_style(style::label_font())
            .axis_desc_style(style::label_font())
            .light_line_style(WHITE.mix(0.0))
            .draw()?;
        Ok(chart)
    }

    fn latency_panel<DB: DrawingBackend, X: Ranged<ValueType = f64>>(
        &self,
        mut chart: Panel<'_, DB, X>,
        get: impl Fn(&Figures, usize) -> Option<f64>,
    ) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let n = self.lines.len();
        for (i, (_, pts)) in self.lines.iter().enumerate() {
            let (c, w) = (color(i), style::layer_width(i, n));
            let p50: Vec<(f64, f64)> = pts.iter().filter_map(|(x, f)| Some((*x, get(f, 0)?))).collect();
            let p99: Vec<(f64, f64)> = pts.iter().filter_map(|(x, f)| Some((*x, get(f, 1)?))).collect();
            chart.draw_series(LineSeries::new(p50.iter().copied(), c.stroke_width(w)))?;
            chart.draw_series(p50.iter().map(|p| Circle::new(*p, 2 + w, c.filled())))?;
            chart.draw_series(DashedLineSeries::new(p99.iter().copied(), 8, 5, c.stroke_width(w)))?;
            chart.draw_series(p99.iter().map(|p| TriangleMarker::new(*p, 3 + w, c.filled())))?;
        }
        Ok(())
    }

    fn rate_panel<DB: DrawingBackend, X: Ranged<ValueType = f64>>(
        &self,
        mut chart: Panel<'_, DB, X>,
        get: impl Fn(&Figures) -> f64,
    ) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let n = self.lines.len();
        for (i, (_, pts)) in self.lines.iter().enumerate() {
            let (c, w) = (color(i), style::layer_width(i, n));
            let line: Vec<(f64, f64)> = pts.iter().map(|(x, f)| (*x, get(f))).collect();
            chart.draw_series(LineSeries::new(line.iter().copied(), c.stroke_width(w)))?;
            chart.draw_series(line.iter().map(|p| Circle::new(*p, 2 + w, c.filled())))?;
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

    #[test]
    fn values_that_multiply_at_each_step_are_drawn_on_a_log_axis() {
        let g = |xs: &[f64]| geometric(xs.iter().copied());
        assert!(g(&[16.0, 64.0, 256.0]));
        assert!(g(&[256.0, 16.0, 64.0, 64.0]), "order and repeats do not matter");
        assert!(g(&[1.0, 2.0, 4.0, 8.0, 16.0]));
        assert!(g(&[10.0, 100.0, 1000.0]));
        assert!(!g(&[1.0, 2.0, 3.0]), "arithmetic");
        assert!(!g(&[10.0, 20.0, 200.0]), "uneven factors");
        assert!(!g(&[64.0, 1024.0]), "two values: nothing to space");
        assert!(!g(&[0.0, 1.0, 2.0, 4.0]), "zero has no log");
    }
}
