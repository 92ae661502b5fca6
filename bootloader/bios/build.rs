//! Links each BIOS stage with its own linker script into a flat binary image.
//!
//! The stages run at fixed real-mode addresses, so they are linked as static, non-PIE
//! executables and written as raw bytes (`--oformat binary`): no objcopy needed. The
//! linker scripts assert each stage's size limit, so an oversized stage fails the build.

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    for (bin, script) in [("bios-mbr", "src/mbr.ld"), ("bios-stage2", "src/stage2.ld")] {
        println!("cargo:rerun-if-changed={dir}/{script}");
        for arg in [
            format!("-T{dir}/{script}"),
            "--no-pie".to_string(),
            "--oformat=binary".to_string(),
            "--gc-sections".to_string(),
        ] {
            println!("cargo:rustc-link-arg-bin={bin}={arg}");
        }
    }
    println!("cargo:rerun-if-changed={dir}/src/asm");
}
