//! The config rewriters: the kernel lines of GRUB (`linux`, `linuxefi`, `linux16`),
//! isolinux/syslinux (`append`) and systemd-boot entries (`options`) get
//! [`KernelArgs::edit`]; every other byte is kept. Each rewriter also names the files the
//! config pulls in (GRUB `source`/`configfile`, syslinux `include`/`menu include`/
//! `config`) so that [`crate::iso`] rewrites them too. Pure functions over bytes.

use alloc::string::String;
use alloc::vec::Vec;

use crate::args::{word_len, KernelArgs};

/// Which boot loader's syntax a file is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Syntax {
    /// GRUB 2 (`grub.cfg`, `loopback.cfg` and what they source).
    Grub,
    /// isolinux / syslinux / pxelinux.
    Syslinux,
    /// A systemd-boot (Boot Loader Specification) entry.
    SystemdBoot,
}

/// What rewriting one file gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rewrite {
    /// The new content, or `None` when no byte changed.
    pub text: Option<Vec<u8>>,
    /// Kernel lines found (each got the arguments).
    pub kernel_lines: usize,
    /// Files the config pulls in, as absolute ISO paths (unresolvable ones, holding
    /// variables other than GRUB's `$prefix`, are left out).
    pub references: Vec<String>,
}

/// Rewrite `text`, a file in `syntax`. `base` is what
/// relative references start from: GRUB's `$prefix` (the folder of the main `grub.cfg`),
/// syslinux's working directory (the folder isolinux.cfg was found in, or pxelinux's
/// TFTP root: includes in included files are relative to it too, not to their file).
pub fn rewrite(syntax: Syntax, text: &[u8], args: &KernelArgs, base: &str) -> Rewrite {
    let grub_prefix = base;
    let dir = base;
    let mut out = Rewrite::default();
    let mut new: Vec<u8> = Vec::with_capacity(text.len() + 256);
    let mut changed = false;
    let mut syslinux = SyslinuxState::default();
    let mut systemd_has_options = false;
    let mut systemd_is_linux = false;
    for raw in split_lines(text) {
        let (body, eol) = strip_eol(raw);
        let Ok(line) = core::str::from_utf8(body) else {
            new.extend_from_slice(raw);
            continue;
        };
        let edited = match syntax {
            Syntax::Grub => grub_line(line, args, grub_prefix, &mut out),
            Syntax::Syslinux => syslinux_line(line, args, dir, &mut out, &mut syslinux, eol, &new),
            Syntax::SystemdBoot => {
                let (key, _) = split_word(line.trim_start());
                if key == "linux" {
                    systemd_is_linux = true;
                }
                if key == "options" {
                    systemd_has_options = true;
                }
                option_line(line, "options", args, &mut out)
            }
        };
        match edited {
            Some(e) if e.as_bytes() != body => {
                changed = true;
                new.extend_from_slice(e.as_bytes());
            }
            _ => new.extend_from_slice(body),
        }
        new.extend_from_slice(eol);
    }
    if syntax == Syntax::Syslinux {
        syslinux.flush(args, &new, &mut out);
        if !syslinux.inserts.is_empty() {
            // Lines added where a Linux label had no `append`, in one pass (linear in the
            // file, however many labels).
            changed = true;
            let added: usize = syslinux.inserts.iter().map(|(_, l)| l.len()).sum();
            let mut merged = Vec::with_capacity(new.len() + added);
            let mut from = 0;
            for (at, line) in &syslinux.inserts {
                let at = (*at).clamp(from, new.len());
                merged.extend_from_slice(&new[from..at]);
                merged.extend_from_slice(line);
                from = at;
            }
            merged.extend_from_slice(&new[from..]);
            new = merged;
        }
    }
    if syntax == Syntax::SystemdBoot && systemd_is_linux && !systemd_has_options && !args.is_empty()
    {
        if !new.is_empty() && !new.ends_with(b"\n") {
            new.push(b'\n');
        }
        let edited = args.edit("");
        if !edited.is_empty() {
            new.extend_from_slice(b"options ");
            new.extend_from_slice(edited.as_bytes());
            new.push(b'\n');
            changed = true;
        }
        out.kernel_lines += 1;
    }
    if changed {
        out.text = Some(new);
    }
    out
}

