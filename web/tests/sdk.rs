//! The official Svix Python SDK (PyPI `svix`) drives an end-to-end scenario against herald-web on
//! every backend: the proof that Svix's clients work by changing only the server URL and token.

use std::path::PathBuf;
use testkit::{Herald, backends, workspace_root};

/// The virtualenv's Python, with `svix` installed by scripts/test.sh.
fn python() -> Option<PathBuf> {
    let path = std::env::var("HERALD_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join(".venv/bin/python"));
    let ready = path.exists()
        && std::process::Command::new(&path).args(["-c", "import svix"]).output().is_ok_and(|o| o.status.success());
    if ready {
        return Some(path);
    }
    assert!(
        !testkit::in_ci(),
        "Python with the svix SDK is required in CI (scripts/test.sh installs it): {}",
        path.display()
    );
    eprintln!("SKIP: no Python with the svix SDK at {}; run scripts/test.sh", path.display());
    None
}

#[tokio::test(flavor = "multi_thread")]
async fn official_python_sdk_scenario_on_every_backend() {
    let Some(python) = python() else { return };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/sdk/scenario.py");
    for backend in backends() {
        let Some(herald) = Herald::start(backend).await else { continue };
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
