//! Round trips, hostile input and slot selection of the index format.

use bootshelf_index::{
    decode, encode, raw, select, ArchSet, BootEntry, DecodeError, EfiArch, EfiLoaders, Emulation,
    Extensions, Extent, Index, IsoEntry, KernelOptions, PlatformId, Settings, Slot, SlotError,
    Timeout,
};
use testkit::Rng;

fn iso(i: usize) -> IsoEntry {
    IsoEntry {
        path: format!("/isos/distro-{i}.iso"),
        size: 1_000_000 + i as u64 * 4096,
        sha256: if i.is_multiple_of(3) {
            None
        } else {
            Some([i as u8; 32])
        },
        label: format!("LABEL_{i}"),
        title: if i.is_multiple_of(2) {
            Some(format!("Distro {i} \u{e9}dition"))
        } else {
            None
        },
        extents: if i.is_multiple_of(5) {
            vec![
                Extent {
                    start: 1 << 20,
                    len: 4096,
                },
                Extent {
                    start: 8 << 20,
                    len: 1_000_000 + i as u64 * 4096,
                },
            ]
        } else {
            vec![Extent {
                start: (i as u64 + 1) << 30,
                len: 1_000_000 + i as u64 * 4096,
            }]
        },
        boot: vec![
            BootEntry {
                platform: PlatformId::X86,
                emulation: Emulation::NONE,
                bootable: true,
                system_type: 0,
                load_segment: 0,
                sector_count: 4,
                load_rba: 30 + i as u32,
                image_size: 2048,
                efi: EfiLoaders::default(),
            },
            BootEntry {
                platform: PlatformId::EFI,
                emulation: Emulation::NONE,
                bootable: !i.is_multiple_of(4),
                system_type: 0xEF,
                load_segment: 0x7C0,
                sector_count: 1,
                load_rba: 40,
                image_size: 2_949_120,
                efi: EfiLoaders {
                    arches: (!i.is_multiple_of(3)).then(|| ArchSet::from_bits(i as u8 & 7)),
                    signed: None,
                },
            },
        ],
        extensions: Extensions {
            kernel_options: i.is_multiple_of(2).then(|| KernelOptions {
                sha256: [i as u8; 32],
                append: format!("nomodeset console=ttyS{i}"),
                remove: if i.is_multiple_of(4) {
                    vec!["quiet".into(), "splash=\u{e9}".into()]
                } else {
                    Vec::new()
                },
            }),
            persistence: (i % 3 == 1).then(|| bootshelf_index::Persistence {
                family: bootshelf_index::PersistenceFamily::LiveBoot,
                path: format!("/bootshelf/persistence/distro-{i}.ext4"),
                start: (i as u64 + 2) << 30,
                size: 64 << 20,
            }),
            unknown: if i.is_multiple_of(7) {
                vec![(0x7777, vec![i as u8; i % 5]), (2, Vec::new())]
            } else {
                Vec::new()
            },
        },
    }
}

fn sample(n: usize) -> Index {
    Index {
        generation: 42,
        settings: Settings {
            timeout: Timeout::Seconds(7),
            default: Some("/isos/distro-1.iso".into()),
            boot_next: Some("/isos/distro-2.iso".into()),
        },
        isos: (0..n).map(iso).collect(),
    }
}

#[test]
fn round_trip_keeps_every_field() {
    for n in [0, 1, 7] {
        let idx = sample(n);
        let bytes = encode(&idx).unwrap();
        assert_eq!(&bytes[..8], b"BSHLFIDX");
        assert_eq!(decode(&bytes).unwrap(), idx);
    }
    let mut idx = sample(2);
    idx.settings = Settings {
        timeout: Timeout::Never,
        default: None,
        boot_next: None,
    };
    assert_eq!(decode(&encode(&idx).unwrap()).unwrap(), idx);
}

#[test]
fn header_fields_sit_at_documented_offsets() {
    let idx = sample(3);
    let b = encode(&idx).unwrap();
    assert_eq!(u16::from_le_bytes([b[8], b[9]]), raw::VERSION);
    assert_eq!(u16::from_le_bytes([b[10], b[11]]), 64);
    assert_eq!(u64::from_le_bytes(b[16..24].try_into().unwrap()), 42);
    assert_eq!(
        u32::from_le_bytes(b[24..28].try_into().unwrap()) as usize,
        b.len()
    );
    assert_eq!(u32::from_le_bytes(b[28..32].try_into().unwrap()), 3);
    assert_eq!(u16::from_le_bytes([b[32], b[33]]), 7);
    // Settings block: u16 length + "/isos/distro-1.iso".
    assert_eq!(u16::from_le_bytes([b[64], b[65]]), 18);
    assert_eq!(&b[66..84], b"/isos/distro-1.iso");
    // CRC over the file with the CRC field zeroed.
    let mut z = b.clone();
    z[12..16].fill(0);
    let stored = u32::from_le_bytes(b[12..16].try_into().unwrap());
    assert_eq!(bootshelf_index::crc32::crc32(&z), stored);
}

