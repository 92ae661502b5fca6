//! Moving ISO bytes at the device's speed: a pipelined copy of a source file onto a
//! device extent with SHA-256 computed in parallel, and hashing of data already on the
//! device (optionally bypassing the page cache, for `add --verify` and `check --hash`).
//!
//! The copy passes a fixed pool of 4 KiB-aligned buffers between the caller's thread and
//! a hasher thread over bounded channels:
//!
//! ```text
//! caller's thread: pread source -> pwrite device (as dd does) -+-> free buffers
//!                        |                                     |
//!                        +-> hasher thread (SHA-256) ----------+
//!                        +-> write-behind thread (fdatasync every 64 MiB, optional)
//! ```
//!
//! The write-behind thread also keeps the copy honest on slow devices: the copy waits
//! while more than two [`WRITE_BEHIND`] windows are not yet written out, so a USB stick
//! is not given gigabytes of page cache to absorb at memory speed (a progress bar at
//! 100% followed by minutes of "flushing"); the progress of the copy is the device's.
//!
//! Each buffer is read and written by the caller's thread, as `dd` does, and handed to
//! the hasher at the same time; it returns to the pool when both are done with it, so
//! the hasher may lag by up to [`BUFFERS`] buffers. Few thread hand-offs matter: on a
//! loaded machine (load 10+ on 2 cores while measuring) a three-stage chain of threads
//! spent most of its time waiting to be scheduled. Copying and hashing overlap, so the
//! copy runs at the speed of the slower of the two: the device, or SHA-256 (1.6 GB/s
//! with the SHA extensions on this machine's CPU).

use blockdev::{BlockDevice, Extent, IoError};
use sha2::{Digest, Sha256};
use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;

/// Size of one pipeline buffer.
pub const BUF_SIZE: usize = 4 << 20;
/// Number of buffers in flight.
pub const BUFFERS: usize = 16;
/// Alignment of the buffers (enough for O_DIRECT on 4Kn devices).
pub const ALIGN: usize = 4096;

/// A SHA-256 digest.
pub type Sha256Digest = [u8; 32];

/// Lower-case hex of a digest.
pub fn hex(d: &Sha256Digest) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// A heap buffer whose usable part starts on an [`ALIGN`] boundary.
pub struct AlignedBuf {
    raw: Vec<u8>,
    off: usize,
    len: usize,
}

impl AlignedBuf {
    /// A zeroed buffer of `len` usable bytes.
    pub fn new(len: usize) -> Self {
        let raw = vec![0u8; len + ALIGN];
        let addr = raw.as_ptr() as usize;
        let off = (ALIGN - addr % ALIGN) % ALIGN;
        AlignedBuf { raw, off, len }
    }

    /// The usable bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.raw.get(self.off..self.off + self.len).unwrap_or(&[])
    }

    /// The usable bytes, mutable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        let (off, len) = (self.off, self.len);
        self.raw.get_mut(off..off + len).unwrap_or(&mut [])
    }
}

/// Why a copy or a hash failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum CopyError {
    /// Reading the source file failed at `offset`.
    Read {
        /// Byte offset in the source.
        offset: u64,
        /// The OS error.
        source: io::Error,
    },
    /// Writing or reading the device failed.
    Device(IoError),
    /// The destination does not fit the data, or is not sector-aligned.
    BadDestination {
        /// The extent.
        extent: Extent,
        /// Bytes to copy.
        size: u64,
        /// Sector size of the device.
        sector_size: u32,
    },
    /// A pipeline thread stopped unexpectedly.
    Pipeline(&'static str),
}

impl fmt::Display for CopyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CopyError::Read { offset, source } => {
                write!(f, "reading the source at byte {offset}: {source}")
            }
            CopyError::Device(e) => write!(f, "device: {e}"),
            CopyError::BadDestination {
                extent,
                size,
                sector_size,
            } => write!(
                f,
                "destination {} bytes at device byte {} cannot take {size} bytes in {sector_size}-byte sectors",
                extent.len, extent.start
            ),
            CopyError::Pipeline(what) => write!(f, "copy pipeline: {what}"),
        }
    }
}

/// The messages above include their cause's text, so no `source()` is reported (it
/// would be printed twice by whoever walks the chain).
impl std::error::Error for CopyError {}

