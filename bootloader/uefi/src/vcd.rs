//! The virtual CD: the chosen ISO presented to the firmware as a CD-ROM.
//!
//! A read-only `EFI_BLOCK_IO_PROTOCOL` with 2048-byte blocks is installed on a new handle
//! together with a device path of its own, `VenHw(VCD_GUID, counter)`, unique per boot
//! attempt. Its `ReadBlocks` maps ISO blocks onto the ISO file's extents on the stick
//! (contiguous or fragmented; 512- or 4096-byte device sectors; unaligned pieces go through
//! a bounce buffer in [`blockdev::BlockReader`]). With kernel options, an
//! [`overlay::Overlay`] replaces some sectors (the ISO's boot configuration, its
//! directory records) and adds some past the ISO's end; a read touching none of them
//! goes straight to the stick as before. `ConnectController` then lets the
//! firmware do what it does for a real CD: DiskIo binds, PartitionDxe (ElTorito.c) finds
//! the El Torito boot catalog and makes one child per boot entry with a `CDROM(...)`
//! device path node, and the FAT driver mounts the EFI boot image. The loader loads
//! [`BOOT_FILE`] (`\EFI\BOOT\BOOTX64.EFI`, `BOOTAA64.EFI` or `BOOTIA32.EFI`, the one
//! for the architecture it was built for) from that child and starts it.

use crate::devpath;
use crate::disk::UefiDisk;
use crate::proto;
use alloc::boxed::Box;
use alloc::vec::Vec;
use blockdev::{BlockReader, Extent, ExtentReader, IoError, ReadAt};
use bootloader_core::discovery::{NOT_SIGNED_MESSAGE, NOT_TRUSTED_MESSAGE};
use bootloader_core::overlay::Overlay;
use core::cell::RefCell;
use core::ffi::c_void;
use core::fmt;
use core::sync::atomic::{AtomicU32, Ordering};
use efi_image::EfiArch;
use uefi::boot::{self, LoadImageSource};
use uefi::proto::device_path::DevicePath;
use uefi::proto::media::fs::SimpleFileSystem;
use uefi::proto::BootPolicy;
use uefi::{guid, Guid, Handle, Status};
use uefi_raw::protocol::block::{BlockIoMedia, BlockIoProtocol, Lba};
use uefi_raw::protocol::device_path::DevicePathProtocol;
use uefi_raw::Boolean;

/// bootshelf's vendor GUID for the virtual CD's device path node.
pub const VCD_GUID: Guid = guid!("2c25b6be-40dd-45d7-b3e4-d90fa416a4cf");

/// Block size of the virtual CD: ISO 9660 logical sectors.
pub const CD_BLOCK: u64 = 2048;

/// The removable-media boot path (UEFI spec 3.5.1.1) for the architecture this loader is
/// built for (`\EFI\BOOT\BOOTX64.EFI`, `BOOTAA64.EFI` or `BOOTIA32.EFI`): the ISO's
/// loader for this machine.
pub const BOOT_FILE: &str = match EfiArch::NATIVE {
    Some(arch) => arch.boot_path(),
    None => panic!("UEFI has no removable-media loader name for this architecture"),
};

/// Smallest ISO: the system area (16 blocks) and one volume descriptor.
const MIN_BLOCKS: u64 = 17;

/// Counts virtual CDs made during this boot, so each gets a unique device path.
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Why the virtual CD could not boot the ISO.
#[derive(Debug)]
pub enum VcdError {
    /// The ISO is smaller than an ISO 9660 volume can be.
    TooSmall(u64),
    /// The extents do not cover the ISO or reach past the stick.
    BadExtents(IoError),
    /// Installing the protocols on the new handle failed.
    Install(Status),
    /// The firmware found no El Torito EFI boot image with a file system on the CD.
    NoEfiImage,
    /// [`BOOT_FILE`] could not be loaded from the EFI boot image.
    Load(Status),
    /// The firmware's Secure Boot policy (db, or shim's MokList) refused the ISO's boot
    /// loader: `SECURITY_VIOLATION` or `ACCESS_DENIED` from LoadImage.
    NotSignedForSecureBoot,
    /// The same refusal for a loader the index knows to be signed: the firmware does not
    /// trust its signer, or revokes it (`BootEntry::native_loader_signed`, main.rs).
    SignatureNotTrusted,
    /// The ISO's boot loader started but came back with `SECURITY_VIOLATION` or
    /// `ACCESS_DENIED`: its own chain refused its next stage under Secure Boot (an ISO's
    /// shim refusing a GRUB that the machine's SbatLevel revokes, docs/secure-boot.md).
    RefusedUnderSecureBoot,
    /// The loaded image ran and returned to us.
    Returned(Status),
}

