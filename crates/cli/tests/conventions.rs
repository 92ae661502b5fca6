//! The output conventions of every command, through the built binary (docs/cli.md): one
//! JSON document per `--json` run, global `-q`/`-v`, colour only on a terminal and never
//! with `NO_COLOR`, an error's cause said once, completions that load in bash, zsh and
//! fish, the man page.

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use testkit::cli::{stderr_on_terminal, Bootshelf};
use testkit::stick::iso_copy;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Run `args`, which must succeed, and parse its whole stdout as one JSON document.
fn json(t: &Bootshelf, args: &[&str]) -> Value {
    let out = t.ok(args);
    serde_json::from_str(&out)
        .unwrap_or_else(|e| panic!("{args:?}: not one JSON document ({e}):\n{out}"))
}

#[test]
fn every_reporting_command_prints_one_json_document() {
    let t = Bootshelf::new("cli-json");
    let img = t.path("stick.img");
    let v = json(
        &t,
        &["install", s(&img), "--size", "128M", "--yes", "--json"],
    );
    assert_eq!(v["scheme"], "GPT");
    assert_eq!(v["sector_size"], 512);
    assert!(
        v["data_partition_bytes"].as_u64().unwrap() > 60 << 20,
        "{v}"
    );
    assert_eq!(v["target"], s(&img));

    let iso = iso_copy(
        &fixtures::iso::bios_uefi_hybrid().unwrap(),
        t.dir(),
        "live.iso",
        None,
    );
    let v = json(
        &t,
        &["add", s(&img), s(&iso), "--json", "--title", "Live System"],
    );
    let added = &v["added"][0];
    assert_eq!(added["path"], "/live.iso");
    assert_eq!(added["title"], "Live System");
    assert_eq!(added["bios"], true);
    assert_eq!(added["uefi"], true);
    assert_eq!(added["sha256"], testkit::stick::sha256_file(&iso));
    assert_eq!(added["replaced"], false);

    let v = json(&t, &["rename", s(&img), "live", "Rescue", "--json"]);
    assert_eq!(v["path"], "/live.iso");
    assert_eq!(v["old_title"], "Live System");
    assert_eq!(v["new_title"], "Rescue");

    let v = json(
        &t,
        &[
            "config",
            s(&img),
            "--default",
            "rescue",
            "--timeout",
            "7",
            "--json",
        ],
    );
    assert_eq!(v["default"], "/live.iso");
    assert_eq!(v["timeout_secs"], 7);
    assert_eq!(v["changed"], true);
    let v = json(&t, &["config", s(&img), "--json"]);
    assert_eq!(v["changed"], false);
    assert_eq!(v["timeout_secs"], 7);

    let v = json(&t, &["boot-next", s(&img), "RESCUE", "--json"]);
    assert_eq!(v["boot_next"], "/live.iso");
    assert!(v["previous"].is_null());
    let v = json(&t, &["boot-next", s(&img), "--clear", "--json"]);
    assert!(v["boot_next"].is_null());
    assert_eq!(v["previous"], "/live.iso");

    let v = json(&t, &["list", s(&img), "--json"]);
    assert_eq!(v["default"], "/live.iso");
    assert!(v["free"].as_u64().unwrap() < v["capacity"].as_u64().unwrap());
    assert!(v["largest_free_run"].as_u64().unwrap() <= v["free"].as_u64().unwrap());
    assert_eq!(v["isos"][0]["title"], "Rescue");

    let v = json(&t, &["sync", s(&img), "--json"]);
    assert_eq!(v["kept"][0], "/live.iso");
    assert!(v["generation"].is_null(), "nothing to change: {v}");
    assert!(v["broken"].as_array().unwrap().is_empty());

    let v = json(&t, &["check", s(&img), "--json"]);
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] != "problem"),
        "{v}"
    );

    let v = json(&t, &["update", s(&img), "--json"]);
    assert_eq!(v["mbr_written"], false, "already up to date: {v}");
    assert_eq!(v["stage2_written"], false, "{v}");

    let v = json(
        &t,
        &[
            "options",
            s(&img),
            "rescue",
            "--append",
            "nomodeset",
            "--json",
        ],
    );
    assert_eq!(v["path"], "/live.iso", "{v}");
    assert_eq!(v["options"]["append"], "nomodeset", "{v}");
    assert_eq!(v["options_stale"], false, "{v}");

    let v = json(&t, &["persistence", s(&img), "--json"]);
    assert!(v["files"].as_array().unwrap().is_empty(), "{v}");
    assert!(v["orphans"].as_array().unwrap().is_empty(), "{v}");

    let v = json(&t, &["remove", s(&img), "live.iso", "--json"]);
    assert!(v["removed"][0]["persistence"].is_null(), "{v}");
    assert_eq!(v["removed"][0]["path"], "/live.iso");
    assert_eq!(v["removed"][0]["was_indexed"], true);
    assert_eq!(v["removed"][0]["file_deleted"], true);
}

