//! Reading a PE/COFF image for Authenticode (Microsoft PE/COFF specification, "Attribute
//! Certificate Table" and "Calculating the PE Image Hash"). Every offset is checked
//! against the image's length; nothing here panics on hostile bytes.

use core::fmt;

/// `wRevision` of a WIN_CERTIFICATE that Authenticode uses.
pub const CERT_REVISION_2: u16 = 0x0200;
/// `wCertificateType` of a PKCS#7 SignedData entry (Authenticode).
pub const CERT_TYPE_PKCS_SIGNED_DATA: u16 = 0x0002;

/// Most sections a COFF file can have.
const MAX_SECTIONS: usize = 96;
/// Index of the certificate table in the optional header's data directories.
const SECURITY_DIRECTORY: u32 = 4;

/// Why bytes are not a PE image Authenticode can work on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeError {
    /// No `MZ` at byte 0.
    NoDosHeader,
    /// `e_lfanew` does not point at `PE\0\0` inside the file.
    NoPeSignature,
    /// The optional header's magic is neither PE32 (0x10b) nor PE32+ (0x20b).
    UnknownOptionalHeader(u16),
    /// A header or table runs past the end of the file.
    Truncated(&'static str),
    /// More than 96 sections.
    TooManySections(u16),
    /// The optional header has no certificate table directory entry.
    NoSecurityDirectory,
    /// The certificate table is not inside the file, or is not at its end.
    BadCertificateTable { offset: u32, size: u32 },
}

impl fmt::Display for PeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeError::NoDosHeader => write!(f, "not a PE image: no MZ header"),
            PeError::NoPeSignature => write!(f, "not a PE image: no PE signature at e_lfanew"),
            PeError::UnknownOptionalHeader(m) => {
                write!(f, "not a PE image: optional header magic {m:#x}")
            }
            PeError::Truncated(what) => write!(f, "PE image truncated: {what} runs past the end"),
            PeError::TooManySections(n) => write!(f, "PE image has {n} sections (at most 96)"),
            PeError::NoSecurityDirectory => {
                write!(f, "PE image has no certificate table directory entry")
            }
            PeError::BadCertificateTable { offset, size } => write!(
                f,
                "PE certificate table at {offset:#x} size {size:#x} is not at the end of the file"
            ),
        }
    }
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// A PE image's Authenticode-relevant layout. Offsets are file offsets.
#[derive(Clone, Debug)]
pub struct PeImage<'a> {
    bytes: &'a [u8],
    /// Offset of the optional header's CheckSum field (4 bytes).
    checksum_at: usize,
    /// Offset of the certificate table's data directory entry (8 bytes: offset, size).
    security_dir_at: usize,
    /// SizeOfHeaders.
    size_of_headers: usize,
    /// Sections' (PointerToRawData, SizeOfRawData), sorted by offset, `sections` used.
    sections: [(u32, u32); MAX_SECTIONS],
    section_count: usize,
    /// Certificate table (file offset, size); (0, 0) when the image is unsigned.
    cert_table: (u32, u32),
}

/// The fields of a PE image's headers Authenticode needs, read from the start of the file:
/// [`PeImage::parse`] reads them from the whole image, [`signed_from_headers`] from the
/// first few KiB of a loader. Offsets are file offsets.
#[derive(Clone, Copy, Debug)]
struct Headers {
    checksum_at: usize,
    /// `None` when the optional header has no certificate table entry (too few data
    /// directories): the image cannot carry a signature.
    security_dir_at: Option<usize>,
    size_of_headers: usize,
    /// Section table offset and count.
    section_table: usize,
    section_count: u16,
    /// The certificate table directory entry (file offset, size).
    cert_dir: (u32, u32),
}

