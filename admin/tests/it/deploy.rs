//! The deployment files (docker-compose.yml, Dockerfile, deploy/kubernetes/) checked by real
//! validators: the Compose Specification's JSON Schema through check-jsonschema, kubernetes-validate
//! --strict, hadolint, and Herald's own config schema and env names (scripts/check-deploy.sh).
//! There is no Docker engine or cluster here, so this is as far as CI can check them.

use testkit::workspace_root;

#[test]
fn deployment_files_pass_their_validators() {
    let Some(python) = testkit::python_with(&["check_jsonschema", "kubernetes_validate"]) else { return };
    let root = workspace_root();
    let out = std::process::Command::new("bash")
        .arg(root.join("scripts/check-deploy.sh"))
        .env("HERALD_TEST_PYTHON", &python)
        .current_dir(&root)
        .output()
        .expect("run scripts/check-deploy.sh");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "check-deploy failed:\n{text}");
    assert!(text.contains("all checks passed"), "{text}");
}
