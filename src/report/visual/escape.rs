//! Escaping for report.html: every string that came from the scenario or
//! the server (names, error messages, paths) goes through `esc`.

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(esc(r#"<b>&"x"'</b>"#), "&lt;b&gt;&amp;&quot;x&quot;&#39;&lt;/b&gt;");
        assert_eq!(esc("plain ünïcode"), "plain ünïcode");
    }
}
