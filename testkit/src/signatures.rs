//! Signatures checked by the receivers' own libraries (PyPI `standardwebhooks` and `svix`), not by
//! Herald's code: worker/tests/verify/verify.py, which also checks that tampered requests fail.

use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

/// Verifies every request in `requests` (each `{"headers": {…}, "body": "<base64>"}`) against
/// `secret`; panics when any is refused. A skip outside CI without the libraries.
pub async fn verify_signatures(secret: &str, requests: &[Value]) {
    let Some(python) = crate::python_with(&["standardwebhooks", "svix"]) else { return };
    let job = json!({"secret": secret, "requests": requests});
    let script = crate::workspace_root().join("worker/tests/verify/verify.py");
    let mut child = tokio::process::Command::new(&python)
        .arg(script)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run verify.py");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(job.to_string().as_bytes()).await.expect("write job");
    drop(stdin);
    let out = child.wait_with_output().await.expect("verify.py output");
    assert!(
        out.status.success(),
        "receiver libraries refused Herald's signatures:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
