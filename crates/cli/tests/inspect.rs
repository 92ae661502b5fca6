//! `bootshelf inspect` through the built binary: its JSON agrees field by field with
//! `xorriso -report_el_torito plain`, `-pvd_info` and `-report_system_area plain` on
//! every fixture ISO (xorriso, grub-mkrescue, isolinux, Debian's own ISOs); the text
//! form shows the same; broken input gives an error naming the problem and its offset.

use serde_json::Value;
use std::path::Path;
use testkit::cli::run as bootshelf;

fn inspect_json(paths: &[&Path]) -> (Value, i32) {
    let mut args = vec!["inspect", "--json"];
    args.extend(paths.iter().map(|p| p.to_str().unwrap()));
    let out = bootshelf(&args);
    let v: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    (v, out.code().unwrap())
}

fn xorriso(args: &[&str]) -> String {
    fixtures::xorriso(args).unwrap()
}

/// (key, fields) of every "Key : fields" line of an xorriso report.
fn report(iso: &Path, what: &[&str]) -> Vec<(String, Vec<String>)> {
    let mut args = vec!["-indev", iso.to_str().unwrap()];
    args.extend(what);
    xorriso(&args)
        .lines()
        .filter_map(|l| l.split_once(" : ").or_else(|| l.split_once(':')))
        .map(|(k, v)| {
            (
                k.trim().to_string(),
                v.split_whitespace().map(str::to_string).collect(),
            )
        })
        .collect()
}

