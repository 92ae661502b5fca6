//! Device paths as raw bytes (UEFI spec 10.3): the virtual CD's vendor node, prefix tests
//! and appending a file path node for LoadImage.

use alloc::vec::Vec;
use uefi::proto::device_path::DevicePath;
use uefi::Guid;

/// Generic header of every node: type (1), sub-type (1), length (2, LE, whole node).
const HEADER_LEN: usize = 4;
/// End of Hardware Device Path, End Entire Device Path.
const END_ENTIRE: [u8; 4] = [0x7f, 0xff, 0x04, 0x00];
/// Hardware Device Path (type 1), Vendor (sub-type 4).
const HW: u8 = 0x01;
const HW_VENDOR: u8 = 0x04;
/// Media Device Path (type 4), File Path (sub-type 4).
const MEDIA: u8 = 0x04;
const MEDIA_FILE_PATH: u8 = 0x04;

/// The whole path as bytes, including the end node.
pub fn bytes(path: &DevicePath) -> &[u8] {
    path.as_bytes()
}

/// The path's bytes without its final End Entire node.
pub fn without_end(path: &[u8]) -> &[u8] {
    match path.strip_suffix(&END_ENTIRE) {
        Some(p) => p,
        None => path,
    }
}

/// `VenHw(guid, data)/End`.
pub fn vendor_hw(guid: &Guid, data: &[u8]) -> Vec<u8> {
    let len = HEADER_LEN + 16 + data.len();
    let mut v = Vec::with_capacity(len + END_ENTIRE.len());
    v.push(HW);
    v.push(HW_VENDOR);
    v.extend_from_slice(&(len as u16).to_le_bytes());
    v.extend_from_slice(&guid.to_bytes());
    v.extend_from_slice(data);
    v.extend_from_slice(&END_ENTIRE);
    v
}

/// `prefix` (a device path) followed by a File Path node for `file` (e.g.
/// `\EFI\BOOT\BOOTX64.EFI`) and the end node.
pub fn with_file(prefix: &[u8], file: &str) -> Vec<u8> {
    let name: Vec<u16> = file.encode_utf16().chain(core::iter::once(0)).collect();
    let len = HEADER_LEN + name.len() * 2;
    let mut v = Vec::with_capacity(prefix.len() + len + END_ENTIRE.len());
    v.extend_from_slice(without_end(prefix));
    v.push(MEDIA);
    v.push(MEDIA_FILE_PATH);
    v.extend_from_slice(&(len as u16).to_le_bytes());
    for c in name {
        v.extend_from_slice(&c.to_le_bytes());
    }
    v.extend_from_slice(&END_ENTIRE);
    v
}

/// Whether the path `path` starts with every node of `prefix` (a device path ending in
/// End Entire).
pub fn starts_with(path: &[u8], prefix: &[u8]) -> bool {
    path.starts_with(without_end(prefix))
}
