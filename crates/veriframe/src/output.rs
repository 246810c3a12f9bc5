//! One way to print command results: JSON for scripts (`--json`), text for people.

use serde::Serialize;

/// Prints `value` as pretty JSON when `json` is set, otherwise the text from `human`.
pub fn emit<T: Serialize>(json: bool, value: &T, human: impl FnOnce(&T) -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        let text = human(value);
        if !text.is_empty() {
            println!("{text}");
        }
    }
    Ok(())
}
