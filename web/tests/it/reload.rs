//! Hot reload through the real binary: file edits (rename-on-save and Kubernetes-style symlink
//! swaps) and SIGHUP; valid changes apply live, invalid ones are refused, restart-only keys wait.

use std::path::Path;
use std::time::Duration;
use testkit::{Backend, Running, TestDb, free_port, get_json, temp_dir};

const LONG: Duration = Duration::from_secs(20);
/// How long to watch for a line that must not appear.
const QUIET: Duration = Duration::from_millis(600);

/// Writes like an editor does: a new file renamed over the old one.
fn save(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, text).expect("write");
    std::fs::rename(&tmp, path).expect("rename");
}

fn config_text(port: u16, level: &str) -> String {
    format!("serve:\n  host: 127.0.0.1\n  port: {port}\nlog:\n  level: {level}\n")
}

async fn request_logged(web: &Running, address: &str, id: &str, timeout: Duration) -> bool {
    let client = testkit::http();
    let sent = client.get(format!("http://{address}/health/alive")).header("X-Request-Id", id).send().await;
    assert_eq!(sent.expect("request").status(), 200);
    web.wait_for_record(0, timeout, |r| r["msg"] == "request" && r["request_id"] == id).await.is_some()
}

#[tokio::test(flavor = "multi_thread")]
async fn file_changes_apply_live_invalid_ones_are_refused_restart_keys_wait() {
    let Some(db) = TestDb::create(Backend::Sqlite).await else {
        return;
    };
    let dir = temp_dir("reload");
    let file = dir.join("herald.yaml");
    let port = free_port();
    save(&file, &config_text(port, "warn"));
    let mut web = Running::start("herald-web", &["-c", file.to_str().unwrap()], &[("HERALD_DATABASE_URL", &db.url)]);
    let address = format!("127.0.0.1:{port}");
    let alive =
        testkit::eventually(LONG, || async { get_json(&address, "/health/alive").await.is_ok() }, |ok| *ok).await;
    assert!(alive, "web never listened: {:?}", web.stderr_lines());
    assert!(!request_logged(&web, &address, "at-warn", QUIET).await, "info lines are hidden at warn");

    // A valid change: the level applies without a restart.
    save(&file, &config_text(port, "info"));
    let changed = web
        .wait_for_record(0, LONG, |r| r["msg"] == "config key changed" && r["key"] == "log.level")
        .await
        .expect("change logged");
    assert_eq!(changed["old"], "\"warn\"");
    assert_eq!(changed["new"], "\"info\"");
    assert!(request_logged(&web, &address, "at-info", LONG).await, "info lines appear after the reload");

    // An invalid change: refused, the running config stays.
    save(&file, &config_text(port, "loud"));
    let refused = web
        .wait_for_record(0, LONG, |r| r["msg"] == "config reload rejected, keeping the running config")
        .await
        .expect("rejection logged");
    assert_eq!(refused["key"], "log.level");
    assert!(refused["source"].as_str().is_some_and(|s| s.contains("herald.yaml")), "{refused}");
    assert!(request_logged(&web, &address, "still-info", LONG).await, "old config still in force");

    // A restart-only key: reported as pending, the server stays on its port.
    let other_port = free_port();
    save(&file, &config_text(other_port, "info"));
    let pending = web
        .wait_for_record(0, LONG, |r| r["msg"] == "config key changed, pending restart")
        .await
        .expect("pending restart logged");
    assert_eq!(pending["key"], "serve.port");
    assert_eq!(get_json(&address, "/health/alive").await.expect("old port still serves").0, 200);
    assert!(get_json(&format!("127.0.0.1:{other_port}"), "/health/alive").await.is_err());

    // SIGHUP re-reads even without a file event.
    let seen = web.lines().len();
    web.signal("HUP");
    assert!(web.wait_for_msg(seen, "SIGHUP received, reloading config", LONG).await.is_some());

    web.signal("TERM");
    assert_eq!(web.wait_exit(LONG).await.and_then(|s| s.code()), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn kubernetes_configmap_symlink_swaps_are_seen() {
    let Some(db) = TestDb::create(Backend::Sqlite).await else {
        return;
    };
    // The layout the kubelet makes: config.yaml -> ..data/config.yaml, ..data -> ..<timestamp>.
    let mount = temp_dir("configmap");
    // Port 0: the kernel picks a free one, so no other test can take it first.
    let port = 0;
    let write_version = |name: &str, level: &str| {
        let dir = mount.join(name);
        std::fs::create_dir_all(&dir).expect("version dir");
        std::fs::write(dir.join("config.yaml"), config_text(port, level)).expect("write");
    };
    write_version("..v1", "info");
    std::os::unix::fs::symlink("..v1", mount.join("..data")).expect("..data link");
    std::os::unix::fs::symlink("..data/config.yaml", mount.join("config.yaml")).expect("file link");

    let config = mount.join("config.yaml");
    let mut web = Running::start("herald-web", &["-c", config.to_str().unwrap()], &[("HERALD_DATABASE_URL", &db.url)]);
    assert!(web.wait_for_msg(0, "listening", LONG).await.is_some());

    // The kubelet's atomic swap: a new version dir, a new link, renamed over ..data.
    write_version("..v2", "debug");
    std::os::unix::fs::symlink("..v2", mount.join("..data_tmp")).expect("tmp link");
    std::fs::rename(mount.join("..data_tmp"), mount.join("..data")).expect("swap");
    let changed = web
        .wait_for_record(0, LONG, |r| r["msg"] == "config key changed" && r["key"] == "log.level")
        .await
        .expect("the swap is seen");
    assert_eq!(changed["new"], "\"debug\"");
    web.signal("TERM");
    assert_eq!(web.wait_exit(LONG).await.and_then(|s| s.code()), Some(0));
}
