//! schemathesis (PyPI) against the document herald-web serves: thousands of generated requests,
//! none may get a 5xx or a response that breaks the document.

use std::path::PathBuf;
use testkit::{Herald, on_backends};

/// `st` from the virtualenv that scripts/test.sh prepares.
fn schemathesis() -> Option<PathBuf> {
    Some(testkit::python_with(&["schemathesis"])?.with_file_name("st"))
}

on_backends! {
    [Sqlite, Postgres]
    async fn generated_requests_never_get_5xx_or_off_schema_answers(backend) {
        let Some(st) = schemathesis() else { return };
        let Some(herald) = Herald::start(backend).await else { return };
        let token = herald.token("org-fuzz");
        let out = tokio::process::Command::new(&st)
            // Its cache of past failures goes to a directory of this run, not the source tree
            // (each run starts fresh; a failure is reported in full below anyway).
            .current_dir(testkit::temp_dir("schemathesis"))
            .arg("run")
            .arg(format!("http://{}/api/v1/openapi.json", herald.address))
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .args([
                "--checks",
                "not_a_server_error,response_schema_conformance,status_code_conformance,content_type_conformance",
            ])
            // Logging out revokes the token the run uses; it is covered by its own test.
            .args(["--exclude-path", "/api/v1/auth/logout"])
            .args([
                "--phases",
                "examples,coverage,fuzzing,stateful",
                "--max-time",
                "45",
                "--workers",
                "1",
                "--no-color",
            ])
            .output()
            .await
            .expect("run schemathesis");
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: schemathesis found problems:\n{report}\n{}",
            backend.name(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(report.contains("passed"), "{report}");
        let errors: Vec<String> = herald.problems().into_iter().filter(|l| l.contains("internal error")).collect();
        assert!(errors.is_empty(), "{}: internal errors logged: {errors:?}", backend.name());
    }
}
