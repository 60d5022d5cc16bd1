//! Chart 4: Output tokens against e2e latency, per variant: latency grows with the
//! tokens generated (slope ≈ inter-token latency, intercept ≈ TTFT), so
//! this separates slow answers from long ones.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::requests::Requests;
use super::style::{self, color};
use super::{Chart, Skipped};

pub const TITLE: &str = "Output tokens vs end-to-end latency";

pub struct Tokens<'a> {
    r: &'a Requests,
    /// Variant labels, by variant index.
    names: &'a [String],
}

impl<'a> Tokens<'a> {
    pub fn new(r: &'a Requests, names: &'a [String]) -> Result<Self, Skipped> {
        if !r.points.iter().any(|p| p.ok) {
            return Err(Skipped { title: TITLE, reason: "no measured request succeeded".into() });
        }
        Ok(Tokens { r, names })
    }
}

impl Chart for Tokens<'_> {
    fn name(&self) -> &'static str {
        "tokens"
    }
    fn title(&self) -> &'static str {
        TITLE
    }
    fn caption(&self) -> String {
        "Each ok request's output tokens (summed over choices) against its end-to-end latency in ms. \
         Within a variant the slope is the time per output token and the intercept the time to first \
         token."
            .into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let root = root.titled(TITLE, style::caption_font())?;
        let ok = || self.r.points.iter().filter(|p| p.ok);
        let xmax = ok().map(|p| p.output_tokens as f64).fold(0.0, f64::max);
        let ymax = ok().map(|p| p.e2e_ms).fold(0.0, f64::max);
        let items: Vec<(String, Option<RGBColor>)> = self
            .names
            .iter()
            .enumerate()
            .filter(|(v, _)| ok().any(|p| p.variant == *v))
            .map(|(v, n)| (n.clone(), Some(color(v))))
            .collect();
        let root = style::legend(&root, &items)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(0f64..style::nice_max(xmax), 0f64..style::nice_max(ymax))?;
        style::axes(&mut chart, "output tokens", "e2e latency (ms)")?;
        for (v, _) in self.names.iter().enumerate() {
            let c = color(v);
            let pts = ok().filter(|p| p.variant == v);
            chart.draw_series(
                pts.map(|p| Circle::new((p.output_tokens as f64, p.e2e_ms), 3, c.mix(0.5).filled())),
            )?;
        }
        Ok(())
    }
}
