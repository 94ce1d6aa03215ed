//! Standard output of the operator subcommands. A reader that goes away (`ercc inspect | head
//! -c1`) is not an error: the rest is dropped quietly. A failing write (`> /dev/full`) is a
//! typed error, never a panic (which is what `println!` does on both).

use std::io::Write as _;

/// Standard output could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write to standard output: {0}")]
pub struct OutputError(#[from] std::io::Error);

/// Writes `text` and a newline to standard output and flushes it.
pub fn print_line(text: &str) -> Result<(), OutputError> {
    let mut out = std::io::stdout().lock();
    let written = writeln!(out, "{text}").and_then(|()| out.flush());
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// [`print_line`] of pretty-printed JSON.
pub fn print_json(value: &serde_json::Value) -> Result<(), OutputError> {
    // Serialising a `Value` to a String cannot fail (its map keys are strings).
    print_line(&serde_json::to_string_pretty(value).unwrap_or_default())
}
