//! Benchmark (`cargo bench -p iso9660 --bench iso_inspect`): inspecting a multi-GiB ISO
//! reads only the sectors it needs. The ISO is `fixtures::iso::sparse_big()` (8 GiB,
//! hybrid MBR+GPT, BIOS + UEFI entries, a Debian-like tree with 400 package
//! directories, two multi-GiB files) and every read goes through a counting
//! [`ReadAt`]. One "inspect" is what `bootshelf inspect` does: open, system area and GPT
//! entries, boot catalog, the size of every boot image, hints, and a lookup of
//! `/EFI/BOOT/BOOTX64.EFI`. Prints bytes read, read calls, and the time per inspect
//! (cold first run, then the median of warm runs); fails if more than 512 KiB are read.

use blockdev::{BlockReader, FileDevice, IoError, ReadAt};
use iso9660::Iso;
use std::time::{Duration, Instant};

struct Counting<R> {
    inner: R,
    bytes: u64,
    calls: u64,
}

impl<R: ReadAt> ReadAt for Counting<R> {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.bytes += buf.len() as u64;
        self.calls += 1;
        self.inner.read_exact_at(offset, buf)
    }
}

/// One inspect; returns (entries, hints) so the work is not optimised away.
fn inspect<R: ReadAt>(r: R) -> (usize, u32, u64) {
    let mut iso = Iso::open(r).expect("open");
    let h = iso.hybrid().expect("system area");
    let mut parts = 0;
    if let Some(gpt) = h.gpt {
        gpt.partitions(iso.reader(), |_, _| parts += 1)
            .expect("gpt");
    }
    let cat = iso.boot_catalog().expect("catalog").expect("bootable");
    let entries: Vec<_> = cat
        .entries(iso.reader())
        .collect::<Result<_, _>>()
        .expect("entries");
    let mut sizes = 0;
    for e in &entries {
        sizes += iso.image_size(e).expect("image size").bytes;
    }
    let hints = iso.hints().expect("hints");
    let efi = iso.lookup("/EFI/BOOT/BOOTX64.EFI").expect("lookup");
    assert!(efi.size > 0);
    (entries.len() + parts, hints.0, sizes)
}

fn main() {
    let path = fixtures::iso::sparse_big().expect("building the sparse ISO");
    let open = || {
        let f = std::fs::File::open(&path).unwrap();
        let size = f.metadata().unwrap().len();
        Counting {
            inner: BlockReader::new(FileDevice::new(f, 512, size)),
            bytes: 0,
            calls: 0,
        }
    };
    let size = std::fs::metadata(&path).unwrap().len();
    let on_disk = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&path).unwrap().blocks() * 512
    };

    let mut r = open();
    let t = Instant::now();
    let result = inspect(&mut r);
    let cold = t.elapsed();
    let (bytes, calls) = (r.bytes, r.calls);

    let mut times: Vec<Duration> = (0..200)
        .map(|_| {
            let mut r = open();
            let t = Instant::now();
            let again = inspect(&mut r);
            let d = t.elapsed();
            assert_eq!(again, result);
            assert_eq!((r.bytes, r.calls), (bytes, calls), "deterministic reads");
            d
        })
        .collect();
    times.sort();
    let median = times[times.len() / 2];

    println!(
        "iso_inspect: {} ({size} bytes, {on_disk} on disk)",
        path.display()
    );
    println!(
        "iso_inspect: read {bytes} bytes ({:.1} KiB, {:.5}% of the image) in {calls} reads",
        bytes as f64 / 1024.0,
        bytes as f64 * 100.0 / size as f64
    );
    println!(
        "iso_inspect: first run {:.3} ms, median of {} warm runs {:.3} ms (min {:.3} ms)",
        cold.as_secs_f64() * 1e3,
        times.len(),
        median.as_secs_f64() * 1e3,
        times[0].as_secs_f64() * 1e3
    );
    assert!(size > 4 << 30, "the image must be multi-GiB");
    assert!(bytes <= 512 * 1024, "inspect read {bytes} bytes");
}
