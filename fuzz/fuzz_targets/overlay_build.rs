//! Fuzz the overlay's build (crates/overlay: config discovery in the ISO 9660 tree, the
//! rewriters, file relocation and directory record patching) and then reading the whole
//! served image back through the overlay and the ISO 9660 reader. Any panic, hang or
//! huge allocation is a bug.
//!
//! Input layout: byte 0 selects the arguments (bit 0: append a long argument, bit 1:
//! remove `quiet`, bit 2: append 300 arguments, growing every config past its extent);
//! the rest starts at sector 16 of the image (after a zero system area).
#![no_main]

use blockdev::ReadAt;
use libfuzzer_sys::fuzz_target;
use overlay::{build, KernelArgs, Limits, OverlayReader};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut image = vec![0u8; 16 * 2048];
    image.extend_from_slice(rest);
    let mut args = KernelArgs::new();
    args.append("nomodeset");
    if mode & 1 != 0 {
        args.append(&"x".repeat(3000));
    }
    if mode & 2 != 0 {
        args.remove("quiet");
    }
    if mode & 4 != 0 {
        for i in 0..300 {
            args.append(&format!("a{i}=b"));
        }
    }
    let limits = Limits {
        max_overlay_bytes: 1 << 20,
        ..Limits::default()
    };
    let Ok(built) = build(image.as_slice(), &args, &limits) else {
        return;
    };
    assert!(built.kernel_lines > 0);
    assert!(built.overlay.bytes() <= limits.max_overlay_bytes);
    let mut served = OverlayReader::new(image.as_slice(), &built.overlay);
    let mut buf = vec![0u8; served.len() as usize];
    served.read_exact_at(0, &mut buf).unwrap();
    // The served image is an ISO whose changed files read back.
    if let Ok(mut iso) = iso9660::Iso::open(buf.as_slice()) {
        for f in &built.files {
            if let Ok(e) = iso.lookup(&f.path) {
                let mut text = vec![0u8; e.size as usize];
                let _ = iso.read_file(&e, 0, &mut text);
            }
        }
    }
});
