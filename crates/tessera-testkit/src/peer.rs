//! Running the peer scripts of `tests/peers/` (real third-party libraries from npm and PyPI):
//! `MODE` as the argument, JSON on stdin, one JSON line back.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

/// The repository's `tests/peers` directory.
pub fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers")
}

/// Runs `program tests/peers/<script> <mode>` with `input` on stdin and returns the JSON it
/// prints. Missing packages fail the test with the command that installs them.
pub fn run(program: &str, script: &str, mode: &str, input: &Value) -> Value {
    let peers = peers_dir();
    let mut child = Command::new(program)
        .arg(peers.join(script))
        .arg(mode)
        .current_dir(&peers)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running `{program}` ({e}); run scripts/install-peers"));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("writing the peer's input");
    let output = child.wait_with_output().expect("the peer ends");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if [
        "ERR_MODULE_NOT_FOUND",
        "Cannot find package",
        "ModuleNotFoundError",
    ]
    .iter()
    .any(|m| stderr.contains(m))
    {
        panic!("the test peers are not installed: run scripts/install-peers\n{stderr}");
    }
    assert!(
        output.status.success(),
        "tests/peers/{script} {mode} failed ({}): {stderr}",
        output.status
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "tests/peers/{script} {mode} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// `base` with the keys of `overrides` replaced (a `null` removes the key): a peer's request
/// with one part changed.
pub fn merged(base: &Value, overrides: Value) -> Value {
    let mut out = base.clone();
    let (Some(map), Value::Object(overrides)) = (out.as_object_mut(), overrides) else {
        panic!("merged: both values must be objects");
    };
    for (key, value) in overrides {
        if value.is_null() {
            map.remove(&key);
        } else {
            map.insert(key, value);
        }
    }
    out
}