#[test]
fn boot_entries_store_platform_and_emulation_bytes_as_is() {
    // iso9660's catalog types, with codes no specification names yet: the 24-byte record
    // holds their bytes at the documented offsets, and they decode unchanged.
    let mut idx = sample(1);
    idx.isos[0].boot = vec![BootEntry {
        platform: iso9660::PlatformId(0x7A),
        emulation: iso9660::Emulation(0x09),
        bootable: true,
        system_type: 0x83,
        load_segment: 0x1234,
        sector_count: 0x5678,
        load_rba: 0x9ABC_DEF0,
        image_size: 0x0102_0304_0506_0708,
        efi: EfiLoaders::default(),
    }];
    let b = encode(&idx).unwrap();
    let mut want = [0u8; raw::boot::SIZE];
    want[raw::boot::PLATFORM] = 0x7A;
    want[raw::boot::EMULATION] = 0x09;
    want[raw::boot::SYSTEM_TYPE] = 0x83;
    want[raw::boot::FLAGS] = raw::boot::FLAG_BOOTABLE;
    want[raw::boot::LOAD_SEGMENT..][..2].copy_from_slice(&0x1234u16.to_le_bytes());
    want[raw::boot::SECTOR_COUNT..][..2].copy_from_slice(&0x5678u16.to_le_bytes());
    want[raw::boot::LOAD_RBA..][..4].copy_from_slice(&0x9ABC_DEF0u32.to_le_bytes());
    want[raw::boot::IMAGE_SIZE..][..8].copy_from_slice(&0x0102_0304_0506_0708u64.to_le_bytes());
    assert_eq!(
        b.windows(want.len()).filter(|w| *w == want).count(),
        1,
        "the boot entry's 24 bytes"
    );
    let back = decode(&b).unwrap();
    assert_eq!(back.isos[0].boot[0].platform, iso9660::PlatformId(0x7A));
    assert_eq!(back.isos[0].boot[0].emulation, iso9660::Emulation(0x09));
    assert_eq!(back, idx);
}

#[test]
fn efi_architectures_are_bytes_12_to_14_of_a_boot_entry() {
    let entry = |efi| BootEntry {
        platform: iso9660::PlatformId::EFI,
        emulation: iso9660::Emulation::NONE,
        bootable: true,
        system_type: 0,
        load_segment: 0,
        sector_count: 1,
        load_rba: 0x55,
        image_size: 0x66,
        efi,
    };
    let aa64_x64 = ArchSet::from_bits(EfiArch::X64.bit() | EfiArch::Aa64.bit());
    for (efi, b12, b13, b14) in [
        (EfiLoaders::default(), 0, 0, 0),
        (
            EfiLoaders {
                arches: Some(aa64_x64),
                signed: None,
            },
            0b101,
            0,
            1,
        ),
        (
            EfiLoaders {
                arches: Some(ArchSet::EMPTY),
                signed: None,
            },
            0,
            0,
            1,
        ),
        (
            EfiLoaders {
                arches: Some(aa64_x64),
                signed: Some(ArchSet::from_bits(EfiArch::X64.bit())),
            },
            0b101,
            0b001,
            3,
        ),
    ] {
        let mut idx = sample(1);
        idx.isos[0].boot = vec![entry(efi)];
        let b = encode(&idx).unwrap();
        let at = b
            .windows(4)
            .position(|w| w == [0x55, 0, 0, 0])
            .expect("load_rba");
        let e = at - raw::boot::LOAD_RBA;
        assert_eq!(
            &b[e + raw::boot::EFI_ARCHES..e + raw::boot::IMAGE_SIZE],
            &[b12, b13, b14, 0],
            "{efi:?}"
        );
        assert_eq!(decode(&b).unwrap(), idx);
    }
}

#[test]
fn trailing_bytes_after_total_len_are_ignored() {
    let idx = sample(2);
    let mut b = encode(&idx).unwrap();
    b.extend_from_slice(&[0xAA; 4096]);
    assert_eq!(decode(&b).unwrap(), idx);
}

