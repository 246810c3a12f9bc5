//! One way to print command results: JSON for scripts (`--json`), text for people.

use std::io::Write as _;

use serde::Serialize;

/// Prints `value` as pretty JSON when `json` is set, otherwise the text from `human`.
pub fn emit<T: Serialize>(json: bool, value: &T, human: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    if json {
        print(&format!("{}\n", serde_json::to_string_pretty(value)?));
    } else {
        let text = human(value);
        if !text.is_empty() {
            print(&format!("{text}\n"));
        }
    }
    Ok(())
}

/// Writes `text` to stdout. When the reader has gone away (`veriframe … | head`) the command
/// ends quietly with status 0, as programs in a pipeline do, instead of panicking.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("error: cannot write to stdout: {e}");
            std::process::exit(1);
        }
    }
}