impl Headers {
    /// Reads the headers from `bytes`, the start of the file (possibly the whole file).
    fn parse(bytes: &[u8]) -> Result<Headers, PeError> {
        if bytes.get(0..2) != Some(b"MZ") {
            return Err(PeError::NoDosHeader);
        }
        let pe = u32_at(bytes, 0x3c).ok_or(PeError::NoDosHeader)? as usize;
        if bytes.get(pe..pe.saturating_add(4)) != Some(b"PE\0\0") {
            return Err(PeError::NoPeSignature);
        }
        let coff = pe + 4;
        let section_count = u16_at(bytes, coff + 2).ok_or(PeError::Truncated("COFF header"))?;
        let opt_size = u16_at(bytes, coff + 16).ok_or(PeError::Truncated("COFF header"))? as usize;
        let opt = coff + 20;
        let magic = u16_at(bytes, opt).ok_or(PeError::Truncated("optional header"))?;
        let (count_at, dirs_at) = match magic {
            0x10b => (opt + 92, opt + 96),
            0x20b => (opt + 108, opt + 112),
            m => return Err(PeError::UnknownOptionalHeader(m)),
        };
        let dir_count = u32_at(bytes, count_at).ok_or(PeError::Truncated("optional header"))?;
        let size_of_headers =
            u32_at(bytes, opt + 60).ok_or(PeError::Truncated("optional header"))? as usize;
        if usize::from(section_count) > MAX_SECTIONS {
            return Err(PeError::TooManySections(section_count));
        }
        let (security_dir_at, cert_dir) = if dir_count <= SECURITY_DIRECTORY {
            (None, (0, 0))
        } else {
            let at = dirs_at + 8 * SECURITY_DIRECTORY as usize;
            if at + 8 > opt + opt_size {
                return Err(PeError::Truncated("optional header"));
            }
            let offset = u32_at(bytes, at).ok_or(PeError::Truncated("optional header"))?;
            let size = u32_at(bytes, at + 4).ok_or(PeError::Truncated("optional header"))?;
            (Some(at), (offset, size))
        };
        Ok(Headers {
            checksum_at: opt + 64,
            security_dir_at,
            size_of_headers,
            section_table: opt + opt_size,
            section_count,
            cert_dir,
        })
    }
}

/// Most certificate table entries [`signed_from_headers`] looks at (a signed loader has one;
/// sbsign's `--addcert` style multi-signing a few).
const MAX_HEADER_ENTRIES: usize = 16;

/// Whether a PE file carries an Authenticode signature, judged from its headers without
/// reading the whole file: the certificate table directory, then the 8-byte WIN_CERTIFICATE
/// header of each table entry. `headers` is the start of the file (it must reach past the
/// optional header's data directories: the first 4 KiB hold them in every loader seen),
/// `file_len` the file's size, and `read_entry(offset, buf)` reads 8 bytes of the file at
/// `offset` (`None` when it cannot).
///
/// `Some(false)`: no certificate table at all (the directory entry is empty or absent), or
/// a well-formed table without a PKCS#7 SignedData entry. `Some(true)`: an entry of
/// revision 2 and type PKCS#7 SignedData, as [`PeImage::is_signed`] asks. `None`: not
/// known (not a PE image, headers past `headers`, a table outside the file, a malformed
/// entry, a failed read). As with `is_signed`, who signed it and whether the firmware
/// trusts the signature is not known here.
pub fn signed_from_headers(
    headers: &[u8],
    file_len: u64,
    mut read_entry: impl FnMut(u64, &mut [u8; 8]) -> Option<()>,
) -> Option<bool> {
    let h = Headers::parse(headers).ok()?;
    let (offset, size) = h.cert_dir;
    if h.security_dir_at.is_none() || size == 0 {
        return Some(false);
    }
    let (offset, size) = (u64::from(offset), u64::from(size));
    if offset < h.size_of_headers as u64 || offset + size > file_len {
        return None;
    }
    let mut at = 0u64;
    for _ in 0..MAX_HEADER_ENTRIES {
        if at >= size {
            return Some(false);
        }
        let mut entry = [0u8; 8];
        read_entry(offset + at, &mut entry)?;
        let len = u64::from(u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]));
        if len < 8 || len > size - at {
            return None;
        }
        let revision = u16::from_le_bytes([entry[4], entry[5]]);
        let kind = u16::from_le_bytes([entry[6], entry[7]]);
        if revision == CERT_REVISION_2 && kind == CERT_TYPE_PKCS_SIGNED_DATA {
            return Some(true);
        }
        // Entries are 8-byte aligned.
        at += (len + 7) & !7;
    }
    None
}