/// GRUB: `linux PATH ARGS...` lines (any indentation; `linuxefi`, `linux16`), and
/// `source`/`configfile` references.
fn grub_line(line: &str, args: &KernelArgs, prefix: &str, out: &mut Rewrite) -> Option<String> {
    let indent_len = line.len() - line.trim_start().len();
    let (indent, rest) = line.split_at(indent_len);
    let (cmd, after) = split_word(rest);
    match cmd {
        "linux" | "linuxefi" | "linux16" => {
            let after_trim = after.trim_start_matches([' ', '\t']);
            let sep = &after[..after.len() - after_trim.len()];
            let plen = word_len(after_trim);
            if plen == 0 || after_trim.ends_with('\\') {
                return None;
            }
            let (kernel, kargs) = after_trim.split_at(plen);
            out.kernel_lines += 1;
            let edited = args.edit(kargs);
            let mut s = String::with_capacity(line.len() + 64);
            s.push_str(indent);
            s.push_str(cmd);
            s.push_str(sep);
            s.push_str(kernel);
            if !edited.is_empty() {
                s.push(' ');
                s.push_str(&edited);
            }
            Some(s)
        }
        "source"
        | "configfile"
        | "extract_entries_source"
        | "extract_entries_configfile"
        | "normal" => {
            let target = after.trim();
            let target = target.trim_matches(|c| c == '"' || c == '\'');
            if let Some(p) = resolve_grub(target, prefix) {
                push_unique(&mut out.references, p);
            }
            None
        }
        _ => None,
    }
}

/// A GRUB file argument as an absolute ISO path: `$prefix`/`${prefix}` replaced, a
/// leading `(device)` dropped; `None` when other variables remain.
fn resolve_grub(target: &str, prefix: &str) -> Option<String> {
    let mut s = String::from(target);
    for v in ["${prefix}", "$prefix"] {
        if let Some(rest) = s.strip_prefix(v) {
            s = alloc::format!("{prefix}{rest}");
        }
    }
    if s.starts_with('(') {
        let close = s.find(')')?;
        s = String::from(&s[close + 1..]);
    }
    if s.contains('$') || !s.starts_with('/') || s.len() > 1024 {
        return None;
    }
    Some(normalize(&s))
}

/// Where the syslinux rewriter is between lines: the current label's kernel and whether
/// it had an `append` line, so that a Linux label without one gets one.
#[derive(Default)]
struct SyslinuxState {
    /// In a label block.
    in_label: bool,
    /// The label's kernel is a Linux kernel (not a COM32 module, boot sector or PXE).
    linux: bool,
    /// The label had an append line.
    appended: bool,
    /// Where in the output an `append` line goes if the label ends without one (after
    /// its kernel line), and that line's indentation.
    insert_at: Option<(usize, String)>,
    /// `append` lines to add, at output offsets in increasing order (kept across labels).
    inserts: Vec<(usize, Vec<u8>)>,
}

impl SyslinuxState {
    /// A label block ends: a Linux label without `append` gets one (recorded in
    /// `inserts`, added when the whole file is done).
    fn flush(&mut self, args: &KernelArgs, new: &[u8], out: &mut Rewrite) {
        if self.in_label && self.linux && !self.appended {
            if let Some((at, indent)) = self.insert_at.take() {
                let edited = args.edit("");
                out.kernel_lines += 1;
                if !edited.is_empty() && at <= new.len() {
                    // After a last line without an end of line, start a new line first.
                    let nl = if at == new.len() && !new.is_empty() && !new.ends_with(b"\n") {
                        "\n"
                    } else {
                        ""
                    };
                    let line = alloc::format!("{nl}{indent}append {edited}\n");
                    self.inserts.push((at, line.into_bytes()));
                }
            }
        }
        let inserts = core::mem::take(&mut self.inserts);
        *self = SyslinuxState {
            inserts,
            ..SyslinuxState::default()
        };
    }
}

/// Whether a syslinux `kernel`/`linux` target is a Linux kernel.
fn is_linux_kernel(keyword: &str, target: &str) -> bool {
    if keyword == "linux" {
        return true;
    }
    let t = target.to_ascii_lowercase();
    !matches!(
        t.rsplit('.').next(),
        Some("c32" | "cbt" | "bs" | "bss" | "bin" | "0" | "com" | "img")
    ) || !t.contains('.')
}

