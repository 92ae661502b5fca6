//! Helpers shared by the integration tests: loading fixture ISOs, walking our tree, and
//! parsing xorriso's reports (the independent reference).

#![allow(dead_code)]

use iso9660::{Iso, Namespace};
use std::collections::BTreeMap;
use std::path::Path;

/// Every fixture ISO: name, bytes.
pub fn all_isos() -> Vec<(&'static str, std::path::PathBuf, Vec<u8>)> {
    fixtures::iso::all()
        .expect("building fixture ISOs")
        .into_iter()
        .map(|(n, p)| {
            let b = std::fs::read(&p).unwrap();
            (n, p, b)
        })
        .collect()
}

/// Every file under the root of `ns`: path -> (lba, size). Directories are walked
/// recursively; relocated (RE) directories are skipped as readers do.
pub fn walk_files(iso: &mut Iso<&[u8]>, ns: Namespace) -> BTreeMap<String, (u32, u32)> {
    let mut out = BTreeMap::new();
    let root = iso.root(ns).expect("namespace present");
    walk(iso, root, String::new(), &mut out, 0);
    out
}

fn walk(
    iso: &mut Iso<&[u8]>,
    dir: iso9660::Dir,
    prefix: String,
    out: &mut BTreeMap<String, (u32, u32)>,
    depth: usize,
) {
    assert!(depth < 32, "too deep at {prefix}");
    let entries: Vec<_> = iso.entries(dir).unwrap().collect::<Result<_, _>>().unwrap();
    for e in entries {
        let name = e.name.as_str().expect("utf-8 name").to_string();
        let path = format!("{prefix}/{name}");
        if e.is_dir() {
            if e.relocated {
                continue;
            }
            let sub = iso.open_dir(dir, &e).unwrap();
            walk(iso, sub, path, out, depth + 1);
        } else {
            out.insert(path, (e.lba, e.size));
        }
    }
}

/// Run xorriso and return stdout.
pub fn xorriso(args: &[&str]) -> String {
    fixtures::xorriso(args).unwrap()
}

/// xorriso's file list in one of its read modes: path -> (lba, size) of the first extent.
/// `read_fs` is `any` (Rock Ridge), `norock` (Joliet) or `ecma119` (plain names).
pub fn xorriso_files(iso: &Path, read_fs: &str) -> BTreeMap<String, (u32, u32)> {
    let out = xorriso(&[
        "-read_fs",
        read_fs,
        "-indev",
        iso.to_str().unwrap(),
        "-find",
        "/",
        "-type",
        "f",
        "-exec",
        "report_lba",
        "--",
    ]);
    let mut m = BTreeMap::new();
    for line in out.lines() {
        let Some(rest) = line.strip_prefix("File data lba:") else {
            continue;
        };
        let mut parts = rest.splitn(5, ',');
        let xt: u32 = parts.next().unwrap().trim().parse().unwrap();
        let lba: u32 = parts.next().unwrap().trim().parse().unwrap();
        let _blocks = parts.next();
        let size: u64 = parts.next().unwrap().trim().parse().unwrap();
        let path = parts.next().unwrap().trim();
        let path = path
            .trim_start_matches('\'')
            .trim_end_matches('\'')
            .to_string();
        if xt == 0 {
            m.insert(path, (lba, size as u32));
        }
    }
    m
}

/// One line of `-report_el_torito plain`'s image table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct XorrisoBootImage {
    pub platform_id: u8,
    pub bootable: bool,
    pub emulation: u8,
    pub load_segment: u16,
    pub system_type: u8,
    pub sector_count: u16,
    pub load_rba: u32,
    pub path: Option<String>,
    /// "El Torito img blks" (2048-byte blocks), for images outside the tree.
    pub blocks: Option<u64>,
    /// "El Torito hdsiz/512".
    pub hd_size_512: Option<u64>,
}

/// The path of the boot catalog file, as xorriso reports it.
pub fn xorriso_catalog_path(iso: &Path) -> Option<String> {
    let out = xorriso(&[
        "-indev",
        iso.to_str().unwrap(),
        "-report_el_torito",
        "plain",
    ]);
    out.lines()
        .find_map(|l| l.strip_prefix("El Torito cat path :"))
        .map(|p| p.trim().to_string())
}

/// The boot catalog as xorriso reports it: catalog LBA and images.
pub fn xorriso_el_torito(iso: &Path) -> (Option<u32>, Vec<XorrisoBootImage>) {
    let out = xorriso(&[
        "-indev",
        iso.to_str().unwrap(),
        "-report_el_torito",
        "plain",
    ]);
    let mut cat = None;
    let mut imgs: Vec<XorrisoBootImage> = Vec::new();
    for line in out.lines() {
        let Some((key, val)) = line.split_once(':') else {
            continue;
        };
        let key = key.trim();
        let f: Vec<&str> = val.split_whitespace().collect();
        let idx = |_: &mut Vec<XorrisoBootImage>| f[0].parse::<usize>().unwrap() - 1;
        match key {
            "El Torito catalog" => cat = Some(f[0].parse().unwrap()),
            "El Torito boot img" => {
                let hex = |s: &str| u32::from_str_radix(s.trim_start_matches("0x"), 16).unwrap();
                imgs.push(XorrisoBootImage {
                    platform_id: match f[1] {
                        "BIOS" => 0,
                        "UEFI" => 0xEF,
                        "PPC" => 1,
                        "Mac" => 2,
                        other => hex(other) as u8,
                    },
                    bootable: f[2] == "y",
                    emulation: match f[3] {
                        "none" => 0,
                        "fd1.2" => 1,
                        "fd1.4" => 2,
                        "fd2.8" => 3,
                        "hd" => 4,
                        other => panic!("emulation {other}"),
                    },
                    load_segment: hex(f[4]) as u16,
                    system_type: hex(f[5]) as u8,
                    sector_count: f[6].parse().unwrap(),
                    load_rba: f[7].parse().unwrap(),
                    ..Default::default()
                });
            }
            "El Torito img path" => {
                let i = idx(&mut imgs);
                imgs[i].path = Some(val.trim().split_once(' ').unwrap().1.trim().to_string());
            }
            "El Torito img blks" => {
                let i = idx(&mut imgs);
                imgs[i].blocks = Some(f[1].parse().unwrap());
            }
            "El Torito hdsiz/512" => {
                let i = idx(&mut imgs);
                imgs[i].hd_size_512 = Some(f[1].parse().unwrap());
            }
            _ => {}
        }
    }
    (cat, imgs)
}

/// `-pvd_info` as key -> value.
pub fn xorriso_pvd(iso: &Path) -> BTreeMap<String, String> {
    let out = xorriso(&["-indev", iso.to_str().unwrap(), "-pvd_info"]);
    out.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim_start().to_string()))
        .collect()
}

/// `-report_system_area plain` lines as (key, fields).
pub fn xorriso_system_area(iso: &Path) -> Vec<(String, Vec<String>)> {
    let out = xorriso(&[
        "-indev",
        iso.to_str().unwrap(),
        "-report_system_area",
        "plain",
    ]);
    out.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| {
            (
                k.trim().to_string(),
                v.split_whitespace().map(str::to_string).collect(),
            )
        })
        .collect()
}
