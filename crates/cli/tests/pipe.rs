//! Regression: `bootshelf ... | head` panicked in `println!` when the reader closed the
//! pipe early; now the process ends quietly (killed by SIGPIPE, as `ls` or `cat` would).

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;

#[test]
fn closed_stdout_pipe_is_no_panic() {
    let mut child = testkit::cli::command()
        .args(["inspect", "--json", "/usr/lib/ipxe/ipxe.iso"])
        .args(std::iter::repeat_n("/usr/lib/ipxe/ipxe.iso", 200))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn bootshelf");
    // Read one byte, then close our end, as `head -c1` does.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut one = [0u8; 1];
    stdout.read_exact(&mut one).expect("first byte");
    drop(stdout);
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("stderr");
    let status = child.wait().expect("wait");
    assert!(!err.contains("panicked"), "bootshelf panicked:\n{err}");
    assert!(
        status.success() || status.signal() == Some(nix::sys::signal::Signal::SIGPIPE as i32),
        "unexpected status {status:?}, stderr:\n{err}"
    );
}