/// A filled buffer on its way through the pipeline: its first `len` bytes are data.
struct Chunk {
    len: usize,
    buf: AlignedBuf,
}

fn round_up(v: u64, to: u64) -> u64 {
    v.div_ceil(to) * to
}

/// The stages of a copy onto a stick, in the order `add` goes through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Reading the source and writing it to the device (with SHA-256 alongside).
    Copy,
    /// Waiting for the device to make the written data durable (no byte count).
    Flush,
    /// Reading the copy back from the device and hashing it.
    Verify,
    /// Writing the directory entry and the index (a few sectors).
    Index,
}

impl Stage {
    /// The stage's name as progress displays show it.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Copy => "copy",
            Stage::Flush => "flush",
            Stage::Verify => "verify",
            Stage::Index => "index",
        }
    }
}

/// What a copy reports while it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// A stage starts; it goes through this many bytes (0 for [`Stage::Flush`] and
    /// [`Stage::Index`], whose length is not known in bytes).
    Stage(Stage, u64),
    /// This many more bytes of the current stage are done.
    Bytes(u64),
}

/// How far ahead of the durable state the writer may run before the write-behind thread
/// asks the kernel to write out (`fdatasync` on a second descriptor of the device).
pub const WRITE_BEHIND: u64 = 64 << 20;

/// Copy `size` bytes of `src` to the device at `dest` (a device byte extent, sector
/// aligned, at least `size` rounded up to a sector), flush the device, and return the
/// SHA-256 of those bytes. The last partial sector is padded with zeros. `progress` hears
/// [`Stage::Copy`], the bytes written after each buffer, then [`Stage::Flush`].
///
/// The reader hands each buffer to the hasher and to the writer at once, so hashing and
/// writing overlap fully and the final flush overlaps the end of the hashing. With
/// `direct` (the device's file opened with `O_DIRECT`, see [`open_direct`]) the data is
/// written around the page cache as `dd oflag=direct` does: each write returns when the
/// device has it, so the copy runs at the device's pace with nothing left to write out
/// at the end; a write the kernel refuses for its alignment (`EINVAL`: a file system
/// wanting larger blocks, the last partial block) goes through `dev` instead, and so do
/// the rest. With `write_behind` (another descriptor of the device's file), a helper
/// thread starts write-out of what went through the page cache every [`WRITE_BEHIND`]
/// bytes, so the final flush has little left to do.
pub fn copy_and_hash<D: BlockDevice>(
    src: &File,
    size: u64,
    dev: &mut D,
    dest: Extent,
    direct: Option<&File>,
    write_behind: Option<&File>,
    progress: &mut dyn FnMut(Progress),
) -> Result<Sha256Digest, CopyError> {
    let ss = u64::from(dev.sector_size());
    if ss == 0 || !dest.start.is_multiple_of(ss) || dest.len < round_up(size, ss) {
        return Err(CopyError::BadDestination {
            extent: dest,
            size,
            sector_size: dev.sector_size(),
        });
    }
    let (free_tx, free_rx) = sync_channel::<AlignedBuf>(BUFFERS);
    for _ in 0..BUFFERS {
        free_tx
            .send(AlignedBuf::new(BUF_SIZE))
            .map_err(|_| CopyError::Pipeline("buffer pool"))?;
    }
    let (hash_tx, hash_rx) = sync_channel::<Arc<Chunk>>(BUFFERS);
    let (behind_tx, behind_rx) = sync_channel::<()>(1);
    let hasher_free = free_tx.clone();

    std::thread::scope(|s| {
        let hasher = s.spawn(move || hash_stage(hash_rx, hasher_free));
        if let Some(f) = write_behind {
            s.spawn(move || {
                // Advisory: an error here shows up again in the final flush.
                for () in behind_rx {
                    let _ = f.sync_data();
                }
            });
        } else {
            drop(behind_rx);
        }
        progress(Progress::Stage(Stage::Copy, size));
        let copied = copy_stage(
            src, size, dev, direct, dest.start, ss, &free_rx, &free_tx, hash_tx, behind_tx,
            progress,
        );
        // The copy is done (the hasher's channel is closed): make the data durable while
        // the hasher finishes its last buffers.
        let flushed = match &copied {
            Ok(()) => {
                progress(Progress::Stage(Stage::Flush, 0));
                dev.flush().map_err(CopyError::Device)
            }
            Err(_) => Ok(()),
        };
        let digest = hasher
            .join()
            .map_err(|_| CopyError::Pipeline("hasher thread panicked"))?;
        copied?;
        flushed?;
        digest.ok_or(CopyError::Pipeline("hasher stopped early"))
    })
}

