//! Cross-check against an independent parser, hadris-iso (a separate no_std ISO 9660
//! implementation from crates.io): volume label and size, namespaces, every boot
//! catalog entry, and the extent and size of every file in every tree.

mod common;

use common::*;
use hadris_fs::sync::FileSystem;
use hadris_fs::{MountOptions, Resolve};
use hadris_iso::sync::IsoFs;
use hadris_iso::IsoId;
use iso9660::{Iso, Namespace};

fn mount(
    path: &std::path::Path,
    ns: hadris_iso::Namespace,
) -> IsoFs<hadris_storage::host::FileDevice> {
    let dev = hadris_storage::host::FileDevice::open(path).unwrap();
    IsoFs::mount_namespace(dev, MountOptions::new(), ns).unwrap()
}

#[test]
fn volume_and_boot_catalog_agree_with_hadris() {
    for (name, path, bytes) in all_isos() {
        let mut ours = Iso::open(&bytes[..]).unwrap();
        let mut theirs = mount(&path, hadris_iso::Namespace::Primary);
        let info = theirs.info();
        assert_eq!(
            ours.volume().label().as_bytes(),
            info.id(IsoId::Volume),
            "{name}: label"
        );
        assert_eq!(
            ours.volume().volume_space_size,
            info.volume_space_size(),
            "{name}: blocks"
        );
        let ns = theirs.namespaces();
        assert_eq!(
            ours.has_rock_ridge(),
            ns.contains(hadris_iso::Namespace::RockRidge),
            "{name}: RR"
        );
        assert_eq!(
            ours.joliet_level().is_some(),
            ns.contains(hadris_iso::Namespace::Joliet),
            "{name}: Joliet"
        );

        let mut buf = vec![0u8; 65536];
        let their_cat = theirs.boot_catalog(&mut buf).unwrap();
        let our_cat = ours.boot_catalog().unwrap();
        assert_eq!(
            our_cat.map(|c| c.lba),
            their_cat.map(|c| c.block()),
            "{name}: catalog"
        );
        let (Some(our_cat), Some(their_cat)) = (our_cat, their_cat) else {
            continue;
        };
        assert_eq!(
            our_cat.id_string().as_bytes(),
            their_cat.id_string(),
            "{name}: catalog id"
        );
        let our_entries: Vec<_> = our_cat
            .entries(ours.reader())
            .collect::<Result<_, _>>()
            .unwrap();
        let their_entries: Vec<_> = their_cat.entries().collect();
        assert_eq!(our_entries.len(), their_entries.len(), "{name}: entries");
        for (o, t) in our_entries.iter().zip(&their_entries) {
            let ctx = format!("{name} entry {}", o.index);
            assert_eq!(o.platform.0, t.platform().id(), "{ctx}: platform");
            assert_eq!(o.bootable, t.is_bootable(), "{ctx}: bootable");
            assert_eq!(
                o.emulation().0,
                t.emulation().map_or(0xFF, |e| e.media_type()),
                "{ctx}: emulation"
            );
            assert_eq!(o.load_segment, t.load_segment(), "{ctx}: load segment");
            assert_eq!(o.sector_count, t.sector_count(), "{ctx}: sector count");
            assert_eq!(o.load_rba, t.load_block(), "{ctx}: load RBA");
            assert_eq!(o.system_type, t.raw().system_type, "{ctx}: system type");
            assert_eq!(
                o.section.map(|s| usize::from(s.index)),
                t.section(),
                "{ctx}: section"
            );
        }
    }
}

#[test]
fn every_file_agrees_with_hadris() {
    for (name, path, bytes) in all_isos() {
        let mut ours = Iso::open(&bytes[..]).unwrap();
        for (ns, hns) in [
            (Namespace::RockRidge, hadris_iso::Namespace::RockRidge),
            (Namespace::Joliet, hadris_iso::Namespace::Joliet),
            (Namespace::Plain, hadris_iso::Namespace::Primary),
        ] {
            if ours.root(ns).is_none() {
                continue;
            }
            let mut theirs = mount(&path, hns);
            let files = walk_files(&mut ours, ns);
            assert!(!files.is_empty(), "{name} {ns:?}");
            for (p, (lba, size)) in files {
                let node = theirs
                    .resolve(p.as_bytes(), Resolve::Lexical)
                    .unwrap_or_else(|e| panic!("{name} {ns:?}: hadris cannot find {p}: {e}"));
                let meta = theirs.stat(node).unwrap();
                assert_eq!(meta.len(), u64::from(size), "{name} {ns:?} {p}: size");
                let mut ext = [hadris_fs::Extent::new(0, 0); 4];
                let n = theirs.extents(node, 0, &mut ext).unwrap();
                if size > 0 {
                    assert!(n >= 1, "{name} {ns:?} {p}: no extent");
                    assert_eq!(
                        ext[0].offset(),
                        u64::from(lba) * 2048,
                        "{name} {ns:?} {p}: extent"
                    );
                }
                theirs.forget(node, 1);
            }
        }
    }
}
