//! The one rule that turns a name a user typed into one ISO of the menu, used by every
//! command that takes a NAME (`boot-next`, `config --default`, `rename`, `remove`,
//! `boot-test --select`); no_std, so the loaders can use it too.
//!
//! Names compare Unicode case-insensitively ([`fold`]: upper case, then lower case, so
//! `ß` matches `SS` and `Σ` matches `ς`). The rule, in tiers; the first tier with a match
//! decides:
//!
//! 1. the whole path on the stick (`/linux/debian.iso`, the leading `/` optional);
//! 2. exactly a file name or a menu title (`debian.iso`, `Debian 12`);
//! 3. a part of a menu title or of a path (`memtest`, `debian/`).
//!
//! Several different ISOs in the deciding tier make the name ambiguous (the error lists
//! them); no match at all is an error that suggests the closest name ("did you mean").

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

/// One ISO a name can select: what the menu shows and where the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Named<'a> {
    /// The menu title (a custom title, else the file name).
    pub title: &'a str,
    /// The path on the data partition (`/dir/file.iso`); empty when unknown (a menu read
    /// off a screen).
    pub path: &'a str,
}

impl Named<'_> {
    /// The last component of the path.
    pub fn file_name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(self.path)
    }

    /// How the ISO is named in an error: the title, and the path when it says more.
    fn describe(&self) -> String {
        if self.path.is_empty() || self.file_name() == self.title || self.path == self.title {
            if self.path.is_empty() {
                alloc::format!("{:?}", self.title)
            } else {
                self.path.to_string()
            }
        } else {
            alloc::format!("{:?} ({})", self.title, self.path)
        }
    }
}

/// Why a name selects no single ISO.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameError {
    /// Nothing matches.
    NotFound {
        /// The name given.
        name: String,
        /// The closest title or file name, when one is close enough to be a typo.
        did_you_mean: Option<String>,
    },
    /// Several ISOs match equally well.
    Ambiguous {
        /// The name given.
        name: String,
        /// Each of them, as "title (path)".
        candidates: Vec<String>,
    },
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::NotFound {
                name,
                did_you_mean: Some(s),
            } => write!(f, "no ISO matches {name:?}; did you mean {s:?}?"),
            NameError::NotFound {
                name,
                did_you_mean: None,
            } => write!(
                f,
                "no ISO matches {name:?}; `bootshelf list` shows the titles and paths"
            ),
            NameError::Ambiguous { name, candidates } => write!(
                f,
                "{name:?} matches several ISOs: {}; give more of the title or the whole path",
                candidates.join(", ")
            ),
        }
    }
}

impl core::error::Error for NameError {}

/// `s` case-folded for comparison: upper case, then lower case (Unicode).
pub fn fold(s: &str) -> String {
    s.to_uppercase().to_lowercase()
}

/// Whether two names are the same ignoring case (Unicode, as [`fold`]).
pub fn same(a: &str, b: &str) -> bool {
    a == b || fold(a) == fold(b)
}