/// The disk or image at `path` opened for writing around the page cache (`O_DIRECT`), for
/// [`copy_and_hash`]; `None` where the file system does not allow it (tmpfs). Opened
/// without `O_EXCL`: the caller holds the device exclusively through its own descriptor.
pub fn open_direct(path: &Path) -> Option<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(nix::libc::O_DIRECT)
        .open(path)
        .ok()
}

/// Give a buffer back to the pool once its last user is done with it.
fn release(c: Arc<Chunk>, free: &SyncSender<AlignedBuf>) {
    if let Some(c) = Arc::into_inner(c) {
        // The copy may have finished already; a closed pool is fine.
        let _ = free.send(c.buf);
    }
}

/// The caller's thread reads and writes as `dd` does; each buffer also goes to the hasher,
/// which may lag by up to [`BUFFERS`] buffers before the copy waits for it.
#[allow(clippy::too_many_arguments)]
fn copy_stage<D: BlockDevice>(
    src: &File,
    size: u64,
    dev: &mut D,
    mut direct: Option<&File>,
    base: u64,
    ss: u64,
    free_rx: &Receiver<AlignedBuf>,
    free_tx: &SyncSender<AlignedBuf>,
    to_hash: SyncSender<Arc<Chunk>>,
    behind: SyncSender<()>,
    progress: &mut dyn FnMut(Progress),
) -> Result<(), CopyError> {
    let mut off = 0u64;
    // Bytes written through the page cache since the last write-out hint.
    let mut since_hint = 0u64;
    while off < size {
        let mut buf = free_rx
            .recv()
            .map_err(|_| CopyError::Pipeline("buffer pool closed"))?;
        let len = (size - off).min(BUF_SIZE as u64) as usize;
        let padded = round_up(len as u64, ss) as usize;
        let data = buf
            .as_mut_slice()
            .get_mut(..padded)
            .ok_or(CopyError::Pipeline("buffer too small"))?;
        let (dst, tail) = data.split_at_mut(len);
        src.read_exact_at(dst, off)
            .map_err(|source| CopyError::Read {
                offset: off,
                source,
            })?;
        tail.fill(0);
        let c = Arc::new(Chunk { len, buf });
        to_hash
            .send(Arc::clone(&c))
            .map_err(|_| CopyError::Pipeline("hasher stopped early"))?;
        let data = c
            .buf
            .as_slice()
            .get(..padded)
            .ok_or(CopyError::Pipeline("buffer too small"))?;
        let at = base + off;
        let wrote_direct = match direct {
            Some(f) => match f.write_all_at(data, at) {
                Ok(()) => true,
                Err(e) if e.raw_os_error() == Some(nix::libc::EINVAL) => {
                    direct = None;
                    false
                }
                Err(e) => {
                    return Err(CopyError::Device(IoError::Device {
                        code: e.raw_os_error().unwrap_or(-1) as u32 as u64,
                        offset: at,
                    }))
                }
            },
            None => false,
        };
        if !wrote_direct {
            dev.write_sectors(at / ss, data)
                .map_err(CopyError::Device)?;
            since_hint += len as u64;
        }
        release(c, free_tx);
        off += len as u64;
        if since_hint >= WRITE_BEHIND {
            // One write-out may run and one wait queued: beyond that the copy waits for
            // the device (at most about three windows are dirty). Without a write-behind
            // thread the channel is closed and this returns at once.
            let _ = behind.send(());
            since_hint = 0;
        }
        progress(Progress::Bytes(len as u64));
    }
    Ok(())
}

fn hash_stage(input: Receiver<Arc<Chunk>>, free: SyncSender<AlignedBuf>) -> Option<Sha256Digest> {
    let mut h = Sha256::new();
    for c in input {
        h.update(c.buf.as_slice().get(..c.len).unwrap_or(&[]));
        release(c, &free);
    }
    Some(h.finalize().into())
}

