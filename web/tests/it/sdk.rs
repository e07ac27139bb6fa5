//! The official Svix SDKs, Python (PyPI `svix`) and JavaScript (npm `svix`, on the machine's
//! Node.js), each drive the same end-to-end scenario against herald-web on every backend: the
//! proof that Svix's clients work by changing only the server URL and token.

use std::path::{Path, PathBuf};
use testkit::{Backend, Herald, on_every_backend};

/// Runs `program script URL TOKEN` against a fresh Herald on `backend`; fails with its output.
async fn scenario(backend: Backend, program: &Path, script: &Path) {
    let Some(herald) = Herald::start(backend).await else { return };
    let token = herald.token("org-sdk");
    let url = format!("http://{}", herald.address);
    let out = tokio::process::Command::new(program)
        .arg(script)
        .arg(&url)
        .arg(&token)
        .output()
        .await
        .unwrap_or_else(|e| panic!("run {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{}: {} failed:\n{}\n{}\nserver problems: {:?}",
        backend.name(),
        script.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        herald.problems()
    );
}

fn sdk_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

on_every_backend! {
    async fn official_python_sdk_scenario(backend) {
        let Some(python) = testkit::python_with(&["svix"]) else { return };
        scenario(backend, &python, &sdk_dir().join("scenario.py")).await;
    }
}

on_every_backend! {
    async fn official_javascript_sdk_scenario(backend) {
        let dir = sdk_dir().join("js");
        if !dir.join("node_modules/svix").is_dir() {
            assert!(!testkit::in_ci(), "CI needs the JavaScript SDK: scripts/test.sh runs npm ci in {}", dir.display());
            eprintln!("SKIP: the JavaScript SDK is not installed (npm ci --prefix {})", dir.display());
            return;
        }
        scenario(backend, Path::new("node"), &dir.join("scenario.mjs")).await;
    }
}