/// The index in `items` of the one ISO `name` selects (the module's rule).
pub fn find(name: &str, items: &[Named<'_>]) -> Result<usize, NameError> {
    let want = fold(name.trim());
    if want.is_empty() {
        return Err(NameError::NotFound {
            name: name.to_string(),
            did_you_mean: None,
        });
    }
    let want_path = if want.starts_with('/') {
        want.clone()
    } else {
        alloc::format!("/{want}")
    };
    let folded: Vec<(String, String)> = items
        .iter()
        .map(|n| (fold(n.title), fold(n.path)))
        .collect();
    let matches = |tier: u8, t: &str, p: &str| -> bool {
        let file = p.rsplit('/').next().unwrap_or(p);
        match tier {
            0 => !p.is_empty() && p == want_path,
            1 => t == want || (!p.is_empty() && file == want),
            _ => t.contains(want.as_str()) || p.contains(want.as_str()),
        }
    };
    for tier in 0..3 {
        let hits: Vec<usize> = folded
            .iter()
            .enumerate()
            .filter(|(_, (t, p))| matches(tier, t, p))
            .map(|(i, _)| i)
            .collect();
        match hits.as_slice() {
            [] => {}
            [one] => return Ok(*one),
            many => {
                return Err(NameError::Ambiguous {
                    name: name.to_string(),
                    candidates: many
                        .iter()
                        .filter_map(|&i| items.get(i))
                        .map(Named::describe)
                        .collect(),
                })
            }
        }
    }
    Err(NameError::NotFound {
        name: name.to_string(),
        did_you_mean: closest(&want, items),
    })
}

/// The title or file name nearest to `want` (folded) by edit distance, if it is near
/// enough to be a typo: at most a third of the name's characters differ (at least 1).
fn closest(want: &str, items: &[Named<'_>]) -> Option<String> {
    let limit = (want.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for n in items {
        let mut names = alloc::vec![n.title];
        if !n.path.is_empty() {
            let file = n.file_name();
            names.push(file);
            // The file name without its extension, so `debain` finds `debian.iso`.
            if let Some((stem, _)) = file.rsplit_once('.') {
                names.push(stem);
            }
        }
        for candidate in names {
            let d = edit_distance(want, &fold(candidate));
            if d <= limit && best.is_none_or(|(b, _)| d < b) {
                best = Some((
                    d,
                    if candidate == n.title {
                        n.title
                    } else {
                        n.file_name()
                    },
                ));
            }
        }
    }
    best.map(|(_, s)| s.to_string())
}

/// Levenshtein distance between two strings, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diag = row.first().copied().unwrap_or(0);
        if let Some(first) = row.first_mut() {
            *first = i + 1;
        }
        for (j, &cb) in b.iter().enumerate() {
            let above = row.get(j + 1).copied().unwrap_or(0);
            let left = row.get(j).copied().unwrap_or(0);
            let next = (diag + usize::from(ca != cb)).min(above + 1).min(left + 1);
            diag = above;
            if let Some(cell) = row.get_mut(j + 1) {
                *cell = next;
            }
        }
    }
    row.last().copied().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn menu() -> Vec<Named<'static>> {
        vec![
            Named {
                title: "memtest86+x64.iso",
                path: "/memtest86+x64.iso",
            },
            Named {
                title: "Debian 12 Netinst",
                path: "/linux/debian-12.iso",
            },
            Named {
                title: "debian-11.iso",
                path: "/linux/debian-11.iso",
            },
            Named {
                title: "STRASSE Rescue",
                path: "/Ωmega.iso",
            },
        ]
    }

    #[test]
    fn exact_path_then_file_name_or_title_then_substring() {
        let m = menu();
        assert_eq!(find("/linux/debian-11.iso", &m), Ok(2));
        assert_eq!(find("linux/DEBIAN-11.ISO", &m), Ok(2));
        assert_eq!(find("debian-12.iso", &m), Ok(1));
        assert_eq!(find("debian 12 netinst", &m), Ok(1));
        assert_eq!(find("memtest", &m), Ok(0));
        assert_eq!(find("netinst", &m), Ok(1));
    }

    #[test]
    fn unicode_case_folds() {
        let m = menu();
        assert_eq!(find("straße", &m), Ok(3));
        assert_eq!(find("ωMEGA.ISO", &m), Ok(3));
        assert!(same("ΩMEGA", "ωmega"));
    }

    #[test]
    fn ambiguity_names_every_candidate() {
        let e = find("debian", &menu()).unwrap_err();
        let NameError::Ambiguous { candidates, .. } = &e else {
            panic!("{e:?}");
        };
        assert_eq!(
            candidates,
            &[
                "\"Debian 12 Netinst\" (/linux/debian-12.iso)",
                "/linux/debian-11.iso"
            ]
        );
        assert!(e.to_string().contains("matches several ISOs"), "{e}");
    }

    #[test]
    fn an_exact_match_beats_substrings() {
        let m = vec![
            Named {
                title: "a.iso",
                path: "/a.iso",
            },
            Named {
                title: "aa.iso",
                path: "/aa.iso",
            },
        ];
        assert_eq!(find("a.iso", &m), Ok(0));
    }

    #[test]
    fn a_typo_gets_a_suggestion_and_nonsense_does_not() {
        let e = find("memtset86+x64", &menu()).unwrap_err();
        assert_eq!(
            e,
            NameError::NotFound {
                name: "memtset86+x64".into(),
                did_you_mean: Some("memtest86+x64.iso".into()),
            }
        );
        assert!(
            e.to_string()
                .contains("did you mean \"memtest86+x64.iso\"?"),
            "{e}"
        );
        let NameError::NotFound { did_you_mean, .. } = find("debain-12", &menu()).unwrap_err()
        else {
            panic!()
        };
        assert_eq!(did_you_mean.as_deref(), Some("debian-12.iso"));
        let NameError::NotFound { did_you_mean, .. } = find("windows", &menu()).unwrap_err() else {
            panic!()
        };
        assert_eq!(did_you_mean, None);
        assert!(find("", &menu()).is_err());
    }

    #[test]
    fn titles_alone_serve_a_menu_read_off_a_screen() {
        let m = [
            Named {
                title: "iPXE",
                path: "",
            },
            Named {
                title: "memtest86+",
                path: "",
            },
        ];
        assert_eq!(find("MEMTEST", &m), Ok(1));
        assert_eq!(find("ipxe", &m), Ok(0));
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("same", "same"), 0);
    }
}
