//! The I/O traits that every bootshelf parser and file system stands on.
//!
//! * [`BlockDevice`]: a disk of fixed-size logical sectors (512 or 4096 bytes). The CLI's
//!   image file or block device, the UEFI Block I/O protocol and the BIOS INT 13h each
//!   implement it once.
//! * [`ReadAt`]: a byte-addressed, read-only view of something with a length: a whole
//!   device ([`BlockReader`]), a region of it ([`Region`]), a file made of device extents
//!   ([`ExtentReader`]) or a byte slice (tests, fuzzing).
//!
//! Everything here is `no_std` and allocation-free; the `std` feature adds adapters for
//! files and in-memory disks.
#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(missing_docs)]

#[cfg(feature = "std")]
mod std_adapters;
#[cfg(feature = "std")]
pub use std_adapters::{FileDevice, MemDevice};

use core::fmt;

/// The largest logical sector size supported (4Kn disks).
pub const MAX_SECTOR_SIZE: usize = 4096;

/// Why an I/O request failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum IoError {
    /// The request reaches past the end of the device or object.
    OutOfRange {
        /// Byte offset of the request.
        offset: u64,
        /// Length of the request in bytes.
        len: u64,
        /// Size of the device or object in bytes.
        size: u64,
    },
    /// A buffer or offset is not a multiple of the sector size.
    Misaligned {
        /// The offending offset or length.
        value: u64,
        /// The sector size it must be a multiple of.
        sector_size: u32,
    },
    /// The device refuses writes.
    WriteProtected,
    /// The medium is gone (unplugged stick).
    NoMedia,
    /// The device or firmware reported an error; `code` is its own status (errno, EFI
    /// status, INT 13h AH) and `offset` the byte offset of the failed request.
    Device {
        /// Device-specific status code.
        code: u64,
        /// Byte offset of the failed request.
        offset: u64,
    },
}

impl fmt::Display for IoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            IoError::OutOfRange { offset, len, size } => write!(
                f,
                "read of {len} bytes at offset {offset} reaches past the end ({size} bytes)"
            ),
            IoError::Misaligned { value, sector_size } => {
                write!(
                    f,
                    "{value} is not a multiple of the sector size {sector_size}"
                )
            }
            IoError::WriteProtected => f.write_str("the device is write-protected"),
            IoError::NoMedia => f.write_str("the medium is gone"),
            IoError::Device { code, offset } => {
                write!(f, "device error {code:#x} at byte offset {offset}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for IoError {}

/// A disk of fixed-size logical sectors.
pub trait BlockDevice {
    /// Logical sector size in bytes: 512 or 4096 (any power of two from 512 to
    /// [`MAX_SECTOR_SIZE`] works).
    fn sector_size(&self) -> u32;

    /// Number of logical sectors.
    fn sector_count(&self) -> u64;

    /// Read whole sectors starting at `lba`; `buf.len()` is a multiple of the sector size.
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError>;

    /// Write whole sectors starting at `lba`; `buf.len()` is a multiple of the sector size.
    fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), IoError>;

    /// Make every completed write durable.
    fn flush(&mut self) -> Result<(), IoError> {
        Ok(())
    }

    /// Size of the device in bytes.
    fn size_bytes(&self) -> u64 {
        self.sector_count() * u64::from(self.sector_size())
    }
}

impl<D: BlockDevice + ?Sized> BlockDevice for &mut D {
    fn sector_size(&self) -> u32 {
        (**self).sector_size()
    }
    fn sector_count(&self) -> u64 {
        (**self).sector_count()
    }
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        (**self).read_sectors(lba, buf)
    }
    fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), IoError> {
        (**self).write_sectors(lba, buf)
    }
    fn flush(&mut self) -> Result<(), IoError> {
        (**self).flush()
    }
}

/// Check that a sector request is aligned and in range; shared by implementations.
pub fn check_sector_request(
    sector_size: u32,
    sector_count: u64,
    lba: u64,
    len: usize,
) -> Result<(), IoError> {
    let ss = u64::from(sector_size);
    if !(len as u64).is_multiple_of(ss) {
        return Err(IoError::Misaligned {
            value: len as u64,
            sector_size,
        });
    }
    let n = len as u64 / ss;
    match lba.checked_add(n) {
        Some(end) if end <= sector_count => Ok(()),
        _ => Err(IoError::OutOfRange {
            offset: lba.saturating_mul(ss),
            len: len as u64,
            size: sector_count * ss,
        }),
    }
}

