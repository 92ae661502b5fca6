//! Questions on the terminal: the one way a command asks before it erases or deletes
//! something. Without a terminal on stdin there is nobody to ask, so the caller refuses and
//! names the flag that answers for a script (`--yes`).

use anyhow::Context;
use std::io::{BufRead, IsTerminal, Write};

/// Write `question` to stderr and read the answer line from stdin, trimmed. `None` when
/// stdin is not a terminal.
pub fn answer(question: &str) -> anyhow::Result<Option<String>> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(None);
    }
    eprint!("{question}");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the answer")?;
    Ok(Some(line.trim().to_string()))
}

/// Whether a `[y/N]` answer says yes.
pub fn says_yes(answer: &str) -> bool {
    matches!(answer, "y" | "Y" | "yes")
}
