//! Chart 3: Timeline: each request's e2e latency at its intended start (a sample
//! when there are many), and below it throughput and requests in flight per
//! time bucket. Shows warm-up effects, stalls, stages and drift over the run.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::requests::Requests;
use super::style::{self, ERROR_RED, color, label_font};
use super::{Chart, Skipped};

pub const TITLE: &str = "Timeline";

pub struct Timeline<'a> {
    r: &'a Requests,
    /// Variant labels, by variant index.
    names: &'a [String],
}

impl<'a> Timeline<'a> {
    pub fn new(r: &'a Requests, names: &'a [String]) -> Result<Self, Skipped> {
        if r.points.is_empty() {
            return Err(Skipped { title: TITLE, reason: "no measured request in requests.csv".into() });
        }
        Ok(Timeline { r, names })
    }
}

impl Chart for Timeline<'_> {
    fn name(&self) -> &'static str {
        "timeline"
    }
    fn title(&self) -> &'static str {
        TITLE
    }
    fn caption(&self) -> String {
        let mut c = format!(
            "Top: end-to-end latency of each measured request (ms) at its intended start; errors are \
             red crosses{}. Bottom: measured ok requests completed per second, and the mean number of \
             requests in flight (warm-up ones included), per {} s.",
            if (self.r.points.len() as u64) < self.r.rows {
                format!(
                    "; {} of {} requests drawn (an even sample plus the slowest)",
                    self.r.points.len(),
                    self.r.rows
                )
            } else {
                String::new()
            },
            style::number(self.r.bucket_s),
        );
        if self.r.steps_laid_out {
            c += " The steps of the sequential sweep are laid end to end, in order.";
        }
        c
    }
    fn size(&self) -> (u32, u32) {
        (960, 640)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let root = root.titled(TITLE, style::caption_font())?;
        let (top, bottom) = root.split_vertically(root.dim_in_pixel().1 * 58 / 100);
        let t_end = self.r.buckets.last().map_or(1.0, |b| b.0 + self.r.bucket_s / 2.0);
        let t_start = self.r.points.iter().map(|p| p.t).fold(t_end, f64::min).floor();
        let x = t_start..t_end.max(t_start + 1.0);
        let ymax = self.r.points.iter().map(|p| p.e2e_ms).fold(0.0, f64::max);

        let mut present = vec![false; self.names.len()];
        for p in self.r.points.iter().filter(|p| p.ok) {
            present[p.variant] = true;
        }
        let mut items: Vec<(String, Option<RGBColor>)> = self
            .names
            .iter()
            .enumerate()
            .filter(|(v, _)| present[*v])
            .map(|(v, n)| (n.clone(), Some(color(v))))
            .collect();
        let errors: Vec<_> = self.r.points.iter().filter(|p| !p.ok).collect();
        if !errors.is_empty() {
            items.push(("error (×)".into(), Some(ERROR_RED)));
        }
        let top = style::legend(&top, &items)?;
        let mut chart = ChartBuilder::on(&top)
            .margin(12)
            .margin_right(80)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(x.clone(), 0f64..style::nice_max(ymax))?;
        style::axes(&mut chart, "", "e2e latency (ms)")?;
        for v in (0..self.names.len()).filter(|v| present[*v]) {
            let c = color(v);
            let pts = self.r.points.iter().filter(|p| p.ok && p.variant == v);
            chart.draw_series(pts.map(|p| Circle::new((p.t, p.e2e_ms), 2, c.mix(0.55).filled())))?;
        }
        chart
            .draw_series(errors.iter().map(|p| Cross::new((p.t, p.e2e_ms), 4, ERROR_RED.stroke_width(1))))?;

        let rate_color = RGBColor(31, 119, 180);
        let flight_color = RGBColor(120, 120, 120);
        let bottom = style::legend(
            &bottom,
            &[
                ("ok requests completed per second (left axis)".into(), Some(rate_color)),
                ("mean requests in flight (right axis)".into(), Some(flight_color)),
            ],
        )?;
        let rate_max = self.r.buckets.iter().map(|b| b.1).fold(0.0, f64::max);
        let flight_max = self.r.buckets.iter().map(|b| b.2).fold(0.0, f64::max);
        let mut chart = ChartBuilder::on(&bottom)
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .right_y_label_area_size(68)
            .build_cartesian_2d(x.clone(), 0f64..style::nice_max(rate_max))?
            .set_secondary_coord(x, 0f64..style::nice_max(flight_max));
        style::axes(&mut chart, "run time (s)", "completed (requests/s)")?;
        chart
            .configure_secondary_axes()
            .y_desc("in flight (requests)")
            .y_label_formatter(&|y| style::number(*y))
            .label_style(label_font())
            .axis_desc_style(label_font())
            .draw()?;
        chart.draw_series(LineSeries::new(
            self.r.buckets.iter().map(|b| (b.0, b.1)),
            rate_color.stroke_width(2),
        ))?;
        chart.draw_secondary_series(LineSeries::new(
            self.r.buckets.iter().map(|b| (b.0, b.2)),
            flight_color.stroke_width(2),
        ))?;
        Ok(())
    }
}
