//! Chart 1: Percentile spectrum: latency at every percentile from 0 to 99.99, with
//! the nines evenly spaced, so the tail gets as much room as the median.
//! Read from the histograms themselves, not from the summary's few points.

use hdrhistogram::Histogram;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{self, color, font, label_font};
use super::{Chart, Skipped};
use crate::metrics::{Summary, VariantMetrics};

pub const TITLE: &str = "Latency percentile spectrum";
/// Points per curve: 100 per decade of nines.
const STEPS: usize = 400;

/// Points (spectrum x, ms).
type Curve = Vec<(f64, f64)>;

pub struct Spectrum {
    /// (variant index, name, TTFT curve, e2e curve).
    series: Vec<(usize, String, Curve, Curve)>,
}

/// (spectrum x, ms) from 0 to 4 on the x axis (the 99.99th percentile).
pub fn curve(h: &Histogram<u64>) -> Curve {
    if h.is_empty() {
        return Vec::new();
    }
    (0..=STEPS)
        .map(|i| {
            let x = 4.0 * i as f64 / STEPS as f64;
            (x, h.value_at_quantile(style::spectrum_q(x)) as f64 / 1000.0)
        })
        .collect()
}

impl Spectrum {
    pub fn new(variants: &[VariantMetrics], summary: &Summary, labels: &[String]) -> Result<Self, Skipped> {
        let series: Vec<_> = variants
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.h.e2e.is_empty())
            .map(|(i, v)| {
                let streamed = summary.variants.get(i).and_then(|s| s.streaming) != Some(false);
                // Without streaming TTFT is e2e: do not draw it as if measured.
                let ttft = if streamed { curve(&v.h.ttft) } else { Vec::new() };
                (i, labels[i].clone(), ttft, curve(&v.h.e2e))
            })
            .collect();
        if series.is_empty() {
            return Err(Skipped { title: TITLE, reason: "no request succeeded".into() });
        }
        Ok(Spectrum { series })
    }
}

impl Chart for Spectrum {
    fn name(&self) -> &'static str {
        "spectrum"
    }
    fn title(&self) -> &'static str {
        TITLE
    }
    fn caption(&self) -> String {
        "Latency (ms, from the intended start) at each percentile, per variant; the x axis spaces \
         90%, 99%, 99.9% and 99.99% evenly, so the tail is visible. Non-streamed variants have no \
         TTFT curve (their TTFT is their e2e). Where curves coincide, each one drawn earlier is \
         wider and shows around the later ones."
            .into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let root = root.titled(TITLE, style::caption_font())?;
        // One legend above both panels: inside, it would cover the curves.
        let items: Vec<(String, Option<RGBColor>)> =
            self.series.iter().map(|s| (s.1.clone(), Some(color(s.0)))).collect();
        let plots = style::legend(&root, &items)?;
        let (left, right) = plots.split_horizontally(plots.dim_in_pixel().0 / 2);
        panel(&left, "Time to first token", self.series.iter().map(|s| (s.0, &s.1, &s.2)))?;
        panel(&right, "End-to-end latency", self.series.iter().map(|s| (s.0, &s.1, &s.3)))?;
        Ok(())
    }
}

fn panel<'a, DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    series: impl Iterator<Item = (usize, &'a String, &'a Curve)> + Clone,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let top = series.clone().flat_map(|s| s.2.iter().map(|p| p.1)).fold(0.0, f64::max);
    let mut chart = ChartBuilder::on(area)
        .caption(title, font(16))
        .margin(12)
        .margin_right(30)
        .x_label_area_size(44)
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..4f64, 0f64..style::nice_max(top))?;
    chart
        .configure_mesh()
        .x_labels(9)
        .x_label_formatter(&|x| style::spectrum_label(*x))
        .y_label_formatter(&|y| style::number(*y))
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .label_style(label_font())
        .axis_desc_style(label_font())
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    let mut any = false;
    let n = series.clone().count();
    for (k, (i, _, points)) in series.enumerate() {
        any |= !points.is_empty();
        chart.draw_series(LineSeries::new(
            points.iter().copied(),
            color(i).stroke_width(style::layer_width(k, n)),
        ))?;
    }
    if !any {
        area.draw(&Text::new("no streamed variant", (100, 100), font(14)))?;
    }
    Ok(())
}