#[test]
fn json_agrees_with_xorriso_field_by_field() {
    let all = fixtures::iso::all().unwrap();
    let paths: Vec<&Path> = all.iter().map(|(_, p)| p.as_path()).collect();
    let (doc, code) = inspect_json(&paths);
    assert_eq!(doc["version"], 1);
    let isos = doc["isos"].as_array().unwrap();
    // Some fixtures (`plain`) have no boot catalog: the command found a problem.
    let all_boot = isos
        .iter()
        .all(|j| j["bios_bootable"] == true || j["uefi_bootable"] == true);
    assert!(!all_boot, "the fixtures include ISOs that do not boot");
    assert_eq!(code, 1, "an ISO that does not boot is a problem found");
    assert_eq!(isos.len(), all.len());
    for ((name, path), j) in all.iter().zip(isos) {
        assert_eq!(j["error"], Value::Null, "{name}");
        assert_eq!(j["path"], path.to_str().unwrap());
        assert_eq!(
            j["size"],
            std::fs::metadata(path).unwrap().len(),
            "{name}: size"
        );

        let pvd = report(path, &["-pvd_info"]);
        let get = |k: &str| {
            pvd.iter()
                .find(|(key, _)| key == k)
                .map(|(_, v)| v.join(" "))
        };
        assert_eq!(
            j["label"].as_str(),
            get("Volume Id").as_deref(),
            "{name}: label"
        );
        let modif = get("Modif. Time").unwrap();
        let uuid = format!(
            "{}-{}-{}-{}-{}-{}-{}",
            &modif[0..4],
            &modif[4..6],
            &modif[6..8],
            &modif[8..10],
            &modif[10..12],
            &modif[12..14],
            &modif[14..16]
        );
        assert_eq!(j["grub_uuid"], uuid, "{name}: GRUB UUID");

        let et = report(path, &["-report_el_torito", "plain"]);
        let imgs: Vec<&Vec<String>> = et
            .iter()
            .filter(|(k, _)| k == "El Torito boot img")
            .map(|(_, v)| v)
            .collect();
        let entries = j["boot_entries"].as_array().unwrap();
        assert_eq!(entries.len(), imgs.len(), "{name}: boot entries");
        let cat = et.iter().find(|(k, _)| k == "El Torito catalog");
        assert_eq!(
            j["boot_catalog"]["lba"].as_u64(),
            cat.map(|(_, v)| v[0].parse::<u64>().unwrap()),
            "{name}: catalog"
        );
        for (e, x) in entries.iter().zip(&imgs) {
            let ctx = format!("{name} entry {}", x[0]);
            let platform = match x[1].as_str() {
                "BIOS" => "x86",
                "UEFI" => "efi",
                "PPC" => "powerpc",
                "Mac" => "mac",
                other => other,
            };
            assert_eq!(e["platform"], platform, "{ctx}");
            assert_eq!(e["bootable"], x[2] == "y", "{ctx}");
            let emu = match x[3].as_str() {
                "none" => "none",
                "fd1.2" => "floppy-1.2m",
                "fd1.4" => "floppy-1.44m",
                "fd2.8" => "floppy-2.88m",
                "hd" => "hard-disk",
                other => other,
            };
            assert_eq!(e["emulation"], emu, "{ctx}");
            assert_eq!(
                format!("{:#06x}", e["load_segment"].as_u64().unwrap()),
                x[4],
                "{ctx}"
            );
            assert_eq!(
                format!("{:#04x}", e["system_type"].as_u64().unwrap()),
                x[5],
                "{ctx}"
            );
            assert_eq!(e["sector_count"].to_string(), x[6], "{ctx}");
            assert_eq!(e["load_rba"].to_string(), x[7], "{ctx}");
            let img_path = et
                .iter()
                .find(|(k, v)| k == "El Torito img path" && v[0] == x[0])
                .map(|(_, v)| v[1..].join(" "));
            match img_path {
                Some(p) => assert!(
                    e["image_path"].as_str().unwrap().eq_ignore_ascii_case(&p),
                    "{ctx}: {} vs {p}",
                    e["image_path"]
                ),
                None => assert_eq!(e["image_path"], Value::Null, "{ctx}"),
            }
            if let Some((_, b)) = et
                .iter()
                .find(|(k, v)| k == "El Torito img blks" && v[0] == x[0])
            {
                let blocks: u64 = b[1].parse().unwrap();
                assert_eq!(
                    e["image_size"].as_u64().unwrap().div_ceil(2048),
                    blocks,
                    "{ctx}"
                );
            }
        }
        let bios = imgs.iter().any(|x| x[1] == "BIOS" && x[2] == "y");
        let uefi = imgs.iter().any(|x| x[1] == "UEFI" && x[2] == "y");
        assert_eq!(j["bios_bootable"], bios, "{name}: BIOS bootable");
        assert_eq!(j["uefi_bootable"], uefi, "{name}: UEFI bootable");

        let sa = report(path, &["-report_system_area", "plain"]);
        let mbr: Vec<&Vec<String>> = sa
            .iter()
            .filter(|(k, _)| k == "MBR partition")
            .map(|(_, v)| v)
            .collect();
        let gpt_count = sa.iter().filter(|(k, _)| k == "GPT start and size").count();
        let parts = j["hybrid"]["partitions"].as_array().unwrap();
        let ours_mbr: Vec<&Value> = parts.iter().filter(|p| p["table"] == "mbr").collect();
        assert_eq!(ours_mbr.len(), mbr.len(), "{name}: MBR partitions");
        for (o, x) in ours_mbr.iter().zip(&mbr) {
            assert_eq!(o["number"].to_string(), x[0], "{name}");
            assert_eq!(o["active"], x[1] == "0x80", "{name}");
            assert_eq!(o["type"], x[2], "{name}");
            assert_eq!(o["start"].to_string(), x[3], "{name}");
            assert_eq!(o["sectors"].to_string(), x[4], "{name}");
        }
        assert_eq!(
            parts.iter().filter(|p| p["table"] == "gpt").count(),
            gpt_count,
            "{name}: GPT"
        );
        assert_eq!(
            j["hybrid"]["hybrid"],
            !mbr.is_empty() || gpt_count > 0,
            "{name}: hybrid"
        );
    }
}