impl<'a> PeImage<'a> {
    /// Reads the headers of `bytes`.
    pub fn parse(bytes: &'a [u8]) -> Result<PeImage<'a>, PeError> {
        let h = Headers::parse(bytes)?;
        let security_dir_at = h.security_dir_at.ok_or(PeError::NoSecurityDirectory)?;
        if security_dir_at + 8 > bytes.len() {
            return Err(PeError::Truncated("optional header"));
        }
        let size_of_headers = h.size_of_headers;
        if size_of_headers > bytes.len() || size_of_headers < security_dir_at + 8 {
            return Err(PeError::Truncated("SizeOfHeaders"));
        }
        let section_count = h.section_count;
        let table = h.section_table;
        let mut sections = [(0u32, 0u32); MAX_SECTIONS];
        let mut used = 0;
        for i in 0..usize::from(section_count) {
            let at = table + 40 * i;
            let size = u32_at(bytes, at + 16).ok_or(PeError::Truncated("section table"))?;
            let offset = u32_at(bytes, at + 20).ok_or(PeError::Truncated("section table"))?;
            if size == 0 {
                continue;
            }
            if (offset as usize).saturating_add(size as usize) > bytes.len() {
                return Err(PeError::Truncated("a section"));
            }
            sections[used] = (offset, size);
            used += 1;
        }
        sections[..used].sort_unstable();
        let (offset, size) = h.cert_dir;
        let cert_table = if size == 0 {
            (0, 0)
        } else {
            // Authenticode needs the table at the end of the file, after every section
            // (signers append it; the digest stops where it starts).
            let end = (offset as usize).checked_add(size as usize);
            let last_section_end = sections[..used]
                .iter()
                .map(|&(o, s)| o as usize + s as usize)
                .max()
                .unwrap_or(0);
            if end != Some(bytes.len()) || (offset as usize) < size_of_headers.max(last_section_end)
            {
                return Err(PeError::BadCertificateTable { offset, size });
            }
            (offset, size)
        };
        Ok(PeImage {
            bytes,
            checksum_at: h.checksum_at,
            security_dir_at,
            size_of_headers,
            sections,
            section_count: used,
            cert_table,
        })
    }

    /// The image's bytes.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// File offset of the optional header's CheckSum field.
    pub fn checksum_offset(&self) -> usize {
        self.checksum_at
    }

    /// File offset of the certificate table's data directory entry (offset, size: 8 bytes).
    pub fn security_directory_offset(&self) -> usize {
        self.security_dir_at
    }

    /// The certificate table's (file offset, size), `None` when the image is unsigned.
    pub fn certificate_table(&self) -> Option<(u32, u32)> {
        (self.cert_table.1 != 0).then_some(self.cert_table)
    }

    /// Where the image's data ends: the certificate table's start, or the file's end.
    pub fn data_end(&self) -> usize {
        match self.certificate_table() {
            Some((offset, _)) => offset as usize,
            None => self.bytes.len(),
        }
    }

    /// Calls `feed` with each range of the image the Authenticode digest covers, in order:
    /// the headers less CheckSum and the certificate table entry, every section's raw data
    /// in file order, then whatever follows the last section up to the certificate table.
    pub fn digest_ranges(&self, mut feed: impl FnMut(&[u8])) {
        let b = self.bytes;
        feed(&b[..self.checksum_at]);
        feed(&b[self.checksum_at + 4..self.security_dir_at]);
        feed(&b[self.security_dir_at + 8..self.size_of_headers]);
        let mut hashed_to = self.size_of_headers;
        for &(offset, size) in &self.sections[..self.section_count] {
            let (start, end) = (offset as usize, offset as usize + size as usize);
            feed(&b[start..end]);
            hashed_to = hashed_to.max(end);
        }
        let data_end = self.data_end();
        if hashed_to < data_end {
            feed(&b[hashed_to..data_end]);
        }
    }

    /// The certificate table's entries (empty for an unsigned image).
    pub fn certificates(&self) -> Certificates<'a> {
        let (offset, size) = self.cert_table;
        let start = offset as usize;
        Certificates {
            table: self.bytes.get(start..start + size as usize).unwrap_or(&[]),
        }
    }

    /// Whether the image carries an Authenticode signature: a well-formed PKCS#7 SignedData
    /// entry in its certificate table. Says nothing about who signed it or whether the
    /// signature is valid; the firmware decides that.
    pub fn is_signed(&self) -> bool {
        self.certificates().any(|c| {
            c.is_ok_and(|c| c.revision == CERT_REVISION_2 && c.kind == CERT_TYPE_PKCS_SIGNED_DATA)
        })
    }
}

/// One WIN_CERTIFICATE of the certificate table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Certificate<'a> {
    /// wRevision.
    pub revision: u16,
    /// wCertificateType.
    pub kind: u16,
    /// bCertificate (for Authenticode: DER ContentInfo, possibly followed by padding).
    pub data: &'a [u8],
}

/// Iterator over the certificate table's entries; yields an error (and stops) at a
/// malformed entry.
#[derive(Clone, Debug)]
pub struct Certificates<'a> {
    table: &'a [u8],
}

impl<'a> Iterator for Certificates<'a> {
    type Item = Result<Certificate<'a>, PeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.table.is_empty() {
            return None;
        }
        let bad = || PeError::Truncated("a certificate table entry");
        let entry = (|| {
            let len = u32_at(self.table, 0)? as usize;
            if len < 8 || len > self.table.len() {
                return None;
            }
            let cert = Certificate {
                revision: u16_at(self.table, 4)?,
                kind: u16_at(self.table, 6)?,
                data: &self.table[8..len],
            };
            // Entries are 8-byte aligned.
            let next = len.checked_add(7)? & !7;
            Some((cert, next.min(self.table.len())))
        })();
        match entry {
            Some((cert, next)) => {
                self.table = &self.table[next..];
                Some(Ok(cert))
            }
            None => {
                self.table = &[];
                Some(Err(bad()))
            }
        }
    }
}