/// Byte-addressed reads of an object of known length.
pub trait ReadAt {
    /// Length of the object in bytes.
    fn len(&self) -> u64;

    /// Whether the object is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fill `buf` from `offset`; a request reaching past [`ReadAt::len`] fails with
    /// [`IoError::OutOfRange`] and reads nothing useful.
    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError>;
}

impl<R: ReadAt + ?Sized> ReadAt for &mut R {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        (**self).read_exact_at(offset, buf)
    }
}

fn check_range(offset: u64, len: usize, size: u64) -> Result<(), IoError> {
    match offset.checked_add(len as u64) {
        Some(end) if end <= size => Ok(()),
        _ => Err(IoError::OutOfRange {
            offset,
            len: len as u64,
            size,
        }),
    }
}

impl ReadAt for &[u8] {
    fn len(&self) -> u64 {
        <[u8]>::len(self) as u64
    }
    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_range(offset, buf.len(), ReadAt::len(self))?;
        let start = offset as usize;
        buf.copy_from_slice(&self[start..start + buf.len()]);
        Ok(())
    }
}

/// A [`ReadAt`] over a whole [`BlockDevice`]: unaligned requests go through a one-sector
/// bounce buffer, aligned whole sectors are read straight into the caller's buffer.
pub struct BlockReader<D> {
    dev: D,
    bounce: [u8; MAX_SECTOR_SIZE],
}

impl<D: BlockDevice> BlockReader<D> {
    /// Wrap a device.
    pub fn new(dev: D) -> Self {
        BlockReader {
            dev,
            bounce: [0; MAX_SECTOR_SIZE],
        }
    }

    /// The device inside.
    pub fn device(&mut self) -> &mut D {
        &mut self.dev
    }

    /// Give the device back.
    pub fn into_inner(self) -> D {
        self.dev
    }
}

impl<D: BlockDevice> ReadAt for BlockReader<D> {
    fn len(&self) -> u64 {
        self.dev.size_bytes()
    }

    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_range(offset, buf.len(), self.len())?;
        let ss = self.dev.sector_size() as usize;
        if ss > MAX_SECTOR_SIZE || ss == 0 {
            return Err(IoError::Misaligned {
                value: ss as u64,
                sector_size: ss as u32,
            });
        }
        let mut pos = offset;
        let mut done = 0usize;
        while done < buf.len() {
            let lba = pos / ss as u64;
            let within = (pos % ss as u64) as usize;
            let remaining = buf.len() - done;
            if within == 0 && remaining >= ss {
                let whole = remaining - remaining % ss;
                self.dev.read_sectors(lba, &mut buf[done..done + whole])?;
                done += whole;
                pos += whole as u64;
            } else {
                let n = (ss - within).min(remaining);
                self.dev.read_sectors(lba, &mut self.bounce[..ss])?;
                buf[done..done + n].copy_from_slice(&self.bounce[within..within + n]);
                done += n;
                pos += n as u64;
            }
        }
        Ok(())
    }
}

/// A window `[start, start + len)` of another [`ReadAt`], itself addressed from 0: a
/// partition of a disk, or an ISO stored contiguously on the stick.
pub struct Region<R> {
    inner: R,
    start: u64,
    len: u64,
}

impl<R: ReadAt> Region<R> {
    /// A window of `len` bytes from `start`; fails when it reaches past `inner`.
    pub fn new(inner: R, start: u64, len: u64) -> Result<Self, IoError> {
        match start.checked_add(len) {
            Some(end) if end <= inner.len() => Ok(Region { inner, start, len }),
            _ => Err(IoError::OutOfRange {
                offset: start,
                len,
                size: inner.len(),
            }),
        }
    }

    /// The reader inside.
    pub fn into_inner(self) -> R {
        self.inner
    }
}

impl<R: ReadAt> ReadAt for Region<R> {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_range(offset, buf.len(), self.len)?;
        self.inner.read_exact_at(self.start + offset, buf)
    }
}

/// One run of bytes of a file on a device: `len` bytes from device byte offset `start`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Extent {
    /// Byte offset on the device.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
}

/// A file made of device extents (in file order), read as one object: an ISO written
/// contiguously has one extent, a fragmented copy several.
pub struct ExtentReader<'e, R> {
    inner: R,
    extents: &'e [Extent],
    len: u64,
}

