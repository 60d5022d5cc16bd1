//! The chart of a capacity search: each probe's latency objective (its
//! estimate and 95% interval) against the rate it achieved, the objective's
//! limit drawn across, and the capacity found marked: where latency leaves
//! the limit behind is the knee.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::Chart;
use super::style::{self, color, font};
use crate::capacity::{Capacity, Verdict};

pub const TITLE: &str = "Latency objective against throughput";

pub struct CapacityChart<'a> {
    pub capacity: &'a Capacity,
}

/// A probe as drawn: achieved rate, the objective's estimate and interval,
/// the verdict.
type Point = (f64, f64, (f64, f64), Verdict);

impl CapacityChart<'_> {
    /// The name of the latency objective drawn (the limiting one, else the
    /// first in ms), its limit, and each probe's point.
    fn points(&self) -> Option<(String, f64, Vec<Point>)> {
        let first = self.capacity.probes.first()?;
        let pick = first
            .objectives
            .iter()
            .position(|o| Some(&o.name) == self.capacity.limiting.as_ref() && o.unit == "ms")
            .or_else(|| first.objectives.iter().position(|o| o.unit == "ms"))?;
        let name = first.objectives[pick].name.clone();
        let limit = first.objectives[pick].limit;
        let pts = self
            .capacity
            .probes
            .iter()
            .filter_map(|p| {
                let o = p.objectives.get(pick)?;
                let e = o.estimate?;
                Some((p.achieved_rate, e, o.interval.unwrap_or((e, e)), o.verdict))
            })
            .collect();
        Some((name, limit, pts))
    }
}

impl Chart for CapacityChart<'_> {
    fn name(&self) -> &'static str {
        "capacity"
    }
    fn title(&self) -> &'static str {
        TITLE
    }
    fn caption(&self) -> String {
        "Each probe: the latency objective's estimate (dot) and its 95% interval (bar) against the \
         requests per second it achieved; green met, red missed, orange too close to call. The dashed \
         line is the objective's limit, the vertical line the capacity found."
            .into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let root = root.titled(TITLE, style::caption_font())?;
        let Some((name, limit, pts)) = self.points() else {
            root.draw(&Text::new("no latency objective to draw", (40, 40), font(14)))?;
            return Ok(());
        };
        let xmax = pts.iter().map(|p| p.0).fold(0.0, f64::max).max(self.capacity.max_rate.unwrap_or(0.0));
        let ymax = pts.iter().map(|p| p.2.1).fold(limit, f64::max);
        let mut chart = ChartBuilder::on(&root)
            .margin(10)
            .margin_right(20)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..style::nice_max(xmax * 1.05), 0f64..style::nice_max(ymax * 1.1))?;
        style::axes(&mut chart, "achieved requests/s", &format!("{name} (ms)"))?;
        let (x0, x1) = (0.0, style::nice_max(xmax * 1.05));
        chart.draw_series(DashedLineSeries::new([(x0, limit), (x1, limit)], 8, 5, RED.stroke_width(2)))?;
        if let Some(cap) = self.capacity.max_rate {
            let top = style::nice_max(ymax * 1.1);
            chart.draw_series(LineSeries::new([(cap, 0.0), (cap, top)], color(0).stroke_width(2)))?;
            chart.draw_series(std::iter::once(Text::new(
                format!("capacity {cap:.1} req/s"),
                (cap, top * 0.95),
                font(13),
            )))?;
        }
        for (x, e, (lo, hi), v) in pts {
            let c = match v {
                Verdict::Meets => RGBColor(0x2e, 0x7d, 0x32),
                Verdict::Misses => RGBColor(0xc6, 0x28, 0x28),
                Verdict::TooClose => RGBColor(0xef, 0x6c, 0x00),
            };
            chart.draw_series(LineSeries::new([(x, lo), (x, hi)], c.stroke_width(2)))?;
            chart.draw_series(std::iter::once(Circle::new((x, e), 5, c.filled())))?;
        }
        Ok(())
    }
}
