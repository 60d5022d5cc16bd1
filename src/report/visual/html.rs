//! report.html: one self-contained file (inline CSS and SVG, no script, no
//! font or image fetched), so it can be attached to a CI job or mailed and
//! still open anywhere. Every string that came from the scenario or the
//! server (names, error messages, paths) is escaped.

use std::fmt::Write;

use super::escape::esc;
use super::tables;
use super::{Rendered, Skipped};
use crate::metrics::Summary;
use crate::results::{RunInfo, TargetKind};

const CSS: &str = "
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#222;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right;white-space:nowrap}
th{background:#f4f4f4}td.l,th.l{text-align:left}
tr.total td{font-weight:bold}
table.meta td{text-align:left;white-space:normal}table.meta td:first-child{color:#555}
.wide{overflow-x:auto}
.badge{display:inline-block;padding:.1rem .6rem;border-radius:.8rem;font-weight:bold;color:#fff}
.pass{background:#2c8a2c}.fail{background:#c62828}.none{background:#888}.partial{background:#e08600}
figure{margin:1.5rem 0;padding:0}figure svg{max-width:100%;height:auto;display:block}
figcaption{color:#444;font-size:.9rem;margin-top:.3rem}
.note{background:#fff8e1;border-left:4px solid #e0a800;padding:.3rem .7rem;margin:.4rem 0}
.muted{color:#666}
";

pub fn render(s: &Summary, run: &RunInfo, charts: &[Rendered], skipped: &[Skipped]) -> String {
    let mut h = String::new();
    let title = format!("llmload report: {}", esc(&s.scenario));
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{title}</h1>\n"
    );
    let _ = writeln!(h, "<p>{}{}</p>", verdict_badge(s), esc(&super::super::status_line(s)));
    h += &metadata(s, run);
    h += &tables::slo(s);
    h += &tables::summary(s);
    h += &tables::stages(s);
    h += &tables::errors(s);
    h += &tables::notes(s);
    h += "<h2 id=\"charts\">Charts</h2>\n";
    for c in charts {
        let _ = write!(
            h,
            "<figure id=\"chart-{name}\" aria-label=\"{title}\">\n{svg}\n<figcaption>{caption} \
             <span class=\"muted\">(also <a href=\"charts/{name}.png\">PNG</a>, \
             <a href=\"charts/{name}.svg\">SVG</a>)</span></figcaption>\n</figure>\n",
            name = c.name,
            title = esc(c.title),
            svg = strip_prolog(&c.svg),
            caption = esc(&c.caption),
        );
    }
    for sk in skipped {
        let _ = writeln!(h, "<p class=\"note\">Not drawn: {}: {}.</p>", esc(sk.title), esc(&sk.reason));
    }
    h += "</body>\n</html>\n";
    h
}

/// An inline SVG must not carry an XML declaration.
fn strip_prolog(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(i) => &svg[i..],
        None => svg,
    }
}

fn verdict_badge(s: &Summary) -> String {
    let mut out = String::new();
    if s.partial {
        out += "<span class=\"badge partial\">PARTIAL</span> ";
    }
    match s.slo_passed {
        Some(true) => out += "<span class=\"badge pass\">SLO PASSED</span> ",
        Some(false) => out += "<span class=\"badge fail\">SLO FAILED</span> ",
        None => {}
    }
    out
}

/// The run's metadata from run.json; rows it lacks are left out.
fn metadata(s: &Summary, run: &RunInfo) -> String {
    let target = match run.target.kind {
        TargetKind::Simulator => "simulator",
        TargetKind::OpenAi => "openai",
    };
    let mode = match run.load.mode {
        crate::results::ModeInfo::Closed { .. } => "closed",
        crate::results::ModeInfo::Open { .. } => "open",
    };
    let mut rows: Vec<(&str, Option<String>)> = vec![
        ("scenario", Some(s.scenario.clone())),
        ("scenario file", Some(run.scenario.path.clone())),
        ("scenario sha256", Some(run.scenario.sha256.clone())),
        ("seed", Some(run.seed.to_string())),
        ("target", Some(format!("{target} at {}", run.target.base_url))),
        ("API key variable", run.target.api_key_env.clone()),
        ("load mode", Some(mode.into())),
        ("started", Some(run.started_at.clone())),
        ("ended", run.ended_at.clone()),
        ("stop reason", Some(s.stop_reason.to_string())),
        ("partial", Some(if s.partial { "yes: the run stopped before its plan ended" } else { "no" }.into())),
        ("measured window", Some(format!("{:.1} s", s.measured_seconds))),
        ("tool", Some(format!("llmload {}", run.version))),
    ];
    if let Some(c) = &run.client {
        let l = c.dispatch_lateness_ms;
        if let (Some(p50), Some(p99), Some(max)) = (l.p50, l.p99, l.max) {
            rows.push((
                "client dispatch lateness",
                Some(format!("p50 {p50} ms, p99 {p99} ms, max {max} ms")),
            ));
        }
    }
    let mut h = String::from("<h2 id=\"run\">Run</h2>\n<table class=\"meta\">\n");
    for (k, v) in rows {
        if let Some(v) = v {
            let _ = writeln!(h, "<tr><td>{}</td><td>{}</td></tr>", esc(k), esc(&v));
        }
    }
    h + "</table>\n"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_xml_prolog_is_dropped_from_inline_svg() {
        assert_eq!(strip_prolog("<?xml version=\"1.0\"?>\n<svg a=\"1\"></svg>"), "<svg a=\"1\"></svg>");
        assert_eq!(strip_prolog("<svg></svg>"), "<svg></svg>");
    }
}