impl<'e, R: ReadAt> ExtentReader<'e, R> {
    /// A file of `len` bytes laid over `extents`; fails when the extents are shorter than
    /// `len` or reach past the device.
    pub fn new(inner: R, extents: &'e [Extent], len: u64) -> Result<Self, IoError> {
        let mut total: u64 = 0;
        for e in extents {
            match e.start.checked_add(e.len) {
                Some(end) if end <= inner.len() => {}
                _ => {
                    return Err(IoError::OutOfRange {
                        offset: e.start,
                        len: e.len,
                        size: inner.len(),
                    })
                }
            }
            total = total.saturating_add(e.len);
        }
        if total < len {
            return Err(IoError::OutOfRange {
                offset: 0,
                len,
                size: total,
            });
        }
        Ok(ExtentReader {
            inner,
            extents,
            len,
        })
    }
}

impl<R: ReadAt> ReadAt for ExtentReader<'_, R> {
    fn len(&self) -> u64 {
        self.len
    }
    fn read_exact_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_range(offset, buf.len(), self.len)?;
        let mut pos = offset;
        let mut done = 0usize;
        let mut ext_base = 0u64;
        for e in self.extents {
            if done == buf.len() {
                break;
            }
            let ext_end = ext_base + e.len;
            if pos < ext_end {
                let within = pos - ext_base;
                // Bounded in u64 first: an extent may be larger than a 32-bit usize (a
                // contiguous 5 GiB ISO read by the IA32 loader).
                let n = (e.len - within).min((buf.len() - done) as u64) as usize;
                self.inner
                    .read_exact_at(e.start + within, &mut buf[done..done + n])?;
                done += n;
                pos += n as u64;
            }
            ext_base = ext_end;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Mem {
        data: Vec<u8>,
        ss: u32,
    }
    impl BlockDevice for Mem {
        fn sector_size(&self) -> u32 {
            self.ss
        }
        fn sector_count(&self) -> u64 {
            (self.data.len() / self.ss as usize) as u64
        }
        fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
            check_sector_request(self.ss, self.sector_count(), lba, buf.len())?;
            let s = lba as usize * self.ss as usize;
            buf.copy_from_slice(&self.data[s..s + buf.len()]);
            Ok(())
        }
        fn write_sectors(&mut self, _lba: u64, _buf: &[u8]) -> Result<(), IoError> {
            Err(IoError::WriteProtected)
        }
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    #[test]
    fn block_reader_reads_unaligned_ranges_on_512_and_4096() {
        for ss in [512u32, 4096] {
            let data = pattern(ss as usize * 8 + 8192);
            let mut r = BlockReader::new(Mem {
                data: data[..data.len() / ss as usize * ss as usize].to_vec(),
                ss,
            });
            let data = data[..data.len() / ss as usize * ss as usize].to_vec();
            for (off, len) in [
                (0, 1),
                (1, 511),
                (100, 5000),
                (ss as u64 - 1, 2),
                (0, data.len()),
            ] {
                let mut buf = vec![0; len];
                r.read_exact_at(off, &mut buf).unwrap();
                assert_eq!(&buf[..], &data[off as usize..off as usize + len]);
            }
            let mut buf = [0u8; 2];
            assert!(matches!(
                r.read_exact_at(data.len() as u64 - 1, &mut buf),
                Err(IoError::OutOfRange { .. })
            ));
        }
    }

    #[test]
    fn extent_reader_stitches_extents() {
        let data = pattern(10_000);
        let extents = [
            Extent {
                start: 5000,
                len: 1000,
            },
            Extent {
                start: 100,
                len: 1000,
            },
        ];
        let mut r = ExtentReader::new(&data[..], &extents, 1500).unwrap();
        let mut buf = vec![0; 1000];
        r.read_exact_at(500, &mut buf).unwrap();
        assert_eq!(&buf[..500], &data[5500..6000]);
        assert_eq!(&buf[500..], &data[100..600]);
        assert!(r.read_exact_at(1000, &mut buf).is_err());
        assert!(ExtentReader::new(&data[..], &extents, 2001).is_err());
    }

    #[test]
    fn region_bounds() {
        let data = pattern(100);
        assert!(Region::new(&data[..], 90, 11).is_err());
        let mut r = Region::new(&data[..], 10, 20).unwrap();
        let mut b = [0u8; 20];
        r.read_exact_at(0, &mut b).unwrap();
        assert_eq!(&b[..], &data[10..30]);
        assert!(r.read_exact_at(1, &mut b).is_err());
    }
}