#[test]
fn quiet_and_verbose_are_global_and_exclusive() {
    let t = Bootshelf::new("cli-qv");
    let img = t.path("stick.img");
    // Before or after the command; -q keeps the result lines scripts read.
    let out = t.ok(&["-q", "install", s(&img), "--size", "64M", "--yes"]);
    assert!(out.contains("bootshelf stick"), "{out}");
    t.ok(&["list", s(&img), "--quiet"]);
    t.ok(&["list", s(&img), "-v"]);
    let e = t.run(&["-q", "-v", "list", s(&img)]).assert_code(2).stderr;
    assert!(e.contains("cannot be used with"), "{e}");
}

#[test]
fn errors_are_coloured_on_a_terminal_unless_no_color_and_never_in_a_pipe() {
    let t = Bootshelf::new("cli-color");
    let args = ["list", "missing.img"];
    let tty = stderr_on_terminal(t.dir(), &args, &[])
        .assert_code(2)
        .stderr;
    assert!(tty.contains("\x1b[1;31merror\x1b[0m"), "{tty:?}");
    let no_color = stderr_on_terminal(t.dir(), &args, &[("NO_COLOR", "1")])
        .assert_code(2)
        .stderr;
    assert!(!no_color.contains('\x1b'), "{no_color:?}");
    assert!(no_color.contains("bootshelf: error: "), "{no_color:?}");
    let piped = t.run(&args).assert_code(2).stderr;
    assert!(!piped.contains('\x1b'), "{piped:?}");
    // clap's own usage errors follow NO_COLOR too.
    let usage = stderr_on_terminal(t.dir(), &["list", "--bogus"], &[("NO_COLOR", "1")]).stderr;
    assert!(
        !usage.contains('\x1b') && usage.contains("--bogus"),
        "{usage:?}"
    );
}

#[test]
fn an_error_says_its_cause_once() {
    let t = Bootshelf::new("cli-once");
    let img = t.path("stick.img");
    t.ok(&["install", s(&img), "--size", "64M", "--yes"]);
    let cause = "No such file or directory";
    for (args, name) in [
        (
            vec!["add", s(&img), "/nonexistent/x.iso"],
            "/nonexistent/x.iso",
        ),
        (vec!["list", "missing.img"], "missing.img"),
        (vec!["update", "missing.img"], "missing.img"),
        (vec!["check", "missing.img"], "missing.img"),
    ] {
        let e = t.run(&args).assert_code(2).stderr;
        assert_eq!(e.matches(cause).count(), 1, "{args:?}: {e}");
        assert_eq!(e.matches(name).count(), 1, "{args:?}: {e}");
        assert_eq!(e.lines().count(), 1, "{args:?}: {e}");
    }
}

#[test]
fn completions_load_in_bash_zsh_and_fish() {
    let bin = testkit::cli::bootshelf_path().unwrap();
    let bin = bin.to_str().unwrap();
    let bash = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source <('{bin}' completions bash) && complete -p bootshelf && \
             COMP_WORDS=(bootshelf re) COMP_CWORD=1 && _bootshelf bootshelf re bootshelf && \
             echo \"${{COMPREPLY[@]}}\""
        ))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&bash.stdout);
    assert!(
        bash.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&bash.stderr)
    );
    assert!(out.contains("-F _bootshelf bootshelf"), "{out}");
    assert!(out.contains("remove") && out.contains("rename"), "{out}");

    let zsh = Command::new("zsh")
        .arg("-c")
        .arg(format!(
            "autoload -U compinit && compinit -u && source <('{bin}' completions zsh) && \
             print -r -- ${{_comps[bootshelf]}}"
        ))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&zsh.stdout);
    assert!(
        zsh.status.success() && out.trim() == "_bootshelf",
        "{out}{}",
        String::from_utf8_lossy(&zsh.stderr)
    );

    let fish = Command::new("fish")
        .arg("-c")
        .arg(format!(
            "'{bin}' completions fish | source; complete -C'bootshelf con'"
        ))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&fish.stdout);
    assert!(
        fish.status.success() && out.starts_with("config\t"),
        "{out}{}",
        String::from_utf8_lossy(&fish.stderr)
    );

    let t = Bootshelf::new("cli-pwsh");
    let ps = t.ok(&["completions", "powershell"]);
    assert!(
        ps.contains("Register-ArgumentCompleter") && ps.contains("'rename'"),
        "{ps}"
    );
}

