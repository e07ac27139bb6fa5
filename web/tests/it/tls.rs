//! HTTPS served by herald-web (`serve.tls.*`), checked with a real TLS client (Python's `ssl`,
//! OpenSSL underneath) against certificates the test makes with `openssl`: files are reloaded
//! when they change, a broken replacement is refused, PEM text works from env and `_FILE`, and
//! an incomplete or unreadable pair is a config error (exit 78) naming the key.

use std::path::Path;
use std::time::Duration;
use testkit::{Backend, Running, TestDb, run_admin, self_signed, temp_dir};

/// GET /health/alive over TLS trusting only `ca`; returns "status common-name" of the peer.
fn fetch(python: &Path, address: &str, ca: &Path) -> Result<String, String> {
    let script = r#"
import http.client, ssl, sys
host, port = sys.argv[1].split(":")
context = ssl.create_default_context(cafile=sys.argv[2])
conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=5)
conn.request("GET", "/health/alive")
status = conn.getresponse().status
subject = dict(x[0] for x in conn.sock.getpeercert()["subject"])
print(status, subject["commonName"])
"#;
    let out =
        std::process::Command::new(python).args(["-c", script, address]).arg(ca).output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// Replaces `to` with `from` atomically (as editors, cert-manager and Kubernetes do).
fn replace(from: &Path, to: &Path) {
    let staged = to.with_extension("new");
    std::fs::copy(from, &staged).expect("stage");
    std::fs::rename(&staged, to).expect("rename");
}

async fn web(db: &TestDb, env: &[(&str, &str)]) -> (Running, String) {
    let mut all = vec![
        ("HERALD_DATABASE_URL", db.url.as_str()),
        ("HERALD_SERVE_HOST", "127.0.0.1"),
        ("HERALD_SERVE_PORT", "0"),
        ("HERALD_SECRETS_KEYS", testkit::TEST_SECRETS_KEYS),
    ];
    all.extend_from_slice(env);
    let web = Running::start("herald-web", &[], &all);
    let address = web.address().await;
    (web, address)
}

#[tokio::test(flavor = "multi_thread")]
async fn https_with_certificate_files_reloaded_when_they_change() {
    let Some(python) = testkit::python_with(&["ssl"]) else { return };
    let Some(db) = TestDb::create(Backend::Sqlite).await else { return };
    let dir = temp_dir("tls");
    let (first_cert, first_key) = self_signed(&dir, "first");
    let (second_cert, second_key) = self_signed(&dir, "second");
    let (cert, key) = (dir.join("live/tls.crt"), dir.join("live/tls.key"));
    std::fs::create_dir_all(dir.join("live")).unwrap();
    std::fs::copy(&first_cert, &cert).unwrap();
    std::fs::copy(&first_key, &key).unwrap();
    let (cert_text, key_text) = (cert.display().to_string(), key.display().to_string());
    let (web, address) = web(&db, &[("HERALD_SERVE_TLS_CERT", &cert_text), ("HERALD_SERVE_TLS_KEY", &key_text)]).await;
    assert!(web.lines().iter().any(|l| l.contains("https://")), "listening on https: {:?}", web.lines());
    assert_eq!(fetch(&python, &address, &first_cert).as_deref(), Ok("200 first"));
    // Plain HTTP on the same port is not served.
    assert!(testkit::get_json(&address, "/health/alive").await.is_err(), "no plain HTTP");
    // An untrusted certificate is refused by the client: the check is real.
    assert!(fetch(&python, &address, &second_cert).is_err(), "the client verifies the server");

    // Renewal: new files, same paths; new connections get the new certificate.
    replace(&second_key, &key);
    replace(&second_cert, &cert);
    let served = testkit::eventually(
        Duration::from_secs(20),
        || async { fetch(&python, &address, &second_cert) },
        |answer| answer.as_deref() == Ok("200 second"),
    )
    .await;
    assert_eq!(served.as_deref(), Ok("200 second"), "the new certificate was never served: {:?}", web.lines());
    assert!(web.wait_for_msg(0, "TLS certificate reloaded", Duration::from_secs(5)).await.is_some());

    // A broken replacement is refused; the certificate in use stays.
    let skip = web.lines().len();
    std::fs::write(dir.join("live/broken"), "not a certificate").unwrap();
    replace(&dir.join("live/broken"), &cert);
    assert!(
        web.wait_for_msg(skip, "TLS certificate not reloaded; keeping the one in use", Duration::from_secs(20))
            .await
            .is_some()
    );
    assert_eq!(fetch(&python, &address, &second_cert).as_deref(), Ok("200 second"));
}

#[tokio::test(flavor = "multi_thread")]
async fn pem_text_from_env_and_file_and_config_errors() {
    let Some(python) = testkit::python_with(&["ssl"]) else { return };
    let Some(db) = TestDb::create(Backend::Sqlite).await else { return };
    let dir = temp_dir("tls-pem");
    let (cert, key) = self_signed(&dir, "inline");
    let cert_text = std::fs::read_to_string(&cert).unwrap();
    let key_file = key.display().to_string();
    // The certificate as PEM text in the variable, the key through _FILE (read as PEM text).
    let (_web, address) =
        web(&db, &[("HERALD_SERVE_TLS_CERT", &cert_text), ("HERALD_SERVE_TLS_KEY_FILE", &key_file)]).await;
    assert_eq!(fetch(&python, &address, &cert).as_deref(), Ok("200 inline"));

    let cert_path = cert.display().to_string();
    let check = |env: &[(&str, &str)], expected: &[&str]| {
        let out = run_admin(&["config", "validate"], env);
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(78), "{env:?}: {err}");
        for piece in expected {
            assert!(err.contains(piece), "{piece:?} missing from: {err}");
        }
    };
    check(&[("HERALD_SERVE_TLS_CERT", &cert_path)], &["serve.tls.key", "required when serve.tls.cert is set"]);
    check(
        &[("HERALD_SERVE_TLS_CERT", "/no/such.crt"), ("HERALD_SERVE_TLS_KEY", &key_file)],
        &["serve.tls.cert", "/no/such.crt"],
    );
    // A key value that is neither PEM nor a file is not echoed: it may be a mangled secret.
    let leaked = run_admin(
        &["config", "validate"],
        &[("HERALD_SERVE_TLS_CERT", &cert_path), ("HERALD_SERVE_TLS_KEY", "MIGHT-BE-A-KEY")],
    );
    assert_eq!(leaked.status.code(), Some(78));
    let err = String::from_utf8_lossy(&leaked.stderr);
    assert!(err.contains("serve.tls.key") && !err.contains("MIGHT-BE-A-KEY"), "{err}");
    let (other, _) = self_signed(&dir, "other");
    let other = other.display().to_string();
    check(
        &[("HERALD_SERVE_TLS_CERT", &other), ("HERALD_SERVE_TLS_KEY", &key_file)],
        &["serve.tls.key", "does not match"],
    );
    // herald-web refuses the same way, before opening its port.
    let out = std::process::Command::new(testkit::bin("herald-web"))
        .env_clear()
        .envs([("HERALD_SECRETS_KEYS", testkit::TEST_SECRETS_KEYS), ("HERALD_SERVE_TLS_KEY", key_file.as_str())])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78), "{}", String::from_utf8_lossy(&out.stderr));
}
