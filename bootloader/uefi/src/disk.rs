//! The stick's raw Block I/O (the whole-disk handle under the ESP the loader was started
//! from) as a [`BlockDevice`], so that every shared parser reads the stick through it.

use crate::{devpath, proto};
use alloc::vec;
use alloc::vec::Vec;
use blockdev::{check_sector_request, BlockDevice, IoError};
use uefi::boot::{self, ScopedProtocol};
use uefi::proto::device_path::DevicePath;
use uefi::proto::loaded_image::LoadedImage;
use uefi::proto::media::block::BlockIO;
use uefi::{Handle, Status};

/// Why the stick could not be found.
#[derive(Debug)]
pub enum FindError {
    /// The loaded image has no device handle (started from memory, not from a disk).
    NoImageDevice,
    /// A firmware call failed.
    Firmware(&'static str, Status),
    /// No Block I/O handle that is a whole disk lies on the path to the ESP.
    NoWholeDisk,
}

impl core::fmt::Display for FindError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            FindError::NoImageDevice => f.write_str("the loader was not started from a disk"),
            FindError::Firmware(what, s) => write!(f, "{what} failed: {s:?}"),
            FindError::NoWholeDisk => {
                f.write_str("no whole-disk Block I/O found under the loader's partition")
            }
        }
    }
}

/// The stick as a whole disk.
pub struct UefiDisk {
    block: ScopedProtocol<BlockIO>,
    media_id: u32,
    sector_size: u32,
    sector_count: u64,
    /// Buffer alignment the device needs (1 when any).
    io_align: usize,
    /// Aligned bounce buffer for callers whose buffers the device cannot take.
    bounce: Vec<u8>,
}

/// Size of the bounce buffer for misaligned caller buffers.
const BOUNCE_LEN: usize = 64 * 1024;

impl UefiDisk {
    /// The whole disk that holds the partition this image was loaded from: the Block I/O
    /// handle (not a logical partition) whose device path is a prefix of the partition's.
    pub fn of_loaded_image() -> Result<UefiDisk, FindError> {
        let image = proto::get::<LoadedImage>(boot::image_handle())
            .map_err(|e| FindError::Firmware("opening LoadedImage", e.status()))?;
        let device = image.device().ok_or(FindError::NoImageDevice)?;
        let part_path = proto::get::<DevicePath>(device)
            .map_err(|e| FindError::Firmware("opening the ESP's device path", e.status()))?;
        let part_path = devpath::bytes(&part_path).to_vec();
        let handles = boot::find_handles::<BlockIO>()
            .map_err(|e| FindError::Firmware("listing Block I/O handles", e.status()))?;
        let mut best: Option<(Handle, Vec<u8>)> = None;
        for h in handles {
            let Ok(block) = proto::get::<BlockIO>(h) else {
                continue;
            };
            if block.media().is_logical_partition() {
                continue;
            }
            let Ok(path) = proto::get::<DevicePath>(h) else {
                continue;
            };
            let path = devpath::bytes(&path);
            if devpath::starts_with(&part_path, path)
                && best.as_ref().is_none_or(|(_, b)| path.len() > b.len())
            {
                best = Some((h, path.to_vec()));
            }
        }
        let (handle, _path) = best.ok_or(FindError::NoWholeDisk)?;
        Self::open(handle)
    }

    fn open(handle: Handle) -> Result<UefiDisk, FindError> {
        let block = proto::get::<BlockIO>(handle)
            .map_err(|e| FindError::Firmware("opening the stick's Block I/O", e.status()))?;
        let media = block.media();
        let io_align = (media.io_align() as usize).max(1);
        let sector_size = media.block_size();
        let sector_count = media.last_block().saturating_add(1);
        let media_id = media.media_id();
        Ok(UefiDisk {
            block,
            media_id,
            sector_size,
            sector_count,
            io_align,
            bounce: vec![0; BOUNCE_LEN + io_align],
        })
    }

    fn firmware_read(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        self.block
            .read_blocks(self.media_id, lba, buf)
            .map_err(|e| match e.status() {
                Status::NO_MEDIA => IoError::NoMedia,
                s => IoError::Device {
                    code: s.0 as u64,
                    offset: lba.saturating_mul(u64::from(self.sector_size)),
                },
            })
    }
}

impl BlockDevice for UefiDisk {
    fn sector_size(&self) -> u32 {
        self.sector_size
    }

    fn sector_count(&self) -> u64 {
        self.sector_count
    }

    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_sector_request(self.sector_size, self.sector_count, lba, buf.len())?;
        if buf.is_empty() {
            return Ok(());
        }
        if (buf.as_ptr() as usize).is_multiple_of(self.io_align) {
            return self.firmware_read(lba, buf);
        }
        // The caller's buffer is not aligned as the device needs: go through the bounce
        // buffer, whole sectors at a time.
        let ss = self.sector_size as usize;
        let shift = self.bounce.as_ptr().align_offset(self.io_align);
        let chunk = (BOUNCE_LEN / ss).max(1) * ss;
        let mut bounce = core::mem::take(&mut self.bounce);
        let mut result = Ok(());
        let mut done = 0usize;
        while done < buf.len() {
            let n = chunk.min(buf.len() - done);
            let Some(tmp) = bounce.get_mut(shift..shift + n) else {
                result = Err(IoError::Misaligned {
                    value: n as u64,
                    sector_size: self.sector_size,
                });
                break;
            };
            if let Err(e) = self.firmware_read(lba + (done / ss) as u64, tmp) {
                result = Err(e);
                break;
            }
            buf[done..done + n].copy_from_slice(tmp);
            done += n;
        }
        self.bounce = bounce;
        result
    }

    fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), IoError> {
        check_sector_request(self.sector_size, self.sector_count, lba, buf.len())?;
        if buf.is_empty() {
            return Ok(());
        }
        let ss = self.sector_size as usize;
        let shift = self.bounce.as_ptr().align_offset(self.io_align);
        let chunk = (BOUNCE_LEN / ss).max(1) * ss;
        let mut bounce = core::mem::take(&mut self.bounce);
        let mut result = Ok(());
        let mut done = 0usize;
        while done < buf.len() {
            let n = chunk.min(buf.len() - done);
            let Some(tmp) = bounce.get_mut(shift..shift + n) else {
                result = Err(IoError::Misaligned {
                    value: n as u64,
                    sector_size: self.sector_size,
                });
                break;
            };
            tmp.copy_from_slice(&buf[done..done + n]);
            let at = lba + (done / ss) as u64;
            if let Err(e) = self.block.write_blocks(self.media_id, at, tmp) {
                result = Err(match e.status() {
                    Status::WRITE_PROTECTED => IoError::WriteProtected,
                    Status::NO_MEDIA => IoError::NoMedia,
                    s => IoError::Device {
                        code: s.0 as u64,
                        offset: at.saturating_mul(ss as u64),
                    },
                });
                break;
            }
            done += n;
        }
        self.bounce = bounce;
        result
    }

    fn flush(&mut self) -> Result<(), IoError> {
        self.block.flush_blocks().map_err(|e| IoError::Device {
            code: e.status().0 as u64,
            offset: 0,
        })
    }
}
