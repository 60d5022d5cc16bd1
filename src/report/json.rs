//! summary.json: the machine-readable summary (field names are a contract).

use super::Format;
use crate::metrics::Summary;

pub struct Json;

impl Format for Json {
    fn file_name(&self) -> Option<&'static str> {
        Some("summary.json")
    }

    fn render(&self, summary: &Summary) -> String {
        // Serializing plain data with string keys cannot fail.
        serde_json::to_string_pretty(summary).unwrap_or_default() + "\n"
    }
}