#[test]
fn appended_partitions_and_hints() {
    let (doc, _) = inspect_json(&[
        &fixtures::iso::appended_esp().unwrap(),
        &fixtures::iso::memtest().unwrap(),
        &fixtures::iso::grub_mkrescue().unwrap(),
        &fixtures::iso::isolinux().unwrap(),
    ]);
    let isos = doc["isos"].as_array().unwrap();
    assert_eq!(
        isos[0]["hybrid"]["appended_partitions"],
        serde_json::json!([2])
    );
    assert_eq!(
        isos[1]["hybrid"]["appended_partitions"],
        serde_json::json!([2])
    );
    assert_eq!(
        isos[2]["hybrid"]["appended_partitions"],
        serde_json::json!([])
    );
    // The EFI image of memtest86+ lies in the appended partition: sized from its FAT.
    let efi = &isos[1]["boot_entries"][1];
    assert_eq!(efi["platform"], "efi");
    assert_eq!(efi["image_path"], Value::Null);
    assert_eq!(efi["image_size"], 8192 * 512);
    assert_eq!(isos[2]["hints"], serde_json::json!(["grub"]));
    assert_eq!(
        isos[3]["hints"],
        serde_json::json!(["debian-live", "isolinux"])
    );
    assert_eq!(isos[3]["rock_ridge"], true);
    assert_eq!(isos[3]["joliet_level"], 3);
}

#[test]
fn text_output_lists_every_entry() {
    let p = fixtures::iso::multi_section().unwrap();
    let out = bootshelf(&["inspect", p.to_str().unwrap()]);
    assert!(out.success());
    let text = out.stdout;
    for want in [
        "label        BOOTSHELF_TEST",
        "BIOS boot    yes",
        "UEFI boot    yes",
        "floppy-1.44m",
        "hard-disk",
        "/boot/efi2.img",
        "mac",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert_eq!(
        text.lines().filter(|l| l.contains(" yes   ")).count(),
        6,
        "{text}"
    );
}

#[test]
fn broken_input_names_the_problem_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.iso");
    std::fs::write(&junk, vec![0x41u8; 40_000]).unwrap();
    let mut bad_sum = std::fs::read(fixtures::iso::bios_only().unwrap()).unwrap();
    // The boot record's catalog pointer, then a byte of the catalog's validation entry.
    let cat = u32::from_le_bytes(bad_sum[17 * 2048 + 71..17 * 2048 + 75].try_into().unwrap());
    bad_sum[cat as usize * 2048 + 5] ^= 1;
    let bad = dir.path().join("bad-checksum.iso");
    std::fs::write(&bad, &bad_sum).unwrap();
    let good = fixtures::iso::bios_only().unwrap();
    let missing = dir.path().join("missing.iso");

    let (doc, code) = inspect_json(&[&junk, &bad, &good, &missing]);
    assert_eq!(
        code, 2,
        "a file that cannot be opened is an error, over the ISOs found broken (1)"
    );
    let isos = doc["isos"].as_array().unwrap();
    let err = |i: usize| isos[i]["error"].as_str().unwrap_or("").to_string();
    assert!(
        err(0).contains("not an ISO 9660 image") && err(0).contains("32768"),
        "{}",
        err(0)
    );
    assert!(
        err(1).contains("bad checksum") && err(1).contains(&(cat as u64 * 2048).to_string()),
        "{}",
        err(1)
    );
    assert_eq!(
        isos[1]["label"], "BOOTSHELF_TEST",
        "what was read before the error stays"
    );
    assert_eq!(isos[2]["error"], Value::Null);
    assert!(err(3).contains("opening"), "{}", err(3));

    let out = bootshelf(&["inspect", junk.to_str().unwrap()]);
    assert_eq!(out.code(), Some(1));
    let text = out.stdout;
    assert!(
        text.contains("error") && text.contains("offset 32768"),
        "{text}"
    );
}

#[test]
fn stats_show_few_bytes_read() {
    let p = fixtures::iso::grub_mkrescue().unwrap();
    let out = bootshelf(&["inspect", "--stats", p.to_str().unwrap()]);
    assert!(out.success());
    let err = out.stderr;
    let bytes: u64 = err
        .split("read ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{err}"));
    let size = std::fs::metadata(&p).unwrap().len();
    assert!(
        bytes < 512 * 1024 && bytes < size / 20,
        "read {bytes} of {size}"
    );
}