impl fmt::Display for VcdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VcdError::TooSmall(n) => write!(f, "{n} bytes is too small for an ISO"),
            VcdError::BadExtents(e) => write!(f, "the ISO's extents are unusable: {e}"),
            VcdError::Install(s) => write!(f, "installing the virtual CD failed: {s:?}"),
            VcdError::NoEfiImage => f.write_str(
                "this ISO has no UEFI boot image (no El Torito EFI entry with a FAT file system)",
            ),
            VcdError::Load(s) => write!(f, "loading {BOOT_FILE} from the ISO failed: {s:?}"),
            // One menu line, the same as an entry the index knows to be unsigned.
            VcdError::NotSignedForSecureBoot => f.write_str(NOT_SIGNED_MESSAGE),
            VcdError::SignatureNotTrusted => f.write_str(NOT_TRUSTED_MESSAGE),
            // One menu line too: what probably happened, and what the user can do.
            VcdError::RefusedUnderSecureBoot => f.write_str(
                "Refused under Secure Boot (revoked by SBAT?). Use a newer release of this ISO.",
            ),
            VcdError::Returned(s) => write!(f, "the ISO's boot loader returned ({s:?})"),
        }
    }
}

/// The state behind one virtual CD's Block I/O. `repr(C)` with the protocol first, so the
/// `this` pointer the firmware passes to our functions is also a pointer to this.
#[repr(C)]
struct Instance {
    protocol: BlockIoProtocol,
    media: BlockIoMedia,
    disk: &'static RefCell<UefiDisk>,
    extents: Vec<Extent>,
    size: u64,
    /// Replaced and added sectors (kernel options), if any.
    overlay: Option<Overlay>,
    path: Vec<u8>,
}

/// A virtual CD installed in the firmware.
pub struct VirtualCd {
    handle: Handle,
    instance: *mut Instance,
}

/// The ISO on the stick: its size and where its bytes lie, in file order.
pub struct IsoLocation<'a> {
    /// Size of the ISO file in bytes.
    pub size: u64,
    /// Device byte extents covering `size`.
    pub extents: &'a [Extent],
}

