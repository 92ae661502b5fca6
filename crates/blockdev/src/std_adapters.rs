//! [`BlockDevice`] adapters for the host: image files and block devices opened as files,
//! and in-memory disks for tests.

use crate::{check_sector_request, BlockDevice, IoError};
use std::fs::File;
use std::os::unix::fs::FileExt;

/// A disk image file or an opened block device, with the logical sector size the caller
/// found for it (BLKSSZGET for devices, chosen for image files).
pub struct FileDevice {
    file: File,
    sector_size: u32,
    sector_count: u64,
}

impl FileDevice {
    /// Wrap an open file of `size_bytes` bytes; a trailing partial sector is ignored.
    pub fn new(file: File, sector_size: u32, size_bytes: u64) -> Self {
        FileDevice {
            file,
            sector_size,
            sector_count: size_bytes / u64::from(sector_size),
        }
    }

    /// The file inside.
    pub fn file(&self) -> &File {
        &self.file
    }
}

fn os_error(e: std::io::Error, offset: u64) -> IoError {
    IoError::Device {
        code: e.raw_os_error().unwrap_or(-1i32) as u32 as u64,
        offset,
    }
}

impl BlockDevice for FileDevice {
    fn sector_size(&self) -> u32 {
        self.sector_size
    }
    fn sector_count(&self) -> u64 {
        self.sector_count
    }
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_sector_request(self.sector_size, self.sector_count, lba, buf.len())?;
        let off = lba * u64::from(self.sector_size);
        self.file
            .read_exact_at(buf, off)
            .map_err(|e| os_error(e, off))
    }
    fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), IoError> {
        check_sector_request(self.sector_size, self.sector_count, lba, buf.len())?;
        let off = lba * u64::from(self.sector_size);
        self.file
            .write_all_at(buf, off)
            .map_err(|e| os_error(e, off))
    }
    fn flush(&mut self) -> Result<(), IoError> {
        self.file.sync_data().map_err(|e| os_error(e, 0))
    }
}

/// An in-memory disk.
#[derive(Clone, Debug)]
pub struct MemDevice {
    /// The disk's bytes.
    pub data: Vec<u8>,
    sector_size: u32,
}

impl MemDevice {
    /// A zeroed disk of `sectors` sectors of `sector_size` bytes.
    pub fn new(sector_size: u32, sectors: u64) -> Self {
        MemDevice {
            data: vec![0; (sectors * u64::from(sector_size)) as usize],
            sector_size,
        }
    }

    /// A disk holding `data` (truncated to whole sectors).
    pub fn from_bytes(sector_size: u32, mut data: Vec<u8>) -> Self {
        data.truncate(data.len() - data.len() % sector_size as usize);
        MemDevice { data, sector_size }
    }
}

impl BlockDevice for MemDevice {
    fn sector_size(&self) -> u32 {
        self.sector_size
    }
    fn sector_count(&self) -> u64 {
        (self.data.len() / self.sector_size as usize) as u64
    }
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_sector_request(self.sector_size, self.sector_count(), lba, buf.len())?;
        let s = (lba * u64::from(self.sector_size)) as usize;
        buf.copy_from_slice(&self.data[s..s + buf.len()]);
        Ok(())
    }
    fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), IoError> {
        check_sector_request(self.sector_size, self.sector_count(), lba, buf.len())?;
        let s = (lba * u64::from(self.sector_size)) as usize;
        self.data[s..s + buf.len()].copy_from_slice(buf);
        Ok(())
    }
}