/// isolinux/syslinux: `append` lines of Linux labels, and `include`, `menu include`,
/// `config` references (relative to the config's folder).
#[allow(clippy::too_many_arguments)]
fn syslinux_line(
    line: &str,
    args: &KernelArgs,
    dir: &str,
    out: &mut Rewrite,
    st: &mut SyslinuxState,
    eol: &[u8],
    new: &[u8],
) -> Option<String> {
    let trimmed = line.trim_start();
    let (kw, after) = split_word(trimmed);
    let kw = kw.to_ascii_lowercase();
    let reference = |target: &str, out: &mut Rewrite| {
        let (t, _) = split_word(target.trim_start());
        if t.is_empty() || t.contains('$') {
            return;
        }
        let p = if t.starts_with('/') {
            normalize(t)
        } else {
            normalize(&alloc::format!("{dir}/{t}"))
        };
        push_unique(&mut out.references, p);
    };
    match kw.as_str() {
        "label" => {
            st.flush(args, new, out);
            st.in_label = true;
            None
        }
        "kernel" | "linux" => {
            let (target, _) = split_word(after.trim_start());
            st.linux = is_linux_kernel(&kw, target);
            let indent = &line[..line.len() - trimmed.len()];
            // After this line (its end of line included).
            st.insert_at = Some((new.len() + line.len() + eol.len(), String::from(indent)));
            None
        }
        "com32" | "boot" | "bss" | "pxe" | "fdimage" | "comboot" | "localboot" => {
            st.linux = false;
            None
        }
        "config" | "include" => {
            reference(after, out);
            None
        }
        "menu" => {
            let (sub, rest) = split_word(after.trim_start());
            if sub.eq_ignore_ascii_case("include") {
                reference(rest, out);
            }
            None
        }
        "append" => {
            if st.in_label {
                st.appended = true;
                if !st.linux {
                    return None;
                }
            }
            out.kernel_lines += 1;
            let kargs = after.trim_start_matches([' ', '\t']);
            let base = if kargs.trim() == "-" { "" } else { kargs };
            let edited = args.edit(base);
            let indent = &line[..line.len() - trimmed.len()];
            let keyword = &trimmed[..trimmed.len() - after.len()];
            if edited.is_empty() {
                return Some(alloc::format!("{indent}{keyword} -"));
            }
            Some(alloc::format!("{indent}{keyword} {edited}"))
        }
        _ => None,
    }
}

/// A `KEY ARGS` line (systemd-boot `options`): its arguments edited.
fn option_line(line: &str, key: &str, args: &KernelArgs, out: &mut Rewrite) -> Option<String> {
    let trimmed = line.trim_start();
    let (kw, after) = split_word(trimmed);
    if kw != key {
        return None;
    }
    out.kernel_lines += 1;
    let indent = &line[..line.len() - trimmed.len()];
    let edited = args.edit(after.trim_start_matches([' ', '\t']));
    Some(alloc::format!("{indent}{kw} {edited}"))
}

/// The first blank-separated word of `s` and what follows it.
fn split_word(s: &str) -> (&str, &str) {
    let end = s.find([' ', '\t']).unwrap_or(s.len());
    s.split_at(end)
}

/// Lines with their ends of line.
fn split_lines(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split_inclusive(|&b| b == b'\n')
}

/// A line without its `\n` or `\r\n`, and that end of line.
fn strip_eol(line: &[u8]) -> (&[u8], &[u8]) {
    let n = if line.ends_with(b"\r\n") {
        2
    } else if line.ends_with(b"\n") {
        1
    } else {
        0
    };
    line.split_at(line.len() - n)
}

/// The folder of an absolute path (`/` for a file at the root).
pub(crate) fn parent(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "",
        Some(i) => &path[..i],
    }
}

/// `path` with `.`, `..` and doubled slashes resolved (never above the root).
pub(crate) fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    let mut s = String::with_capacity(path.len() + 1);
    for p in parts {
        s.push('/');
        s.push_str(p);
    }
    if s.is_empty() {
        s.push('/');
    }
    s
}

/// References kept per file: more than [`crate::Limits`]'s default file count is never
/// followed, and a bound keeps hostile files linear.
const MAX_REFERENCES: usize = 64;

