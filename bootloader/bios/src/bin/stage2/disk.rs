//! The stick as a [`BlockDevice`], read through INT 13h extensions (AH=42h/48h) via the
//! real-mode thunk and the low-memory bounce buffer. Writes go through AH=43h (only the
//! ISO window update writes, and only when asked).

use crate::bios::{self, Regs, BOUNCE, BOUNCE_LEN};
use blockdev::{check_sector_request, BlockDevice, IoError};
use bootshelf_bios::le;

/// A BIOS drive with INT 13h extensions.
pub struct Int13Disk {
    drive: u8,
    sector_size: u32,
    sectors: u64,
}

/// Why a drive cannot be used.
#[derive(Debug, Clone, Copy)]
pub enum DiskError {
    /// AH=41h failed: no INT 13h extensions for this drive.
    NoExtensions {
        /// BIOS drive number.
        drive: u8,
    },
    /// AH=48h failed with this status.
    Params {
        /// BIOS drive number.
        drive: u8,
        /// INT 13h status (AH).
        status: u8,
    },
    /// AH=48h reported a sector size we cannot use.
    SectorSize {
        /// BIOS drive number.
        drive: u8,
        /// Reported bytes per sector.
        size: u32,
    },
}

impl core::fmt::Display for DiskError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            DiskError::NoExtensions { drive } => {
                write!(f, "drive {drive:#04x} has no INT 13h extensions")
            }
            DiskError::Params { drive, status } => write!(
                f,
                "drive {drive:#04x}: INT 13h AH=48h failed with status {status:#04x}"
            ),
            DiskError::SectorSize { drive, size } => write!(
                f,
                "drive {drive:#04x}: unsupported sector size {size} (512..4096, a power of two)"
            ),
        }
    }
}

impl Int13Disk {
    /// Open BIOS drive `drive` (from DL at boot).
    pub fn open(drive: u8) -> Result<Int13Disk, DiskError> {
        let mut r = Regs {
            eax: 0x4100,
            ebx: 0x55AA,
            edx: u32::from(drive),
            ..Regs::default()
        };
        bios::int(0x13, &mut r);
        if r.carry() || r.ebx & 0xFFFF != 0xAA55 {
            return Err(DiskError::NoExtensions { drive });
        }
        let buf = BOUNCE.bytes();
        buf[..0x1E].fill(0);
        buf[0] = 0x1E;
        let (seg, off) = BOUNCE.seg_off();
        let mut r = Regs {
            eax: 0x4800,
            edx: u32::from(drive),
            esi: u32::from(off),
            ds: seg,
            ..Regs::default()
        };
        bios::int(0x13, &mut r);
        if r.carry() {
            return Err(DiskError::Params {
                drive,
                status: r.ah(),
            });
        }
        let buf = BOUNCE.bytes();
        // EDD parameters: u64 sector count at 16, u16 bytes per sector at 24 (the buffer
        // is far longer, so both are there; a 0 would fail the size check below).
        let sectors = le::u64_at(buf, 16).unwrap_or(0);
        let size = u32::from(le::u16_at(buf, 24).unwrap_or(0));
        if !(512..=4096).contains(&size) || !size.is_power_of_two() {
            return Err(DiskError::SectorSize { drive, size });
        }
        Ok(Int13Disk {
            drive,
            sector_size: size,
            sectors,
        })
    }

    /// The BIOS drive number.
    pub fn drive(&self) -> u8 {
        self.drive
    }

    fn transfer(&mut self, write: bool, lba: u64, count: u16) -> Result<(), IoError> {
        let dap_at = BOUNCE_LEN - 16;
        let (seg, off) = BOUNCE.seg_off();
        let buf = BOUNCE.bytes();
        let mut dap = [0u8; 16];
        dap[0] = 0x10;
        dap[2..4].copy_from_slice(&count.to_le_bytes());
        dap[4..6].copy_from_slice(&off.to_le_bytes());
        dap[6..8].copy_from_slice(&seg.to_le_bytes());
        dap[8..16].copy_from_slice(&lba.to_le_bytes());
        buf[dap_at..].copy_from_slice(&dap);
        let mut status = 0;
        for _ in 0..3 {
            let mut r = Regs {
                eax: if write { 0x4300 } else { 0x4200 },
                edx: u32::from(self.drive),
                esi: u32::from(off) + dap_at as u32,
                ds: seg,
                ..Regs::default()
            };
            bios::int(0x13, &mut r);
            if !r.carry() {
                return Ok(());
            }
            status = r.ah();
            let mut reset = Regs {
                edx: u32::from(self.drive),
                ..Regs::default()
            };
            bios::int(0x13, &mut reset);
        }
        Err(IoError::Device {
            code: u64::from(status),
            offset: lba.saturating_mul(u64::from(self.sector_size)),
        })
    }

    /// Sectors per transfer: the bounce buffer minus room for the packet.
    fn chunk(&self) -> usize {
        (BOUNCE_LEN / 2) / self.sector_size as usize
    }
}

impl BlockDevice for Int13Disk {
    fn sector_size(&self) -> u32 {
        self.sector_size
    }
    fn sector_count(&self) -> u64 {
        self.sectors
    }
    fn read_sectors(&mut self, lba: u64, buf: &mut [u8]) -> Result<(), IoError> {
        check_sector_request(self.sector_size, self.sectors, lba, buf.len())?;
        let ss = self.sector_size as usize;
        let chunk = self.chunk();
        let mut done = 0usize;
        let mut lba = lba;
        for piece in buf.chunks_mut(chunk * ss) {
            let n = piece.len() / ss;
            self.transfer(false, lba, n as u16)?;
            piece.copy_from_slice(&BOUNCE.bytes()[..piece.len()]);
            lba += n as u64;
            done += n;
        }
        let _ = done;
        Ok(())
    }
    fn write_sectors(&mut self, lba: u64, buf: &[u8]) -> Result<(), IoError> {
        check_sector_request(self.sector_size, self.sectors, lba, buf.len())?;
        let ss = self.sector_size as usize;
        let chunk = self.chunk();
        let mut lba = lba;
        for piece in buf.chunks(chunk * ss) {
            let n = piece.len() / ss;
            BOUNCE.bytes()[..piece.len()].copy_from_slice(piece);
            self.transfer(true, lba, n as u16)?;
            lba += n as u64;
        }
        Ok(())
    }
}