impl VirtualCd {
    /// Install a virtual CD for the ISO at `iso` on `disk` and connect the firmware's
    /// drivers to it.
    pub fn install(
        disk: &'static RefCell<UefiDisk>,
        iso: &IsoLocation<'_>,
        overlay: Option<Overlay>,
    ) -> Result<VirtualCd, VcdError> {
        let served = overlay.as_ref().map_or(iso.size, |o| o.len().max(iso.size));
        let blocks = served / CD_BLOCK;
        if blocks < MIN_BLOCKS {
            return Err(VcdError::TooSmall(iso.size));
        }
        {
            // Validate the extents once, up front, with the same reader ReadBlocks uses.
            let mut d = disk.borrow_mut();
            ExtentReader::new(BlockReader::new(&mut *d), iso.extents, iso.size)
                .map_err(VcdError::BadExtents)?;
        }
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = devpath::vendor_hw(&VCD_GUID, &n.to_le_bytes());
        let instance = Box::into_raw(Box::new(Instance {
            protocol: BlockIoProtocol {
                revision: BlockIoProtocol::REVISION,
                media: core::ptr::null(),
                reset,
                read_blocks,
                write_blocks,
                flush_blocks,
            },
            media: BlockIoMedia {
                media_id: 1,
                removable_media: Boolean::TRUE,
                media_present: Boolean::TRUE,
                logical_partition: Boolean::FALSE,
                read_only: Boolean::TRUE,
                write_caching: Boolean::FALSE,
                block_size: CD_BLOCK as u32,
                io_align: 0,
                last_block: blocks - 1,
                lowest_aligned_lba: 0,
                logical_blocks_per_physical_block: 1,
                optimal_transfer_length_granularity: 0,
            },
            disk,
            extents: iso.extents.to_vec(),
            size: iso.size,
            overlay,
            path,
        }));
        // SAFETY: `instance` came from Box::into_raw just above and is valid; the media
        // pointer points into the same allocation, which is never moved.
        let (proto_ptr, path_ptr) = unsafe {
            (*instance).protocol.media = &(*instance).media;
            (
                &raw const (*instance).protocol,
                (*instance).path.as_ptr() as *const DevicePathProtocol,
            )
        };
        // SAFETY: the GUIDs match the interfaces: a Block I/O protocol struct and a device
        // path (a sequence of nodes ending in End Entire). Both live in the leaked instance
        // until `remove` uninstalls them.
        let installed = unsafe {
            boot::install_protocol_interface(None, &BlockIoProtocol::GUID, proto_ptr.cast())
                .and_then(|h| {
                    boot::install_protocol_interface(
                        Some(h),
                        &DevicePathProtocol::GUID,
                        path_ptr.cast(),
                    )
                })
        };
        let handle = match installed {
            Ok(h) => h,
            Err(e) => {
                // The firmware may still hold the Block I/O interface on a half-made handle:
                // leak the instance rather than free memory it may point to.
                return Err(VcdError::Install(e.status()));
            }
        };
        // NOT_FOUND only says no driver wanted the handle itself; the children are what
        // matters and are checked by `boot`.
        let _ = boot::connect_controller(handle, &[], None, true);
        Ok(VirtualCd { handle, instance })
    }

    /// The virtual CD's device path bytes.
    fn path(&self) -> &[u8] {
        // SAFETY: the instance lives until `remove`, which consumes self.
        unsafe { &(*self.instance).path }
    }

    /// Find the El Torito EFI image's file system on this CD.
    fn efi_child(&self) -> Option<(Handle, Vec<u8>)> {
        let handles = boot::find_handles::<SimpleFileSystem>().ok()?;
        handles.into_iter().find_map(|h| {
            let p = proto::get::<DevicePath>(h).ok()?;
            let bytes = devpath::bytes(&p);
            devpath::starts_with(bytes, self.path()).then(|| (h, bytes.to_vec()))
        })
    }

    /// Load `\EFI\BOOT\BOOTX64.EFI` from the CD's EFI boot image and start it. Returns
    /// only when that fails or the started image returns.
    pub fn boot(&self) -> VcdError {
        let Some((_child, child_path)) = self.efi_child() else {
            return VcdError::NoEfiImage;
        };
        let file_path = devpath::with_file(&child_path, BOOT_FILE);
        let Ok(file_path) = <&DevicePath>::try_from(file_path.as_slice()) else {
            return VcdError::Load(Status::INVALID_PARAMETER);
        };
        let image = match boot::load_image(
            boot::image_handle(),
            LoadImageSource::FromDevicePath {
                device_path: file_path,
                boot_policy: BootPolicy::ExactMatch,
            },
        ) {
            Ok(i) => i,
            // Under Secure Boot the firmware (or shim, which checks its MokList too)
            // verifies the image here; nothing bypasses that.
            Err(e)
                if matches!(
                    e.status(),
                    Status::SECURITY_VIOLATION | Status::ACCESS_DENIED
                ) =>
            {
                return VcdError::NotSignedForSecureBoot
            }
            Err(e) => return VcdError::Load(e.status()),
        };
        let status = match boot::start_image(image) {
            Ok(()) => Status::SUCCESS,
            Err(e) => e.status(),
        };
        match status {
            Status::SECURITY_VIOLATION | Status::ACCESS_DENIED => VcdError::RefusedUnderSecureBoot,
            _ => VcdError::Returned(status),
        }
    }

