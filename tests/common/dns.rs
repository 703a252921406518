//! A real authoritative DNS server (tests/dns/server.py, dnslib) serving zones a test writes,
//! and the independent references (tests/dns/reference.py: pyspf, checkdmarc, dkimpy) asking
//! it: what `check` and `plan`'s SPF count are compared against.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

use serde_json::Value;

use super::Account;

/// The Python that has the test requirements (dnslib, pyspf, checkdmarc, dkimpy).
pub fn python() -> String {
    std::env::var("MAILINFRA_TEST_PYTHON").expect(
        "MAILINFRA_TEST_PYTHON is not set: run scripts/test, which installs tests/python-requirements.txt",
    )
}

/// The DNS server, stopped when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    zones: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Serves `zones` (written to the account's folder as `name`) on a free port.
pub fn serve(acct: &Account, name: &str, zones: &Value) -> Server {
    let path = acct.write(name, &zones.to_string());
    let mut child = Command::new(python())
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/dns/server.py"))
        .arg(&path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    Server {
        child,
        port: line
            .trim()
            .parse()
            .expect("the DNS server printed its port"),
        zones: path,
    }
}

impl Server {
    /// Serves other zones from now on (the server rereads its file).
    pub fn set(&self, zones: &Value) {
        std::fs::write(&self.zones, zones.to_string()).unwrap();
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// pyspf, checkdmarc and dkimpy, asking the DNS server on `port`; one JSON request and answer
/// per line.
pub struct Reference {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Reference {
    pub fn start(port: u16) -> Reference {
        let mut child = Command::new(python())
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/dns/reference.py"
            ))
            .arg(port.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap());
        Reference {
            child,
            stdin,
            stdout,
        }
    }

    pub fn ask(&mut self, request: &Value) -> Value {
        writeln!(self.stdin, "{request}").unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("reference: {e}: {line:?}"))
    }
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