/// SHA-256 of `size` bytes read through `read(offset, buf)` in [`BUF_SIZE`] pieces, the
/// reads on a second thread overlapping the hashing.
fn hash_pipelined<F>(
    size: u64,
    read: F,
    progress: &mut dyn FnMut(u64),
) -> Result<Sha256Digest, CopyError>
where
    F: FnMut(u64, &mut [u8]) -> Result<(), CopyError> + Send,
{
    let (free_tx, free_rx) = sync_channel::<AlignedBuf>(BUFFERS);
    for _ in 0..BUFFERS {
        free_tx
            .send(AlignedBuf::new(BUF_SIZE))
            .map_err(|_| CopyError::Pipeline("buffer pool"))?;
    }
    let (tx, rx) = sync_channel::<Chunk>(BUFFERS);
    std::thread::scope(|s| {
        let reader = s.spawn(move || {
            let mut read = read;
            let mut off = 0u64;
            while off < size {
                let Ok(mut buf) = free_rx.recv() else {
                    return Ok(());
                };
                let len = (size - off).min(BUF_SIZE as u64) as usize;
                let dst = buf
                    .as_mut_slice()
                    .get_mut(..len)
                    .ok_or(CopyError::Pipeline("buffer too small"))?;
                read(off, dst)?;
                if tx.send(Chunk { len, buf }).is_err() {
                    return Ok(());
                }
                off += len as u64;
            }
            Ok(())
        });
        let mut h = Sha256::new();
        let mut done = 0u64;
        for c in rx {
            h.update(c.buf.as_slice().get(..c.len).unwrap_or(&[]));
            done += c.len as u64;
            progress(c.len as u64);
            let _ = free_tx.send(c.buf);
        }
        drop(free_tx);
        reader
            .join()
            .map_err(|_| CopyError::Pipeline("reader thread panicked"))??;
        if done != size {
            return Err(CopyError::Pipeline("reader stopped early"));
        }
        Ok(h.finalize().into())
    })
}

