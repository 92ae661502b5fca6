//! A minimal QMP client: the greeting, `qmp_capabilities`, and commands whose replies are
//! matched by skipping the asynchronous events QEMU interleaves.

use crate::Error;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::time::Duration;

/// A connected QMP session in command mode.
pub(crate) struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    /// Read the greeting and enter command mode.
    pub(crate) fn handshake(stream: UnixStream) -> Result<Qmp, Error> {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| Error::Qmp(format!("setting a read timeout: {e}")))?;
        let writer = stream
            .try_clone()
            .map_err(|e| Error::Qmp(format!("cloning the socket: {e}")))?;
        let mut q = Qmp {
            reader: BufReader::new(stream),
            writer,
        };
        let greeting = q.read_message()?;
        if greeting.get("QMP").is_none() {
            return Err(Error::Qmp(format!("unexpected greeting {greeting}")));
        }
        q.execute("qmp_capabilities", None)?;
        Ok(q)
    }

    fn read_message(&mut self) -> Result<Value, Error> {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .map_err(|e| Error::Qmp(format!("reading: {e}")))?;
        if n == 0 {
            return Err(Error::Qmp("QEMU closed the QMP socket".into()));
        }
        serde_json::from_str(&line).map_err(|e| Error::Qmp(format!("bad JSON {line:?}: {e}")))
    }

    /// Run a command and return its `return` value.
    pub(crate) fn execute(&mut self, cmd: &str, args: Option<Value>) -> Result<Value, Error> {
        let mut msg = serde_json::json!({ "execute": cmd });
        if let Some(a) = args {
            msg["arguments"] = a;
        }
        let mut text = msg.to_string();
        text.push('\n');
        self.writer
            .write_all(text.as_bytes())
            .map_err(|e| Error::Qmp(format!("sending {cmd}: {e}")))?;
        loop {
            let reply = self.read_message()?;
            if reply.get("event").is_some() {
                continue;
            }
            if let Some(r) = reply.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = reply.get("error") {
                return Err(Error::Qmp(format!("{cmd} failed: {e}")));
            }
            return Err(Error::Qmp(format!("unexpected reply to {cmd}: {reply}")));
        }
    }
}
