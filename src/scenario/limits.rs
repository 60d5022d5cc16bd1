//! The bounds of what a scenario may ask for, checked when it is loaded, so
//! that no value from a file reaches an overflow, an allocation without end
//! or a panic at run time. docs/scenario.md ("Limits") lists them.

use std::io::Read;
use std::path::Path;

/// A scenario file: far larger than any written by hand.
pub const SCENARIO_BYTES: u64 = 1 << 20;
/// A pricing file.
pub const PRICING_BYTES: u64 = 1 << 20;
/// A prompts file: every prompt is held in memory and counted at load.
pub const PROMPTS_BYTES: u64 = 256 << 20;
/// A CA file of PEM certificates.
pub const CA_BYTES: u64 = 1 << 20;
/// The scenario's name (it names the results directory).
pub const NAME_CHARS: usize = 128;
/// A variant's name, sweep parts included, and a model's name.
pub const VARIANT_CHARS: usize = 256;
/// The slowest open-loop rate: one request every ~17 minutes.
pub const MIN_RATE: f64 = 0.001;
pub const MAX_RATE: f64 = 1e6;

/// The text of `path`, if it is no larger than `limit` bytes; an error in
/// plain words otherwise. The size is checked before reading, and the read
/// itself is bounded (a file may grow, or be a pipe).
pub fn read_text(path: &Path, limit: u64) -> Result<String, String> {
    let shown = path.display();
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if let Ok(meta) = file.metadata()
        && meta.is_dir()
    {
        return Err(format!("{shown} is a directory, not a file"));
    }
    let mut bytes = Vec::new();
    file.take(limit + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot read {shown}: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("{shown} is larger than the {} MiB this file may be", limit >> 20));
    }
    String::from_utf8(bytes)
        .map_err(|e| format!("{shown} is not UTF-8 text (byte {})", e.utf8_error().valid_up_to()))
}

/// Whether `name` is within `limit` characters; the problem otherwise.
pub fn long_name(name: &str, limit: usize) -> Option<String> {
    let n = name.chars().count();
    (n > limit).then(|| format!("must be at most {limit} characters, got {n}"))
}