#[test]
fn json_agrees_with_hadris_iso() {
    use hadris_fs::MountOptions;
    use hadris_iso::sync::IsoFs;
    let all = fixtures::iso::all().unwrap();
    let paths: Vec<&Path> = all.iter().map(|(_, p)| p.as_path()).collect();
    let (doc, _) = inspect_json(&paths);
    for ((name, path), j) in all.iter().zip(doc["isos"].as_array().unwrap()) {
        let dev = hadris_storage::host::FileDevice::open(path).unwrap();
        let mut iso = IsoFs::mount(dev, MountOptions::new()).unwrap();
        let info = iso.info();
        let label = String::from_utf8_lossy(info.id(hadris_iso::IsoId::Volume)).into_owned();
        assert_eq!(j["label"], label, "{name}");
        assert_eq!(j["volume_blocks"], info.volume_space_size(), "{name}");
        let ns = iso.namespaces();
        assert_eq!(
            j["rock_ridge"],
            ns.contains(hadris_iso::Namespace::RockRidge),
            "{name}"
        );
        assert_eq!(
            j["joliet_level"].is_number(),
            ns.contains(hadris_iso::Namespace::Joliet),
            "{name}"
        );
        let mut buf = vec![0u8; 65536];
        let cat = iso.boot_catalog(&mut buf).unwrap();
        assert_eq!(
            j["boot_catalog"]["lba"].as_u64(),
            cat.map(|c| u64::from(c.block())),
            "{name}"
        );
        let theirs: Vec<_> = cat.map(|c| c.entries().collect()).unwrap_or_default();
        let ours = j["boot_entries"].as_array().unwrap();
        assert_eq!(ours.len(), theirs.len(), "{name}");
        for (o, t) in ours.iter().zip(&theirs) {
            let ctx = format!("{name} entry {}", o["index"]);
            assert_eq!(o["platform_id"], t.platform().id(), "{ctx}");
            assert_eq!(o["bootable"], t.is_bootable(), "{ctx}");
            assert_eq!(
                o["media_type"].as_u64().unwrap() & 0x0F,
                u64::from(t.raw().boot_media_type & 0x0F),
                "{ctx}"
            );
            assert_eq!(o["load_segment"], t.load_segment(), "{ctx}");
            assert_eq!(o["system_type"], t.raw().system_type, "{ctx}");
            assert_eq!(o["sector_count"], t.sector_count(), "{ctx}");
            assert_eq!(o["load_rba"], t.load_block(), "{ctx}");
            assert_eq!(
                o["section"]["index"].as_u64(),
                t.section().map(|s| s as u64),
                "{ctx}"
            );
        }
    }
}

/// The architectures each EFI boot image serves, read from its FAT (which
/// `\EFI\BOOT\BOOT*.EFI` it holds): one per grub-mkrescue marker ISO made for one
/// architecture; text and JSON.
#[test]
fn uefi_architectures_of_single_architecture_isos() {
    use fixtures::arch::{marker_iso, EfiArch};
    let isos: Vec<_> = EfiArch::ALL
        .iter()
        .map(|&a| marker_iso(a).unwrap())
        .collect();
    let paths: Vec<&std::path::Path> = isos.iter().map(|p| p.as_path()).collect();
    let (doc, _) = inspect_json(&paths);
    for (j, arch) in doc["isos"].as_array().unwrap().iter().zip(EfiArch::ALL) {
        assert_eq!(j["uefi_arches"], serde_json::json!([arch.name()]), "{arch}");
        let efi: Vec<&Value> = j["boot_entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["platform"] == "efi")
            .collect();
        assert_eq!(efi.len(), 1, "{arch}");
        assert_eq!(efi[0]["efi_arches"], serde_json::json!([arch.name()]));
    }
    let out = bootshelf(&["inspect", isos[2].to_str().unwrap()]);
    assert!(
        out.stdout.contains("UEFI boot    yes, for aarch64"),
        "{}",
        out.stdout
    );
}
