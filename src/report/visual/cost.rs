//! Chart 6: Cost against latency per variant: the trade-off frontier. A variant
//! that another beats on both cost and latency is never the right choice;
//! the others (the frontier) are joined by a line.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::style::{self, color};
use super::{Chart, Skipped};
use crate::metrics::Summary;

pub const TITLE: &str = "Cost vs latency";

struct Point {
    variant: usize,
    name: String,
    p50: f64,
    p99: f64,
    /// USD per 1,000 requests sent.
    usd_per_k: f64,
}

pub struct Cost {
    points: Vec<Point>,
}

/// Indices of the points no other point beats on both axes (lower is better
/// on both), sorted by x.
pub fn frontier(points: &[(f64, f64)]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..points.len()).collect();
    idx.sort_by(|&a, &b| points[a].0.total_cmp(&points[b].0).then(points[a].1.total_cmp(&points[b].1)));
    let mut best = f64::INFINITY;
    idx.into_iter()
        .filter(|&i| {
            let keep = points[i].1 < best;
            best = best.min(points[i].1);
            keep
        })
        .collect()
}

impl Cost {
    pub fn new(summary: &Summary, labels: &[String]) -> Result<Self, Skipped> {
        let points: Vec<Point> = summary
            .variants
            .iter()
            .enumerate()
            .filter_map(|(variant, v)| {
                let cost = v.cost_usd?;
                let (p50, p99) = (v.e2e_ms.p50?, v.e2e_ms.p99?);
                (v.requests.sent > 0).then(|| Point {
                    variant,
                    name: labels[variant].clone(),
                    p50,
                    p99,
                    // Per request, so variants sent different numbers of
                    // times (weights, sequential steps) compare fairly.
                    usd_per_k: cost / v.requests.sent as f64 * 1000.0,
                })
            })
            .collect();
        if points.is_empty() {
            return Err(Skipped {
                title: TITLE,
                reason: "no variant has a price ([pricing] in the scenario)".into(),
            });
        }
        Ok(Cost { points })
    }
}

impl Chart for Cost {
    fn name(&self) -> &'static str {
        "cost"
    }
    fn title(&self) -> &'static str {
        TITLE
    }
    fn caption(&self) -> String {
        "Cost per 1,000 requests (USD, from the summary's cost of the measured requests) against \
         end-to-end latency p50 (dot) to p99 (end of the whisker), per priced variant. The line joins \
         the frontier: variants that no other beats on both cost and p50 latency."
            .into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let root = root.titled(TITLE, style::caption_font())?;
        let xmax = self.points.iter().map(|p| p.p99).fold(0.0, f64::max);
        let ymax = self.points.iter().map(|p| p.usd_per_k).fold(0.0, f64::max);
        let mut items: Vec<(String, Option<RGBColor>)> =
            self.points.iter().map(|p| (p.name.clone(), Some(color(p.variant)))).collect();
        let xy: Vec<(f64, f64)> = self.points.iter().map(|p| (p.p50, p.usd_per_k)).collect();
        let front: Vec<(f64, f64)> = frontier(&xy).into_iter().map(|i| xy[i]).collect();
        if front.len() > 1 {
            items.push(("grey line: the frontier".into(), None));
        }
        let root = style::legend(&root, &items)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .margin_right(24)
            .x_label_area_size(44)
            .y_label_area_size(72)
            .build_cartesian_2d(0f64..style::nice_max(xmax), 0f64..style::nice_max(ymax))?;
        style::axes(&mut chart, "e2e latency p50 – p99 (ms)", "USD per 1,000 requests")?;
        if front.len() > 1 {
            chart.draw_series(LineSeries::new(front, style::grey().stroke_width(1)))?;
        }
        for p in &self.points {
            let c = color(p.variant);
            chart.draw_series([PathElement::new(
                [(p.p50, p.usd_per_k), (p.p99, p.usd_per_k)],
                c.stroke_width(2),
            )])?;
            chart.draw_series([Circle::new((p.p50, p.usd_per_k), 6, c.filled())])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::frontier;

    #[test]
    fn frontier_keeps_only_undominated_points() {
        // (latency, cost): the second is slower and dearer than the first.
        let pts = [(100.0, 1.0), (200.0, 2.0), (50.0, 3.0), (300.0, 0.5)];
        assert_eq!(frontier(&pts), [2, 0, 3]);
        assert_eq!(frontier(&[]), Vec::<usize>::new());
    }
}