#[test]
fn every_truncation_is_an_error_not_a_panic() {
    let b = encode(&sample(4)).unwrap();
    for n in 0..b.len() {
        assert!(decode(&b[..n]).is_err(), "prefix of {n} bytes decoded");
    }
}

#[test]
fn every_single_bit_flip_is_detected() {
    let b = encode(&sample(3)).unwrap();
    for i in 0..b.len() {
        for bit in 0..8 {
            let mut m = b.clone();
            m[i] ^= 1 << bit;
            assert!(decode(&m).is_err(), "flip of byte {i} bit {bit} accepted");
        }
    }
}

/// Re-checksum a mutated file so the structural checks, not the CRC, are exercised.
fn fix_crc(b: &mut [u8]) {
    b[12..16].fill(0);
    let total = (u32::from_le_bytes(b[24..28].try_into().unwrap()) as usize).min(b.len());
    let c = bootshelf_index::crc32::crc32(&b[..total]);
    b[12..16].copy_from_slice(&c.to_le_bytes());
}

#[test]
fn structural_errors_name_offsets() {
    let good = encode(&sample(1)).unwrap();

    let mut b = good.clone();
    b[0] = b'X';
    assert!(matches!(decode(&b), Err(DecodeError::BadMagic { .. })));

    let mut b = good.clone();
    b[8] = 2;
    fix_crc(&mut b);
    assert_eq!(
        decode(&b),
        Err(DecodeError::UnsupportedVersion { version: 2 })
    );

    // A huge iso_count is refused before allocating.
    let mut b = good.clone();
    b[28..32].copy_from_slice(&u32::MAX.to_le_bytes());
    fix_crc(&mut b);
    assert_eq!(
        decode(&b),
        Err(DecodeError::BadLength {
            offset: 28,
            value: u32::MAX as u64
        })
    );

    // Records start after the header (64) and the settings block.
    let rec = 64 + u32::from_le_bytes(good[36..40].try_into().unwrap()) as usize;
    let mut b = good.clone();
    b[rec + 56..rec + 60].copy_from_slice(&0x1000_0000u32.to_le_bytes()); // extent_count
    fix_crc(&mut b);
    assert!(matches!(decode(&b), Err(DecodeError::BadLength { offset, .. }) if offset == rec));

    // Path that is not absolute.
    let mut b = good.clone();
    b[rec + 64] = b'x';
    fix_crc(&mut b);
    assert_eq!(decode(&b), Err(DecodeError::BadPath { offset: rec + 64 }));

    // Invalid UTF-8 in the path.
    let mut b = good.clone();
    b[rec + 65] = 0xFF;
    fix_crc(&mut b);
    assert_eq!(decode(&b), Err(DecodeError::BadUtf8 { offset: rec + 64 }));

    // Size larger than the extents cover.
    let mut b = good.clone();
    b[rec + 8..rec + 16].copy_from_slice(&u64::MAX.to_le_bytes());
    fix_crc(&mut b);
    assert!(matches!(decode(&b), Err(DecodeError::BadExtents { offset, .. }) if offset == rec));
}

#[test]
fn random_mutations_with_valid_crc_never_panic() {
    let good = encode(&sample(5)).unwrap();
    let mut rng = Rng::new(0x9E37_79B9_7F4A_7C15);
    let mut accepted = 0;
    for _ in 0..20_000 {
        let mut b = good.clone();
        for _ in 0..1 + rng.next_u64() % 4 {
            let i = (rng.next_u64() as usize) % b.len();
            b[i] = rng.next_u64() as u8;
        }
        if rng.next_u64().is_multiple_of(4) {
            let n = (rng.next_u64() as usize) % b.len();
            b.truncate(n.max(64));
        }
        fix_crc(&mut b);
        if let Ok(idx) = decode(&b) {
            accepted += 1;
            // Whatever decodes must encode again and decode to the same thing.
            let again = encode(&idx).unwrap();
            assert_eq!(decode(&again).unwrap(), idx);
        }
    }
    // Mutations of labels, hashes, boot entries are legal: some must be accepted.
    assert!(accepted > 0);
}