fn push_unique(v: &mut Vec<String>, p: String) {
    if v.len() < MAX_REFERENCES && !v.iter().any(|q| q.eq_ignore_ascii_case(&p)) {
        v.push(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> KernelArgs {
        let mut a = KernelArgs::new();
        a.append("nomodeset").remove("quiet");
        a
    }

    fn run(syntax: Syntax, path: &str, text: &str) -> (String, Rewrite) {
        let base = if syntax == Syntax::Grub {
            "/boot/grub"
        } else {
            parent(path)
        };
        let r = rewrite(syntax, text.as_bytes(), &args(), base);
        let t =
            String::from_utf8(r.text.clone().unwrap_or_else(|| text.as_bytes().to_vec())).unwrap();
        (t, r)
    }

    #[test]
    fn grub_kernel_lines_and_references() {
        let cfg = "set timeout=5\r\nsource ${prefix}/theme.cfg\nmenuentry 'x' {\n\tlinux /live/vmlinuz boot=live quiet\n\tinitrd /live/initrd.img\n}\nconfigfile /boot/grub/../grub/sub.cfg\nsource $root/x.cfg\nlinuxefi\t/k\n";
        let (t, r) = run(Syntax::Grub, "/boot/grub/grub.cfg", cfg);
        assert_eq!(
            t,
            "set timeout=5\r\nsource ${prefix}/theme.cfg\nmenuentry 'x' {\n\tlinux /live/vmlinuz boot=live nomodeset\n\tinitrd /live/initrd.img\n}\nconfigfile /boot/grub/../grub/sub.cfg\nsource $root/x.cfg\nlinuxefi\t/k nomodeset\n"
        );
        assert_eq!(r.kernel_lines, 2);
        assert_eq!(r.references, ["/boot/grub/theme.cfg", "/boot/grub/sub.cfg"]);
    }

    #[test]
    fn syslinux_append_of_linux_labels_only() {
        let cfg = "default vesamenu.c32\nappend quiet\ninclude menu.cfg\nMENU INCLUDE ../common/stdmenu.cfg\nlabel live\n  kernel /live/vmlinuz\n  APPEND initrd=/live/initrd.img boot=live quiet\nlabel hdt\n  com32 hdt.c32\n  append modules_pcids=hdt/modules.pci\nlabel chain\n  kernel chain.c32\n  append hd0\nlabel bare\n  linux /vmlinuz\nlabel none\n  kernel /k\n  append -\n";
        let (t, r) = run(Syntax::Syslinux, "/isolinux/isolinux.cfg", cfg);
        assert_eq!(
            t,
            "default vesamenu.c32\nappend nomodeset\ninclude menu.cfg\nMENU INCLUDE ../common/stdmenu.cfg\nlabel live\n  kernel /live/vmlinuz\n  APPEND initrd=/live/initrd.img boot=live nomodeset\nlabel hdt\n  com32 hdt.c32\n  append modules_pcids=hdt/modules.pci\nlabel chain\n  kernel chain.c32\n  append hd0\nlabel bare\n  linux /vmlinuz\n  append nomodeset\nlabel none\n  kernel /k\n  append nomodeset\n"
        );
        assert_eq!(r.kernel_lines, 4);
        assert_eq!(r.references, ["/isolinux/menu.cfg", "/common/stdmenu.cfg"]);
    }

    #[test]
    fn a_file_whose_only_change_is_an_added_append_line_is_changed() {
        let (t, r) = run(
            Syntax::Syslinux,
            "/isolinux/isolinux.cfg",
            "label a\n  linux /a\nlabel b\n  linux /b",
        );
        assert_eq!(
            t,
            "label a\n  linux /a\n  append nomodeset\nlabel b\n  linux /b\n  append nomodeset\n"
        );
        assert_eq!(r.kernel_lines, 2);
    }

    #[test]
    fn systemd_boot_options() {
        let (t, r) = run(
            Syntax::SystemdBoot,
            "/loader/entries/arch.conf",
            "title Arch\nlinux /vmlinuz\noptions  quiet rw",
        );
        assert_eq!(t, "title Arch\nlinux /vmlinuz\noptions rw nomodeset");
        assert_eq!(r.kernel_lines, 1);
        let (t, _) = run(Syntax::SystemdBoot, "/l.conf", "title A\nlinux /vmlinuz\n");
        assert_eq!(t, "title A\nlinux /vmlinuz\noptions nomodeset\n");
    }

    #[test]
    fn unknown_or_binary_text_is_left_alone() {
        let bin = [0xFFu8, 0xFE, b'\n', b'l', b'i', b'n', b'u', b'x', 0xC3];
        let r = rewrite(Syntax::Grub, &bin, &args(), "/");
        assert_eq!(r.text, None);
        assert_eq!(r.kernel_lines, 0);
        let r = rewrite(Syntax::Grub, b"echo hello\n", &args(), "/");
        assert_eq!((r.text, r.kernel_lines), (None, 0));
    }

    #[test]
    fn paths_normalize() {
        assert_eq!(normalize("/a/./b/../../../c//d"), "/c/d");
        assert_eq!(normalize("/"), "/");
        assert_eq!(parent("/isolinux/x.cfg"), "/isolinux");
        assert_eq!(parent("/x.cfg"), "");
    }
}