/// SHA-256 of a file's first `size` bytes read through the device, over its extents (in
/// file order). Reads go through whatever cache the device has.
pub fn hash_on_device<D: BlockDevice + Send>(
    dev: &mut D,
    extents: &[Extent],
    size: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Sha256Digest, CopyError> {
    let ss = u64::from(dev.sector_size());
    let mut bounce = Vec::new();
    let dev_size = dev.size_bytes();
    let read = move |off: u64, buf: &mut [u8]| -> Result<(), CopyError> {
        // Map [off, off + len) of the file onto the extents, piece by piece.
        let mut done = 0usize;
        let mut base = 0u64;
        for e in extents {
            if done == buf.len() {
                break;
            }
            let pos = off + done as u64;
            if pos < base + e.len {
                let within = pos - base;
                let n = ((e.len - within) as usize).min(buf.len() - done);
                let dev_off = e.start + within;
                let first = dev_off / ss * ss;
                let end = round_up(dev_off + n as u64, ss).min(dev_size);
                bounce.resize((end - first) as usize, 0);
                dev.read_sectors(first / ss, &mut bounce)
                    .map_err(CopyError::Device)?;
                let skip = (dev_off - first) as usize;
                let src = bounce
                    .get(skip..skip + n)
                    .ok_or(CopyError::Pipeline("extent outside the device"))?;
                buf.get_mut(done..done + n)
                    .ok_or(CopyError::Pipeline("extent arithmetic"))?
                    .copy_from_slice(src);
                done += n;
            }
            base += e.len;
        }
        if done == buf.len() {
            Ok(())
        } else {
            Err(CopyError::Pipeline("extents shorter than the file"))
        }
    };
    hash_pipelined(size, read, progress)
}

/// SHA-256 of `size` bytes at device byte offset `start` of the disk or image at `path`,
/// read around the page cache: with O_DIRECT when the file system allows it, else after
/// `posix_fadvise(DONTNEED)` has dropped the cached pages (the caller flushed first).
pub fn hash_uncached(
    path: &Path,
    start: u64,
    size: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Sha256Digest, CopyError> {
    use std::os::unix::fs::OpenOptionsExt;
    let io_err = |offset: u64| move |source: io::Error| CopyError::Read { offset, source };
    let direct = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_DIRECT)
        .open(path);
    let (file, is_direct) = match direct {
        Ok(f) => (f, true),
        Err(_) => (File::open(path).map_err(io_err(0))?, false),
    };
    if !is_direct {
        drop_cache(&file, start, size);
    }
    let al = ALIGN as u64;
    let mut bounce = AlignedBuf::new(BUF_SIZE + 2 * ALIGN);
    let mut direct_ok = is_direct;
    let read = move |off: u64, buf: &mut [u8]| -> Result<(), CopyError> {
        let pos = start + off;
        if direct_ok {
            let first = pos / al * al;
            let end = round_up(pos + buf.len() as u64, al);
            let span = (end - first) as usize;
            let b = bounce
                .as_mut_slice()
                .get_mut(..span)
                .ok_or(CopyError::Pipeline("bounce buffer too small"))?;
            match read_fully(&file, b, first) {
                Ok(got) if got >= (pos - first) as usize + buf.len() => {
                    let skip = (pos - first) as usize;
                    buf.copy_from_slice(b.get(skip..skip + buf.len()).unwrap_or(&[]));
                    return Ok(());
                }
                // EINVAL: the file system refuses O_DIRECT at this alignment; fall back.
                // The descriptor's O_DIRECT flag is cleared with fcntl for the plain reads.
                Ok(_) | Err(_) => {
                    direct_ok = false;
                    clear_direct(&file);
                    drop_cache(&file, start, size);
                }
            }
        }
        file.read_exact_at(buf, pos).map_err(io_err(pos))
    };
    hash_pipelined(size, read, progress)
}

fn read_fully(f: &File, buf: &mut [u8], at: u64) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        let dst = buf.get_mut(got..).unwrap_or(&mut []);
        match f.read_at(dst, at + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

fn drop_cache(f: &File, start: u64, len: u64) {
    use nix::fcntl::{posix_fadvise, PosixFadviseAdvice};
    let (Ok(s), Ok(l)) = (i64::try_from(start), i64::try_from(len)) else {
        return;
    };
    // Advisory: a failure only means the read may come from the cache.
    let _ = posix_fadvise(f, s, l, PosixFadviseAdvice::POSIX_FADV_DONTNEED);
}

fn clear_direct(f: &File) {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    if let Ok(bits) = fcntl(f, FcntlArg::F_GETFL) {
        let flags = OFlag::from_bits_truncate(bits) & !OFlag::O_DIRECT;
        let _ = fcntl(f, FcntlArg::F_SETFL(flags));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blockdev::MemDevice;

    fn pattern(n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect()
    }

    fn temp_file(data: &[u8]) -> (std::path::PathBuf, File) {
        let p = std::env::temp_dir().join(format!(
            "bootshelf-copy-test-{}-{}",
            std::process::id(),
            data.len()
        ));
        std::fs::write(&p, data).unwrap();
        let f = File::open(&p).unwrap();
        (p, f)
    }

    #[test]
    fn copies_and_hashes_across_buffer_boundaries() {
        for (ss, len) in [(512u32, BUF_SIZE * 2 + 777), (4096, 12_345), (512, 0)] {
            let data = pattern(len);
            let (p, f) = temp_file(&data);
            let mut dev = MemDevice::new(ss, (BUF_SIZE as u64 * 3) / u64::from(ss) + 64);
            let start = u64::from(ss) * 8;
            dev.data[start as usize..].fill(0xEE);
            let dest = Extent {
                start,
                len: round_up(len as u64, u64::from(ss)),
            };
            let mut seen = 0;
            let digest = copy_and_hash(&f, len as u64, &mut dev, dest, None, None, &mut |p| {
                if let Progress::Bytes(n) = p {
                    seen += n
                }
            })
            .unwrap();
            let want: Sha256Digest = Sha256::digest(&data).into();
            assert_eq!(digest, want);
            assert_eq!(seen, len as u64);
            let s = start as usize;
            assert_eq!(&dev.data[s..s + len], &data[..]);
            // The tail of the last sector is zero-padded, the byte after it untouched.
            let end = s + dest.len as usize;
            assert!(dev.data[s + len..end].iter().all(|&b| b == 0));
            assert_eq!(dev.data[end], 0xEE);
            // Reading back through the device gives the same hash, also split in extents.
            let again = hash_on_device(&mut dev, &[dest], len as u64, &mut |_| {}).unwrap();
            assert_eq!(again, want);
            let _ = std::fs::remove_file(p);
        }
    }

    #[test]
    fn hash_on_device_follows_fragmented_extents() {
        let data = pattern(3 * 4096);
        let mut dev = MemDevice::new(512, 64);
        // File order: second piece stored before the first.
        dev.data[8192..8192 + 4096].copy_from_slice(&data[..4096]);
        dev.data[16384..16384 + 8192].copy_from_slice(&data[4096..]);
        let ext = [
            Extent {
                start: 8192,
                len: 4096,
            },
            Extent {
                start: 16384,
                len: 8192,
            },
        ];
        let d = hash_on_device(&mut dev, &ext, data.len() as u64, &mut |_| {}).unwrap();
        assert_eq!(d, <[u8; 32]>::from(Sha256::digest(&data)));
    }

    #[test]
    fn refuses_a_destination_too_small_or_misaligned() {
        let (p, f) = temp_file(&pattern(1000));
        let mut dev = MemDevice::new(512, 16);
        let small = Extent {
            start: 512,
            len: 512,
        };
        assert!(matches!(
            copy_and_hash(&f, 1000, &mut dev, small, None, None, &mut |_| {}),
            Err(CopyError::BadDestination { .. })
        ));
        let odd = Extent {
            start: 100,
            len: 1024,
        };
        assert!(copy_and_hash(&f, 1000, &mut dev, odd, None, None, &mut |_| {}).is_err());
        let _ = std::fs::remove_file(p);
    }

    #[test]
    fn a_short_source_is_a_read_error() {
        let (p, f) = temp_file(&pattern(1000));
        let mut dev = MemDevice::new(512, 16);
        let dest = Extent {
            start: 0,
            len: 4096,
        };
        assert!(matches!(
            copy_and_hash(&f, 3000, &mut dev, dest, None, None, &mut |_| {}),
            Err(CopyError::Read { offset: 0, .. })
        ));
        let _ = std::fs::remove_file(p);
    }

    #[test]
    fn direct_writes_land_where_buffered_ones_would() {
        // An image file on the disk the tests run on; the last partial block (512 bytes
        // past a 4 KiB boundary) may be refused by O_DIRECT and goes through `dev`.
        let len = BUF_SIZE + 4096 * 3 + 1000;
        let data = pattern(len);
        let (src_path, src) = temp_file(&data);
        let img = std::env::temp_dir().join(format!("bootshelf-direct-{}", std::process::id()));
        let size = (BUF_SIZE * 2) as u64;
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&img)
            .unwrap();
        f.set_len(size).unwrap();
        let mut dev = blockdev::FileDevice::new(f, 512, size);
        let direct = open_direct(&img);
        let dest = Extent {
            start: 1 << 20,
            len: round_up(len as u64, 512),
        };
        let digest = copy_and_hash(
            &src,
            len as u64,
            &mut dev,
            dest,
            direct.as_ref(),
            None,
            &mut |_| {},
        )
        .unwrap();
        assert_eq!(digest, <[u8; 32]>::from(Sha256::digest(&data)));
        let back = std::fs::read(&img).unwrap();
        assert_eq!(&back[1 << 20..(1 << 20) + len], &data[..]);
        assert!(back[(1 << 20) + len..].iter().all(|&b| b == 0));
        let _ = std::fs::remove_file(img);
        let _ = std::fs::remove_file(src_path);
    }

    #[test]
    fn uncached_hash_matches() {
        let data = pattern(100_000);
        let mut img = vec![0u8; 8192];
        img.extend_from_slice(&data);
        img.resize(img.len() + 5000, 7);
        let (p, _f) = temp_file(&img);
        let d = hash_uncached(&p, 8192, data.len() as u64, &mut |_| {}).unwrap();
        assert_eq!(d, <[u8; 32]>::from(Sha256::digest(&data)));
        // Unaligned start works too.
        let d = hash_uncached(&p, 8193, 10, &mut |_| {}).unwrap();
        assert_eq!(d, <[u8; 32]>::from(Sha256::digest(&img[8193..8203])));
        let _ = std::fs::remove_file(p);
    }
}
