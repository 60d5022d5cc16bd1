//! What every chart shares: the embedded font, a palette, text sizes, and
//! small pure helpers for axes and labels.

use std::sync::OnceLock;

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::FontStyle;

/// DejaVu Sans (Bitstream Vera licence, assets/fonts/DejaVu-LICENSE): PNG
/// text needs a font file, and a headless machine may have none.
static FONT: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");
pub const FAMILY: &str = "sans-serif";

pub fn register_font() -> anyhow::Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        // Bold text is drawn with the regular face rather than failing.
        [FontStyle::Normal, FontStyle::Bold]
            .into_iter()
            .all(|s| plotters::style::register_font(FAMILY, s, FONT).is_ok())
    });
    anyhow::ensure!(ok, "the embedded chart font could not be loaded");
    Ok(())
}

pub fn font(size: u32) -> TextStyle<'static> {
    (FAMILY, size).into_font().color(&BLACK)
}

pub fn caption_font() -> TextStyle<'static> {
    (FAMILY, 20, FontStyle::Bold).into_font().color(&BLACK)
}

pub fn label_font() -> TextStyle<'static> {
    font(14)
}

pub fn grey() -> RGBColor {
    RGBColor(110, 110, 110)
}

/// Tableau 10: distinct, colour-blind friendly enough, and printable.
const PALETTE: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

/// The colour of the i-th variant, the same in every chart.
pub fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// The stroke width of series `i` of `n` drawn in order: each one drawn
/// earlier is wider, so that where series coincide (equal latency) every
/// colour still shows, as a band around the ones drawn after it.
pub fn layer_width(i: usize, n: usize) -> u32 {
    2 + 2 * n.saturating_sub(i + 1).min(5) as u32
}

/// Errors are red crosses whatever their variant, so they stand out.
pub const ERROR_RED: RGBColor = RGBColor(200, 0, 0);

/// Shortens a label to at most `max` characters by cutting its middle: sweep
/// names differ at the end (`chat/gpt-4o-mini/max_tokens=64`), so both ends
/// are kept.
pub fn truncate_middle(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max || max < 5 {
        return s.chars().take(max.max(1)).collect();
    }
    let keep = max - 1;
    let head = keep / 2;
    let tail = keep - head;
    let start: String = s.chars().take(head).collect();
    let end: String = s.chars().skip(n - tail).collect();
    format!("{start}…{end}")
}

/// Characters of a variant label in charts.
pub const LABEL_CHARS: usize = 34;

/// Labels for variant names: leading `/`-segments shared by every name are
/// dropped (a sweep's names all start with the variant's own name, which
/// says nothing), then each is cut to `max` characters in the middle.
pub fn short_names(names: &[String], max: usize) -> Vec<String> {
    let split: Vec<Vec<&str>> = names.iter().map(|n| n.split('/').collect()).collect();
    let shortest = split.iter().map(Vec::len).min().unwrap_or(0);
    let mut common = 0;
    // Keep at least one segment of every name.
    while names.len() > 1 && common + 1 < shortest && split.iter().all(|s| s[common] == split[0][common]) {
        common += 1;
    }
    split
        .iter()
        .map(|s| {
            let rest = s[common..].join("/");
            truncate_middle(&if common > 0 { format!("…/{rest}") } else { rest }, max)
        })
        .collect()
}

/// A round upper bound for an axis starting at 0, with some headroom:
/// 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k.
pub fn nice_max(v: f64) -> f64 {
    if !v.is_finite() || v <= 0.0 {
        return 1.0;
    }
    let v = v * 1.05;
    let mag = 10f64.powf(v.log10().floor());
    let steps = [1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0];
    let m = steps.iter().find(|&&s| s * mag >= v * (1.0 - 1e-12)).copied().unwrap_or(10.0);
    m * mag
}

/// The quantile at x on the spectrum's axis, x = log10(1 / (1 - q)): 0, 1,
/// 2, 3, 4 are the 0th, 90th, 99th, 99.9th and 99.99th percentiles, evenly
/// spaced.
pub fn spectrum_q(x: f64) -> f64 {
    1.0 - 10f64.powf(-x)
}

/// Tick label of the spectrum's x axis: "0%", "90%", "99.9%"; "" between
/// whole decades so that labels never crowd.
pub fn spectrum_label(x: f64) -> String {
    if (x - x.round()).abs() > 1e-9 || x < -1e-9 {
        return String::new();
    }
    let pct = spectrum_q(x.round()) * 100.0;
    let decimals = (x.round() as usize).saturating_sub(2);
    format!("{pct:.decimals$}%")
}

