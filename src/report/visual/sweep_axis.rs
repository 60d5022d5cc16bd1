//! The swept parameter of a run, read back from its variant names.
//!
//! A sweep leaves no table of its own: expansion names each variant after
//! its values (`chat/max_tokens=64`, see scenario::sweep), and nothing
//! downstream knows a sweep happened. So the swept parameter is a
//! `key=value` segment with a sweepable key and a numeric value, present in
//! every variant name. Other segments (a model, other parameters) make one
//! line each.

use crate::scenario::SWEEPABLE;

/// The swept parameter found in variant names.
#[derive(Debug, PartialEq)]
pub struct Axis {
    pub param: String,
    /// Per variant: its x value and its line (the name without the x segment).
    pub points: Vec<(f64, String)>,
}

fn numeric_segments(name: &str) -> Vec<(usize, &str, f64)> {
    name.split('/')
        .enumerate()
        .filter_map(|(i, seg)| {
            let (k, v) = seg.split_once('=')?;
            let v: f64 = v.parse().ok()?;
            (SWEEPABLE.contains(&k) && v.is_finite()).then_some((i, k, v))
        })
        .collect()
}

/// The numeric parameter swept over `names`, if any: the one present in
/// every name with the most distinct values; `None` unless some line has at
/// least two points.
pub fn sweep_axis(names: &[String]) -> Option<Axis> {
    let parsed: Vec<Vec<(usize, &str, f64)>> = names.iter().map(|n| numeric_segments(n)).collect();
    let first = parsed.first()?;
    let mut best: Option<(usize, &str)> = None;
    for (_, key, _) in first {
        if !parsed.iter().all(|p| p.iter().any(|s| s.1 == *key)) {
            continue;
        }
        let mut values: Vec<f64> =
            parsed.iter().flat_map(|p| p.iter().filter(|s| s.1 == *key).map(|s| s.2)).collect();
        values.sort_by(f64::total_cmp);
        values.dedup();
        if best.is_none_or(|(n, _)| values.len() > n) {
            best = Some((values.len(), key));
        }
    }
    let (distinct, param) = best?;
    if distinct < 2 {
        return None;
    }
    let points: Vec<(f64, String)> = names
        .iter()
        .zip(&parsed)
        .map(|(name, segs)| {
            let (i, _, x) = segs.iter().find(|s| s.1 == param).copied().expect("present in every name");
            let line: Vec<&str> =
                name.split('/').enumerate().filter(|(j, _)| *j != i).map(|(_, s)| s).collect();
            (x, line.join("/"))
        })
        .collect();
    let multi = points.iter().any(|(x, l)| points.iter().any(|(x2, l2)| l == l2 && x != x2));
    multi.then(|| Axis { param: param.to_owned(), points })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_swept_parameter_is_read_from_variant_names() {
        let a = sweep_axis(&names(&["chat/max_tokens=16", "chat/max_tokens=64", "chat/max_tokens=256"]));
        let a = a.expect("a sweep");
        assert_eq!(a.param, "max_tokens");
        assert_eq!(a.points, [(16.0, "chat".into()), (64.0, "chat".into()), (256.0, "chat".into())]);
    }

    #[test]
    fn other_segments_make_lines_and_the_most_varied_parameter_is_x() {
        let a = sweep_axis(&names(&[
            "c/gpt-4o/n=1/max_tokens=16",
            "c/gpt-4o/n=1/max_tokens=64",
            "c/gpt-4o/n=1/max_tokens=256",
            "c/gpt-4o/n=2/max_tokens=16",
            "c/gpt-4o/n=2/max_tokens=64",
            "c/gpt-4o/n=2/max_tokens=256",
        ]))
        .expect("a sweep");
        assert_eq!(a.param, "max_tokens");
        assert_eq!(a.points[3], (16.0, "c/gpt-4o/n=2".into()));
    }

    #[test]
    fn names_without_a_numeric_sweep_give_no_axis() {
        assert_eq!(sweep_axis(&names(&["small-chat", "large-chat"])), None);
        // Not sweepable, or not numeric, or one value only.
        assert_eq!(sweep_axis(&names(&["a/colour=1", "a/colour=2"])), None);
        assert_eq!(sweep_axis(&names(&["a/stream=true", "a/stream=false"])), None);
        assert_eq!(sweep_axis(&names(&["a/n=1", "b/n=1"])), None);
        // Each line has one point only: nothing to draw a line through.
        assert_eq!(sweep_axis(&names(&["a/n=1", "b/n=2"])), None);
        assert_eq!(sweep_axis(&[]), None);
    }
}
