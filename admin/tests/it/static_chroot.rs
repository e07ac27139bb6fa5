//! The release binaries built fully static (scripts/test.sh: `-C target-feature=+crt-static`)
//! need nothing from the system: they run in an empty chroot holding only themselves,
//! /dev/urandom and a minimal /etc/hosts, on SQLite — migrate, web, worker, and one delivery to a
//! receiver outside the chroot, addressed by IP. This is what a `FROM scratch` image gives them.

use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use testkit::{Client, Receiver, Running, TEST_SECRETS_KEYS, static_bins, temp_dir};

/// An empty root: the binaries, /dev/urandom, /etc/hosts, a data directory. Nothing else.
fn empty_root(bins: &Path) -> PathBuf {
    let root = temp_dir("chroot");
    for dir in ["bin", "dev", "etc", "data"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    for name in ["herald-web", "herald-worker", "herald-admin"] {
        std::fs::copy(bins.join(name), root.join("bin").join(name)).unwrap();
    }
    let urandom = root.join("dev/urandom");
    assert!(Command::new("mknod").arg(&urandom).args(["c", "1", "9"]).status().unwrap().success(), "mknod");
    std::fs::write(root.join("etc/hosts"), "127.0.0.1 localhost\n::1 localhost\n").unwrap();
    root
}

fn in_root(root: &Path, program: &str, args: &[&str]) -> Vec<String> {
    let mut all = vec![root.display().to_string(), format!("/bin/{program}")];
    all.extend(args.iter().map(|a| a.to_string()));
    all
}

const ENV: [(&str, &str); 4] = [
    ("DATABASE_URL", "sqlite:///data/herald.db"),
    ("HERALD_SECRETS_KEYS", TEST_SECRETS_KEYS),
    ("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#),
    ("HERALD_SERVE_HOST", "127.0.0.1"),
];

#[tokio::test(flavor = "multi_thread")]
async fn static_binaries_run_the_formation_in_an_empty_chroot() {
    let Some(bins) = static_bins() else { return };
    for name in ["herald-web", "herald-worker", "herald-admin"] {
        // No program interpreter and no shared library needed (a static-pie still has a DYNAMIC
        // segment, for relocating itself).
        let headers = Command::new("readelf").arg("-lWd").arg(bins.join(name)).output().expect("readelf");
        let text = String::from_utf8_lossy(&headers.stdout);
        assert!(
            headers.status.success() && !text.contains("INTERP") && !text.contains("(NEEDED)"),
            "{name} is not static:\n{text}"
        );
    }
    let root = empty_root(&bins);
    let chroot = PathBuf::from("/usr/sbin/chroot");
    let run = |program: &str, args: &[&str]| {
        let mut cmd = Command::new(&chroot);
        cmd.env_clear().args(in_root(&root, program, args)).envs(ENV);
        cmd.output().expect("run in chroot")
    };
    let migrated = run("herald-admin", &["migrate", "up"]);
    assert!(migrated.status.success(), "migrate: {}", String::from_utf8_lossy(&migrated.stderr));
    let token = run("herald-admin", &["token", "create", "--org", "o"]);
    assert!(token.status.success(), "token: {}", String::from_utf8_lossy(&token.stderr));
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();

    let web_args = in_root(&root, "herald-web", &["--port", "0"]);
    let web_args: Vec<&str> = web_args.iter().map(String::as_str).collect();
    let mut web = Running::start_program(&chroot, &web_args, &ENV);
    let address = web.address().await;
    let worker_args = in_root(&root, "herald-worker", &["--host", "127.0.0.1", "--port", "0"]);
    let worker_args: Vec<&str> = worker_args.iter().map(String::as_str).collect();
    let mut worker = Running::start_program(&chroot, &worker_args, &ENV);

    let receiver = Receiver::start(|_| 200);
    let api = Client::new(&address, &token);
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
    let (status, msg) = api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"from": "chroot"}})).await;
    assert_eq!(status, 202, "{msg}");
    let got = receiver.wait_for(1, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 1, "delivered from the chroot; worker: {:?}", worker.lines());
    assert_eq!(got[0].headers["webhook-id"], msg["id"].as_str().unwrap());
    assert!(got[0].headers["webhook-signature"].starts_with("v1,"), "signed");

    for process in [&mut web, &mut worker] {
        process.signal("TERM");
        assert_eq!(process.wait_exit(Duration::from_secs(30)).await.and_then(|s| s.code()), Some(0));
    }
}