    /// Disconnect the drivers and uninstall the virtual CD (after a failed boot). When the
    /// firmware refuses, the handle and its memory stay as they are, which is harmless: the
    /// next virtual CD has a different device path.
    pub fn remove(self) {
        let _ = boot::disconnect_controller(self.handle, None, None);
        // SAFETY: these are the interfaces installed by `install` on this handle.
        let uninstalled = unsafe {
            let path_ptr = (*self.instance).path.as_ptr() as *const c_void;
            let proto_ptr = &raw const (*self.instance).protocol;
            boot::uninstall_protocol_interface(self.handle, &DevicePathProtocol::GUID, path_ptr)
                .and_then(|()| {
                    boot::uninstall_protocol_interface(
                        self.handle,
                        &BlockIoProtocol::GUID,
                        proto_ptr.cast(),
                    )
                })
        };
        if uninstalled.is_ok() {
            // SAFETY: nothing refers to the instance any more; it came from Box::into_raw.
            drop(unsafe { Box::from_raw(self.instance) });
        }
    }
}

unsafe extern "efiapi" fn reset(_this: *mut BlockIoProtocol, _ext: Boolean) -> Status {
    Status::SUCCESS
}

unsafe extern "efiapi" fn write_blocks(
    _this: *mut BlockIoProtocol,
    _media_id: u32,
    _lba: Lba,
    _size: usize,
    _buffer: *const c_void,
) -> Status {
    Status::WRITE_PROTECTED
}

unsafe extern "efiapi" fn flush_blocks(_this: *mut BlockIoProtocol) -> Status {
    Status::SUCCESS
}

/// `EFI_BLOCK_IO_PROTOCOL.ReadBlocks` of the virtual CD.
unsafe extern "efiapi" fn read_blocks(
    this: *const BlockIoProtocol,
    media_id: u32,
    lba: Lba,
    size: usize,
    buffer: *mut c_void,
) -> Status {
    if this.is_null() {
        return Status::INVALID_PARAMETER;
    }
    // SAFETY: the firmware passes back the interface pointer we installed, which is the
    // first field of a live, repr(C) `Instance` (it stays allocated while installed).
    let inst = unsafe { &*(this as *const Instance) };
    if media_id != inst.media.media_id {
        return Status::MEDIA_CHANGED;
    }
    if size == 0 {
        return Status::SUCCESS;
    }
    if buffer.is_null() {
        return Status::INVALID_PARAMETER;
    }
    if !(size as u64).is_multiple_of(CD_BLOCK) {
        return Status::BAD_BUFFER_SIZE;
    }
    let count = size as u64 / CD_BLOCK;
    match lba.checked_add(count - 1) {
        Some(last) if last <= inst.media.last_block => {}
        _ => return Status::INVALID_PARAMETER,
    }
    // SAFETY: the caller provides `size` writable bytes at `buffer` (UEFI spec ReadBlocks),
    // non-null as checked above, and does not touch them until we return.
    let buf = unsafe { core::slice::from_raw_parts_mut(buffer as *mut u8, size) };
    let Ok(mut disk) = inst.disk.try_borrow_mut() else {
        // Re-entered while the loader itself is reading the stick: refuse, never alias.
        return Status::DEVICE_ERROR;
    };
    let reader = BlockReader::new(&mut *disk);
    let result =
        ExtentReader::new(reader, &inst.extents, inst.size).and_then(|mut r| match &inst.overlay {
            Some(o) if o.touches(lba, count) || (lba + count) * CD_BLOCK > inst.size => {
                o.read(&mut r, lba * CD_BLOCK, buf)
            }
            _ => r.read_exact_at(lba * CD_BLOCK, buf),
        });
    match result {
        Ok(()) => Status::SUCCESS,
        Err(IoError::NoMedia) => Status::NO_MEDIA,
        Err(_) => Status::DEVICE_ERROR,
    }
}