#[test]
fn the_man_page_renders_and_installs_one_page_per_command() {
    let t = Bootshelf::new("cli-man");
    let page = t.ok(&["man"]);
    assert!(page.contains(".TH bootshelf 1"), "{page}");
    for cmd in ["install", "config", "rename", "completions"] {
        assert!(page.contains(cmd), "man page lacks {cmd}");
    }
    assert!(page.contains("Exit status"), "{page}");
    let dir = t.path("man1");
    t.ok(&["man", "--dir", s(&dir)]);
    for f in [
        "bootshelf.1",
        "bootshelf-install.1",
        "bootshelf-config.1",
        "bootshelf-rename.1",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    // man(1) formats it (groff through man -l), as `man bootshelf-config` would.
    let shown = Command::new("man")
        .args(["-l", "-P", "cat"])
        .arg(dir.join("bootshelf-config.1"))
        .env("MANWIDTH", "80")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(
        shown.status.success() && text.contains("--timeout"),
        "{text}"
    );
}

#[test]
fn the_readme_says_how_to_get_the_binary_and_documents_every_command() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let get = readme
        .find("## Getting bootshelf")
        .expect("a 'Getting bootshelf' section");
    let quick = readme.find("## Quick start").expect("a quick start");
    let dev = readme
        .find("## For developers")
        .expect("a developers' section");
    assert!(
        get < quick && quick < dev,
        "get the binary, then the quick start, then ./x test"
    );
    assert!(readme[get..quick].contains("cargo install --locked --path crates/cli"));
    assert!(
        !readme[..dev].contains("./x test"),
        "the test command is the developers'"
    );
    // Every command of --help has a line in the README.
    let help = testkit::cli::run(&["--help"]).assert_ok().stdout;
    let commands: Vec<&str> = help
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .collect();
    assert!(commands.len() > 12, "{commands:?}");
    for c in commands {
        assert!(
            readme.contains(&format!("bootshelf {c}")),
            "README lacks `bootshelf {c}`"
        );
    }
}

#[test]
fn a_full_stick_says_which_limit_was_hit() {
    let t = Bootshelf::new("cli-full");
    let img = t.path("stick.img");
    t.ok(&["install", s(&img), "--size", "64M", "--yes"]);
    let (_, data_len, _) = testkit::stick::data_partition(&img);
    let src = fixtures::iso::bios_only().unwrap();
    let big = iso_copy(&src, t.dir(), "big.iso", Some(data_len));
    let before = testkit::stick::sha256_file(&img);
    let e = t.run(&["add", s(&img), s(&big)]).assert_code(2).stderr;
    assert!(
        e.contains("not enough space on the stick: /big.iso needs")
            && e.contains("is free; nothing was written")
            && !e.contains("largest free run"),
        "{e}"
    );
    // Two ISOs that fit one by one but not together: the second names the batch's total.
    let half = iso_copy(&src, t.dir(), "half.iso", Some(data_len * 6 / 10));
    let half2 = iso_copy(&src, t.dir(), "half2.iso", Some(data_len * 6 / 10));
    let e = t
        .run(&["add", s(&img), s(&half), s(&half2)])
        .assert_code(2)
        .stderr;
    assert!(
        e.contains("/half2.iso needs") && e.contains("with the ISOs before it)"),
        "{e}"
    );
    assert_eq!(testkit::stick::sha256_file(&img), before);

    // Enough free space, but not in one piece: a gap between two ISOs and the tail.
    let a = iso_copy(&src, t.dir(), "a.iso", Some(data_len / 3));
    let b = iso_copy(&src, t.dir(), "b.iso", Some(data_len / 4));
    let c = iso_copy(&src, t.dir(), "c.iso", Some(data_len / 3));
    t.ok(&["add", s(&img), s(&a), s(&b), s(&c)]);
    t.ok(&["remove", s(&img), "b.iso"]);
    let l = json(&t, &["list", s(&img), "--json"]);
    let (free, largest) = (
        l["free"].as_u64().unwrap(),
        l["largest_free_run"].as_u64().unwrap(),
    );
    assert!(free > largest + (1 << 20), "{l}");
    let d = iso_copy(&src, t.dir(), "d.iso", Some(largest + (free - largest) / 2));
    let e = t.run(&["add", s(&img), s(&d)]).assert_code(2).stderr;
    assert!(
        e.contains("no free space in one piece for /d.iso")
            && e.contains("the largest free run is")
            && !e.contains("not enough space"),
        "{e}"
    );
}
