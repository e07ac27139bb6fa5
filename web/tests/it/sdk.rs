//! The official Svix SDKs, Python (PyPI `svix`) and JavaScript (npm `svix`, on the machine's
//! Node.js), each drive the same end-to-end scenario against herald-web on every backend: the
//! proof that Svix's clients work by changing only the server URL and token.

use std::path::PathBuf;
use testkit::{Herald, on_every_backend};

on_every_backend! {
    async fn official_python_sdk_scenario(backend) {
        let Some(python) = testkit::python_with(&["svix"]) else { return };
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/scenario.py");
        let Some(herald) = Herald::start(backend).await else { return };
        let token = herald.token("org-sdk");
        let url = format!("http://{}", herald.address);
        let out = tokio::process::Command::new(&python)
            .arg(&script)
            .arg(&url)
            .arg(&token)
            .output()
            .await
            .expect("run python");
        assert!(
            out.status.success(),
            "{}: SDK scenario failed:\n{}\n{}\nserver problems: {:?}",
            backend.name(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            herald.problems()
        );
    }
}

on_every_backend! {
    async fn official_javascript_sdk_scenario(backend) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/js");
        if !dir.join("node_modules/svix").is_dir() {
            assert!(!testkit::in_ci(), "CI needs the JavaScript SDK: scripts/test.sh runs npm ci in {}", dir.display());
            eprintln!("SKIP: the JavaScript SDK is not installed (npm ci --prefix {})", dir.display());
            return;
        }
        let Some(herald) = Herald::start(backend).await else { return };
        let token = herald.token("org-sdk");
        let url = format!("http://{}", herald.address);
        let out = tokio::process::Command::new("node")
            .arg(dir.join("scenario.mjs"))
            .arg(&url)
            .arg(&token)
            .output()
            .await
            .expect("run node");
        assert!(
            out.status.success(),
            "{}: JavaScript SDK scenario failed:\n{}\n{}\nserver problems: {:?}",
            backend.name(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            herald.problems()
        );
    }
}
