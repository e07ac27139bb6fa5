//! The Dockerfile's image, built for real with buildah (no Docker engine here): its final stage,
//! with the builder stage stood in for by the static binaries scripts/test.sh built (the musl
//! builder needs images from Docker Hub, which this machine cannot reach). Checks what the image
//! holds (the three binaries and the CA bundle, nothing else: no shell), its config (non-root
//! user, no entrypoint, herald-web by default), and runs it: migrate, web and worker as the
//! image's user on a mounted volume, one delivery, a graceful stop.

use crate::buildah::{BINARIES, Buildah, CA_BUNDLE};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use testkit::{Client, Receiver, Running, TEST_SECRETS_KEYS, static_bins, temp_dir};
const LONG: Duration = Duration::from_secs(30);

/// Every process below `pid`, found through /proc (buildah runs the command a few levels down).
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents = BTreeMap::new();
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // The parent pid is the second field after the parenthesised command name.
        let ppid = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.insert(child, ppid);
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let current = found[i];
        found.extend(parents.iter().filter(|(_, p)| **p == current).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

/// The Herald process `buildah run` started, by its executable path inside the image.
fn herald_pid(running: &Running, binary: &str) -> u32 {
    let target = format!("/usr/local/bin/{binary}");
    descendants(running.pid())
        .into_iter()
        .find(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe.ends_with(&target[1..])))
        .unwrap_or_else(|| panic!("no {binary} below buildah {}", running.pid()))
}

fn kill(pid: u32, signal: &str) {
    let _ = Command::new("kill").args(["-s", signal, &pid.to_string()]).status();
}

/// Every file in the tree at `root`, relative, with its size; symlinks and directories aside.
fn files(root: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let mut dirs = vec![root.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read image dir").flatten() {
            let meta = entry.path().symlink_metadata().expect("stat");
            if meta.is_dir() {
                dirs.push(entry.path());
            } else {
                let relative = entry.path().strip_prefix(root).expect("under root").display().to_string();
                out.insert(relative, meta.len());
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dockerfile_image_holds_only_the_binaries_and_runs_the_formation_as_non_root() {
    let Some(bins) = static_bins() else { return };
    let work = temp_dir("image");
    let Some(buildah) = Buildah::find(&work) else { return };

    buildah.build_image(&bins, &work, "herald-test");

    // Its config: a non-root user, no shell entrypoint, herald-web unless told otherwise.
    let inspect = buildah.run(&["inspect", "--type", "image", "herald-test"]);
    let inspect: Value = serde_json::from_slice(&inspect.stdout).expect("inspect JSON");
    let config = &inspect["OCIv1"]["config"];
    assert_eq!(config["User"], "65532:65532", "{config}");
    assert!(config["Entrypoint"].is_null(), "no entrypoint: {config}");
    assert_eq!(config["Cmd"], json!(["herald-web"]), "{config}");
    assert!(config["Env"].as_array().is_some_and(|e| e.iter().any(|v| v == "PATH=/usr/local/bin")), "{config}");

    // Its contents: exactly the three binaries, unchanged, and the CA bundle.
    buildah.run(&["from", "--name", "herald-test-run", "herald-test"]);
    let mount = buildah.run(&["mount", "herald-test-run"]);
    let mount = PathBuf::from(String::from_utf8_lossy(&mount.stdout).trim());
    let contents = files(&mount);
    let mut expected: Vec<String> = BINARIES.iter().map(|b| format!("usr/local/bin/{b}")).collect();
    expected.push(CA_BUNDLE.to_owned());
    expected.sort();
    assert_eq!(contents.keys().cloned().collect::<Vec<_>>(), expected, "nothing else in the image");
    for name in BINARIES {
        let inside = std::fs::read(mount.join("usr/local/bin").join(name)).unwrap();
        assert!(inside == std::fs::read(bins.join(name)).unwrap(), "{name} copied unchanged");
    }
    let size: u64 = contents.values().sum();
    eprintln!("image: {size} bytes ({:.1} MB) in {} files", size as f64 / 1e6, contents.len());
    buildah.run(&["umount", "herald-test-run"]);

    // Run it: the image's user owns nothing in it, so state goes on a volume it can write.
    let data = work.join("data");
    std::fs::create_dir_all(&data).unwrap();
    assert!(Command::new("chown").args(["65532:65532"]).arg(&data).status().unwrap().success());
    let volume = format!("{}:/data", data.display());
    let env: Vec<String> = [
        ("DATABASE_URL", "sqlite:///data/herald.db"),
        ("HERALD_SECRETS_KEYS", TEST_SECRETS_KEYS),
        ("HERALD_DELIVERY_ALLOWED_CIDRS", r#"["127.0.0.0/8"]"#),
        ("HERALD_SERVE_HOST", "127.0.0.1"),
        ("HERALD_SERVE_PORT", "0"),
        ("HERALD_WORKER_HOST", "127.0.0.1"),
        ("HERALD_WORKER_PORT", "0"),
    ]
    .iter()
    .map(|(k, v)| format!("{k}={v}"))
    .collect();
    let admin = |command: &[&str]| buildah.run(&buildah.run_in("herald-test-run", &volume, &env, command));
    admin(&["herald-admin", "migrate", "up"]);
    let owner = std::process::Command::new("stat").args(["-c", "%u"]).arg(data.join("herald.db")).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&owner.stdout).trim(), "65532", "ran as the image's user");
    let token = admin(&["herald-admin", "token", "create", "--org", "o"]);
    let token = String::from_utf8_lossy(&token.stdout).trim().to_owned();

    let path = std::env::var("PATH").unwrap_or_default();
    let start = |binary: &str| {
        let args = buildah.args(&buildah.run_in("herald-test-run", &volume, &env, &[binary]));
        Running::start_program(&buildah.program, &args, &[("PATH", &path)])
    };
    let mut web = start("herald-web");
    let mut worker = start("herald-worker");
    let address = web.address().await;
    worker.address().await;

    let receiver = Receiver::start(|_| 200);
    let api = Client::new(&address, &token);
    api.post("/app", &json!({"name": "A", "uid": "a"})).await;
    api.post("/app/a/endpoint", &json!({"url": format!("{}/hook", receiver.url)})).await;
    let (status, msg) = api.post("/app/a/msg", &json!({"eventType": "x.y", "payload": {"from": "image"}})).await;
    assert_eq!(status, 202, "{msg}");
    let got = receiver.wait_for(1, LONG).await;
    assert_eq!(got.len(), 1, "delivered from the image; worker: {:?}", worker.lines());
    assert_eq!(got[0].headers["webhook-id"], msg["id"].as_str().unwrap());

    // SIGTERM to the Herald processes themselves (buildah does not pass signals on): both stop
    // gracefully, and buildah reports their exit status.
    for (running, binary) in [(&mut web, "herald-web"), (&mut worker, "herald-worker")] {
        kill(herald_pid(running, binary), "TERM");
        assert_eq!(running.wait_exit(LONG).await.and_then(|s| s.code()), Some(0), "{binary}: {:?}", running.lines());
    }
    for pid in descendants(std::process::id()) {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap_or_default();
        if exe.to_string_lossy().contains("herald-") {
            kill(pid, "KILL");
        }
    }
    buildah.run(&["rm", "--all"]);
    buildah.run(&["rmi", "--all", "--force"]);
    let _ = std::fs::remove_dir_all(&work);
}