#[test]
fn thousand_isos_decode_fast() {
    let idx = sample(1000);
    let b = encode(&idx).unwrap();
    let t = std::time::Instant::now();
    let rounds = 20;
    for _ in 0..rounds {
        assert_eq!(decode(&b).unwrap().isos.len(), 1000);
    }
    let per = t.elapsed() / rounds;
    eprintln!("index of 1000 ISOs: {} bytes, decoded in {per:?}", b.len());
    // Generous even for a debug build on a loaded machine; the release figure is ~100x less.
    assert!(per < std::time::Duration::from_millis(200), "{per:?}");
}

#[test]
fn select_takes_newest_valid_and_writes_the_other() {
    let mut i1 = sample(1);
    i1.generation = 5;
    let mut i2 = sample(2);
    i2.generation = 6;
    let a = encode(&i1).unwrap();
    let b = encode(&i2).unwrap();

    let s = select(Some(&a), Some(&b));
    let (slot, idx) = s.current.clone().unwrap();
    assert_eq!((slot, idx.generation), (Slot::B, 6));
    assert_eq!(s.slot_to_write(), Slot::A);
    assert_eq!(s.next_generation(), 7);

    // B torn mid-write: A is used, and B (not A) is overwritten next.
    let s = select(Some(&a), Some(&b[..b.len() / 2]));
    assert_eq!(s.current.as_ref().unwrap().0, Slot::A);
    assert!(matches!(s.b_error, Some(SlotError::Invalid(_))));
    assert_eq!(s.slot_to_write(), Slot::B);
    assert_eq!(s.next_generation(), 6);

    let s = select(None, None);
    assert!(s.current.is_none());
    assert_eq!(s.a_error, Some(SlotError::Missing));
    assert_eq!(s.slot_to_write(), Slot::A);
    assert_eq!(s.next_generation(), 1);
    assert_eq!(s.index(), Index::default());
    assert_eq!(Slot::A.path(), "/bootshelf/index.a");
    assert_eq!(Slot::B.path(), "/bootshelf/index.b");
}

#[test]
fn index_helpers() {
    let mut idx = sample(3);
    assert_eq!(idx.find("/ISOS/DISTRO-1.ISO").unwrap().size, iso(1).size);
    assert_eq!(idx.preselected().unwrap().path, "/isos/distro-2.iso");
    idx.remove("/isos/distro-2.iso").unwrap();
    assert_eq!(idx.settings.boot_next, None);
    assert_eq!(idx.preselected().unwrap().path, "/isos/distro-1.iso");
    let mut e = iso(1);
    e.title = Some("new".into());
    idx.upsert(e);
    assert_eq!(idx.isos.len(), 2);
    assert_eq!(
        idx.find("/isos/distro-1.iso").unwrap().display_title(),
        "new"
    );
    assert_eq!(idx.isos[0].display_title(), "Distro 0 \u{e9}dition");
    assert!(idx.isos[0].boots_on(PlatformId::X86));
    assert!(!idx.isos[0].boots_on(PlatformId::EFI));
    assert!(!idx.isos[0].is_contiguous());
}

#[test]
fn encode_refuses_what_it_cannot_represent() {
    let mut idx = sample(1);
    idx.isos[0].path = "relative.iso".into();
    assert!(encode(&idx).is_err());
    let mut idx = sample(1);
    idx.isos[0].size = u64::MAX;
    assert!(encode(&idx).is_err());
    let mut idx = sample(1);
    idx.isos[0].label = "x".repeat(70_000);
    assert!(encode(&idx).is_err());
}

#[test]
fn kernel_options_apply_only_to_the_iso_they_were_saved_for() {
    let mut e = iso(2);
    assert_eq!(
        e.kernel_options().map(|o| o.append.as_str()),
        Some("nomodeset console=ttyS2")
    );
    e.sha256 = Some([9; 32]);
    assert_eq!(e.kernel_options(), None);
    e.sha256 = None;
    assert_eq!(e.kernel_options(), None);
}

#[test]
fn a_bad_extension_length_is_named() {
    let mut idx = sample(1);
    idx.isos[0].extensions.unknown = vec![(9, vec![1, 2, 3])];
    let mut bytes = encode(&idx).unwrap();
    // The TLV's length is the 4 bytes before its 3 data bytes at the record's end.
    let at = bytes.len() - 3 - 4;
    bytes[at..at + 4].copy_from_slice(&100u32.to_le_bytes());
    let crc = bootshelf_index::crc32::crc32(&{
        let mut b = bytes.clone();
        b[12..16].fill(0);
        b
    });
    bytes[12..16].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(
        decode(&bytes),
        Err(DecodeError::BadLength {
            offset: at,
            value: 100
        })
    );
}
