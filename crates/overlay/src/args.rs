//! Kernel arguments to apply to every kernel line: what to append and which named
//! arguments to remove, and the one edit of an argument string ([`KernelArgs::edit`])
//! every rewriter uses.

use alloc::string::String;
use alloc::vec::Vec;

/// What to do to every kernel line of an ISO.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KernelArgs {
    append: Vec<String>,
    remove: Vec<String>,
}

impl KernelArgs {
    /// Nothing to do.
    pub fn new() -> Self {
        Self::default()
    }

    /// Arguments saved as an append string and a list of names to remove (the index's
    /// kernel options).
    pub fn from_saved(append: &str, remove: &[String]) -> Self {
        let mut a = KernelArgs::new();
        a.append(append);
        for r in remove {
            a.remove(r);
        }
        a
    }

    /// Add the whitespace-separated arguments of `args` to the end of every kernel line
    /// (after those already asked for). Words holding control characters are dropped:
    /// an argument can never start a new config line.
    pub fn append(&mut self, args: &str) -> &mut Self {
        self.append.extend(
            args.split_ascii_whitespace()
                .filter(|w| !w.chars().any(char::is_control))
                .map(String::from),
        );
        self
    }

    /// Remove argument `name` from every kernel line: a bare `name` removes `name` and
    /// `name=anything`; `name=value` removes only that exact argument.
    pub fn remove(&mut self, name: &str) -> &mut Self {
        let name = name.trim();
        if !name.is_empty() && !name.contains(|c: char| c.is_control() || c.is_ascii_whitespace()) {
            self.remove.push(String::from(name));
        }
        self
    }

    /// The arguments appended, in order.
    pub fn appended(&self) -> &[String] {
        &self.append
    }

    /// The arguments removed.
    pub fn removed(&self) -> &[String] {
        &self.remove
    }

    /// Whether nothing would change.
    pub fn is_empty(&self) -> bool {
        self.append.is_empty() && self.remove.is_empty()
    }

    /// Whether `word` (one argument of a kernel line) is one to remove.
    pub fn removes(&self, word: &str) -> bool {
        let word = unquote(word);
        self.remove.iter().any(|r| {
            if r.contains('=') {
                word == r.as_str()
            } else {
                word == r.as_str()
                    || word
                        .strip_prefix(r.as_str())
                        .is_some_and(|rest| rest.starts_with('='))
            }
        })
    }

    /// `args` (the arguments part of a kernel line, as written) with the removed
    /// arguments taken out and the appended ones added, keeping everything else byte for
    /// byte (quotes, variables, spacing between kept words).
    pub fn edit(&self, args: &str) -> String {
        let mut out = String::with_capacity(args.len() + 64);
        let mut pending_space = "";
        let mut rest = args;
        loop {
            let trimmed = rest.trim_start_matches([' ', '\t']);
            let space = &rest[..rest.len() - trimmed.len()];
            if trimmed.is_empty() {
                break;
            }
            let len = word_len(trimmed);
            let word = &trimmed[..len];
            if !self.removes(word) {
                out.push_str(if out.is_empty() {
                    ""
                } else {
                    pending_space_or(space, pending_space)
                });
                out.push_str(word);
            }
            pending_space = " ";
            rest = &trimmed[len..];
        }
        for a in &self.append {
            if self.removes(a) {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(a);
        }
        out
    }
}

/// The separator before a kept word: the original one when it is not empty.
fn pending_space_or<'a>(space: &'a str, fallback: &'a str) -> &'a str {
    if space.is_empty() {
        fallback
    } else {
        space
    }
}

/// Length in bytes of the word at the start of `s` (up to unquoted blank), honouring
/// single and double quotes and backslash escapes as GRUB and the kernel do.
pub(crate) fn word_len(s: &str) -> usize {
    let b = s.as_bytes();
    let mut i = 0;
    let mut quote = None;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if c == b' ' || c == b'\t' => break,
            None if c == b'\\' && i + 1 < b.len() => i += 1,
            None => {}
        }
        i += 1;
    }
    // Never split a multi-byte character (an escape before one).
    while !s.is_char_boundary(i.min(s.len())) {
        i += 1;
    }
    i.min(s.len())
}

/// `word` without surrounding double or single quotes.
fn unquote(word: &str) -> &str {
    for q in ['"', '\''] {
        if let Some(inner) = word.strip_prefix(q).and_then(|w| w.strip_suffix(q)) {
            return inner;
        }
    }
    word
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_appends_removes_and_keeps_the_rest() {
        let mut a = KernelArgs::new();
        a.append("nomodeset  console=ttyS0")
            .remove("quiet")
            .remove("vga");
        assert_eq!(
            a.edit("boot=live components quiet splash vga=788 \"x y\""),
            "boot=live components splash \"x y\" nomodeset console=ttyS0"
        );
        assert_eq!(a.edit(""), "nomodeset console=ttyS0");
        assert_eq!(a.edit("  --- quiet"), "--- nomodeset console=ttyS0");
        let mut exact = KernelArgs::new();
        exact.remove("vga=788");
        assert_eq!(exact.edit("vga=788 vga=791 vga"), "vga=791 vga");
        assert!(KernelArgs::new().is_empty());
        assert_eq!(KernelArgs::new().edit("a\tb"), "a\tb");
    }

    #[test]
    fn an_appended_argument_that_is_also_removed_is_not_added() {
        let mut a = KernelArgs::new();
        a.append("quiet x").remove("quiet");
        assert_eq!(a.edit("quiet"), "x");
    }

    #[test]
    fn control_characters_never_reach_a_config() {
        let mut a = KernelArgs::new();
        a.append("a\nlinux /evil b\x00c d\x1b[2J").remove("x\ny");
        assert_eq!(a.appended(), ["a", "linux", "/evil"]);
        assert!(a.removed().is_empty());
    }
}
