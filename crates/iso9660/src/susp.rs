//! System Use Sharing Protocol (SUSP 1.12) and the Rock Ridge entries this crate uses
//! (RRIP 1.12): walking a record's system use area and its continuation areas (CE),
//! collecting the alternate name (NM), child link (CL) and relocated mark (RE).

use crate::descriptor::validate_extent;
use crate::dir::Name;
use crate::error::{read_at, Error, Result};
use crate::raw::SECTOR_SIZE;
use blockdev::ReadAt;

/// At most this many continuation areas are followed for one record (a CE chain
/// pointing at itself would otherwise never end).
pub const MAX_CONTINUATIONS: u32 = 16;

/// What the system use area of one directory record says.
#[derive(Clone, Debug, Default)]
pub struct RockRidge {
    /// The NM name, when the record has one.
    pub name: Option<Name>,
    /// CL: this record stands for a directory relocated to this block.
    pub child_link: Option<u32>,
    /// RE: this directory was relocated here; it is listed under its real parent.
    pub relocated: bool,
    /// PX, RR, NM or other RRIP entries were seen.
    pub any: bool,
    /// SP was seen: its LEN_SKP byte.
    pub sp_skip: Option<u8>,
    /// ER with an RRIP identifier ("RRIP_1991A", "IEEE_P1282", "IEEE_1282").
    pub rrip_extension: bool,
}

/// Call `f(signature, version, data, offset)` for every entry of the system use area
/// `area` (which sits at image byte `area_offset`) and the continuation areas it chains
/// to, up to an ST entry or the end.
pub fn walk<R: ReadAt + ?Sized>(
    r: &mut R,
    area: &[u8],
    area_offset: u64,
    ce_buf: &mut [u8; SECTOR_SIZE],
    mut f: impl FnMut([u8; 2], u8, &[u8], u64) -> Result<()>,
) -> Result<()> {
    let mut next = walk_area(area, area_offset, &mut f)?;
    let mut hops = 0;
    while let Some((lba, off, len, ce_offset)) = next {
        hops += 1;
        if hops > MAX_CONTINUATIONS {
            return Err(Error::AbsurdSize {
                offset: ce_offset,
                value: u64::from(hops),
                limit: u64::from(MAX_CONTINUATIONS),
            });
        }
        let (off, len) = (off as usize, len as usize);
        if off.checked_add(len).is_none_or(|end| end > SECTOR_SIZE) {
            return Err(Error::BadSystemUseEntry {
                offset: ce_offset,
                signature: *b"CE",
                len: 28,
            });
        }
        validate_extent(ce_offset, lba, SECTOR_SIZE as u64, r.len())?;
        let start = u64::from(lba) * SECTOR_SIZE as u64;
        read_at(r, start, &mut ce_buf[..])?;
        let (_, rest) = ce_buf.split_at(off);
        let (cont, _) = rest.split_at(len);
        next = walk_area(cont, start + off as u64, &mut f)?;
    }
    Ok(())
}

/// One area; returns the CE continuation it names (block, offset, length, entry offset).
fn walk_area(
    area: &[u8],
    area_offset: u64,
    f: &mut impl FnMut([u8; 2], u8, &[u8], u64) -> Result<()>,
) -> Result<Option<(u32, u32, u32, u64)>> {
    let mut pos = 0usize;
    let mut ce = None;
    // SUSP 4: an entry needs at least 4 bytes; fewer left over is padding.
    while pos + 4 <= area.len() {
        let e = &area[pos..];
        let sig = [e[0], e[1]];
        let len = e[2];
        let offset = area_offset + pos as u64;
        if sig == [0, 0] {
            break; // zero padding
        }
        if usize::from(len) < 4 || usize::from(len) > e.len() {
            return Err(Error::BadSystemUseEntry {
                offset,
                signature: sig,
                len,
            });
        }
        let entry = &e[..usize::from(len)];
        match &sig {
            b"ST" => break,
            b"CE" => {
                if len < 28 {
                    return Err(Error::BadSystemUseEntry {
                        offset,
                        signature: sig,
                        len,
                    });
                }
                let g = |at: usize| crate::raw::u32_le(entry, at);
                ce = Some((g(4), g(12), g(20), offset));
            }
            _ => f(sig, entry[3], &entry[4..], offset)?,
        }
        pos += usize::from(len);
    }
    Ok(ce)
}

impl RockRidge {
    /// Collect the Rock Ridge facts of one record's system use area.
    pub fn read<R: ReadAt + ?Sized>(
        r: &mut R,
        area: &[u8],
        area_offset: u64,
        ce_buf: &mut [u8; SECTOR_SIZE],
        record_offset: u64,
    ) -> Result<Self> {
        let mut rr = RockRidge::default();
        let mut name = Name::new();
        let mut name_open = false; // an NM with CONTINUE was seen
        let mut name_done = false;
        walk(r, area, area_offset, ce_buf, |sig, _ver, data, offset| {
            match &sig {
                b"SP" => {
                    if data.len() < 3 || data[0] != 0xBE || data[1] != 0xEF {
                        return Err(Error::BadSystemUseEntry {
                            offset,
                            signature: sig,
                            len: (data.len() + 4) as u8,
                        });
                    }
                    rr.sp_skip = Some(data[2]);
                }
                b"ER" => {
                    // ER: LEN_ID (4), LEN_DES, LEN_SRC, EXT_VER, then the identifier.
                    if let (Some(&len_id), Some(id_area)) = (data.first(), data.get(4..)) {
                        let id = id_area.get(..usize::from(len_id)).unwrap_or(&[]);
                        if id == b"RRIP_1991A" || id == b"IEEE_P1282" || id == b"IEEE_1282" {
                            rr.rrip_extension = true;
                        }
                    }
                }
                b"NM" if !name_done => {
                    rr.any = true;
                    let flags = *data.first().ok_or(Error::BadSystemUseEntry {
                        offset,
                        signature: sig,
                        len: 4,
                    })?;
                    if flags & 0x02 != 0 {
                        name.push(b".", record_offset)?;
                    } else if flags & 0x04 != 0 {
                        name.push(b"..", record_offset)?;
                    } else {
                        name.push(&data[1..], record_offset)?;
                    }
                    name_open = flags & 0x01 != 0;
                    name_done = !name_open;
                }
                b"CL" => {
                    rr.any = true;
                    if data.len() < 8 {
                        return Err(Error::BadSystemUseEntry {
                            offset,
                            signature: sig,
                            len: (data.len() + 4) as u8,
                        });
                    }
                    rr.child_link = Some(crate::raw::u32_le(data, 0));
                }
                b"RE" => {
                    rr.any = true;
                    rr.relocated = true;
                }
                b"PX" | b"RR" | b"TF" | b"SL" | b"PN" | b"PL" => rr.any = true,
                _ => {}
            }
            Ok(())
        })?;
        if name_done || name_open {
            rr.name = Some(name);
        }
        Ok(rr)
    }
}