/// A legend above the plot: coloured swatches and labels (no swatch for a
/// `None` colour), for charts whose data may fill any corner of the plot.
/// Items wrap onto as many lines as needed; returns the rest of `area`.
pub fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    items: &[(String, Option<RGBColor>)],
) -> anyhow::Result<DrawingArea<DB, plotters::coord::Shift>>
where
    DB::ErrorType: 'static,
{
    const LINE: i32 = 22;
    const LEFT: i32 = 70;
    let f = font(13);
    let width = area.dim_in_pixel().0 as i32 - 10;
    let mut placed = Vec::new();
    let (mut x, mut line) = (LEFT, 0);
    for (label, c) in items {
        let (w, _) = area.estimate_text_size(label, &f)?;
        let w = w as i32 + if c.is_some() { 20 } else { 0 };
        if x > LEFT && x + w > width {
            (x, line) = (LEFT, line + 1);
        }
        placed.push((x, line * LINE + LINE / 2 + 4, label, c));
        x += w + 22;
    }
    let height = (line + 1) * LINE + 8;
    let (top, rest) = area.split_vertically(height);
    for (mut x, y, label, c) in placed {
        if let Some(c) = c {
            top.draw(&Rectangle::new([(x, y - 6), (x + 14, y + 6)], c.filled()))?;
            x += 20;
        }
        top.draw(&Text::new(label.clone(), (x, y - 7), f.clone()))?;
    }
    Ok(rest)
}

/// A number for an axis label: no trailing ".0", thousands readable.
pub fn number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if a >= 100_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if a >= 100.0 || (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').to_owned()
    }
}

/// The axes most charts share: both linear in f64, numbers formatted by
/// `number`, the house fonts, a light grid; an empty description draws none.
pub fn axes<DB: DrawingBackend>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    x_desc: &str,
    y_desc: &str,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let mut mesh = chart.configure_mesh();
    if !x_desc.is_empty() {
        mesh.x_desc(x_desc);
    }
    mesh.y_desc(y_desc)
        .x_label_formatter(&|x| number(*x))
        .y_label_formatter(&|y| number(*y))
        .label_style(label_font())
        .axis_desc_style(label_font())
        .light_line_style(WHITE.mix(0.0))
        .draw()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_labels_lose_their_middle_and_keep_both_ends() {
        assert_eq!(truncate_middle("short", 10), "short");
        let t = truncate_middle("chat/gpt-4o-mini-2024-07-18/max_tokens=64", 24);
        assert_eq!(t.chars().count(), 24);
        assert!(t.starts_with("chat/gpt-4") && t.ends_with("tokens=64") && t.contains('…'), "{t}");
        assert_eq!(truncate_middle("ééééééééé", 5).chars().count(), 5);
    }

    #[test]
    fn short_names_drop_the_shared_start_and_keep_what_differs() {
        let names = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let got = short_names(
            &names(&[
                "chat-with-a-long-name/a-long-model-2024-07-18/max_tokens=8",
                "chat-with-a-long-name/small/max_tokens=8",
            ]),
            30,
        );
        assert_eq!(got[1], "…/small/max_tokens=8");
        assert!(got[0].starts_with("…/a-long") && got[0].ends_with("max_tokens=8"), "{got:?}");
        // Nothing shared, or a single name: kept whole.
        assert_eq!(short_names(&names(&["a/x", "b/x"]), 30), ["a/x", "b/x"]);
        assert_eq!(short_names(&names(&["chat/m"]), 30), ["chat/m"]);
    }

    #[test]
    fn nice_max_is_round_and_above_the_data() {
        for (v, want) in [(0.0, 1.0), (95.0, 100.0), (101.0, 120.0), (1175.0, 1500.0), (4329.0, 5000.0)] {
            assert_eq!(nice_max(v), want, "nice_max({v})");
        }
        for v in [0.013, 7.7, 333.0, 98_765.0] {
            let m = nice_max(v);
            assert!(m > v && m < v * 1.6, "{v} -> {m}");
        }
        assert_eq!(nice_max(f64::NAN), 1.0);
    }

    #[test]
    fn spectrum_axis_puts_nines_at_whole_decades() {
        assert!((spectrum_q(2.0) - 0.99).abs() < 1e-12);
        assert!((spectrum_q(3.0) - 0.999).abs() < 1e-12);
        let labels: Vec<String> = (0..=4).map(|x| spectrum_label(x as f64)).collect();
        assert_eq!(labels, ["0%", "90%", "99%", "99.9%", "99.99%"]);
        assert_eq!(spectrum_label(0.5), "");
    }

    #[test]
    fn axis_numbers_are_short() {
        assert_eq!(number(1500.0), "1500");
        assert_eq!(number(25_000.0), "25000");
        assert_eq!(number(250_000.0), "250k");
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(0.025), "0.025");
        assert_eq!(number(3.0), "3");
    }
}
