//! docker-compose.yml run for real: a Docker engine (Debian's docker.io, vfs storage) and Compose
//! 1.29 start the file unchanged, with stand-ins for `postgres:16` and `rabbitmq:3.13-management`
//! built from Debian's packages (testkit/compose/standins.sh: Docker Hub cannot be reached here)
//! and Herald's image built from the Dockerfile with buildah (see buildah.rs), loaded into the
//! engine. The formation is migrated, scaled, used through every web replica, checked for the
//! hardening the file asks for, stopped and removed.

use crate::buildah::Buildah;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use testkit::{Client, TEST_SECRETS_KEYS, eventually, static_bins, temp_dir, workspace_root};

const COMPOSE: &str = "/usr/bin/docker-compose";
const WEB_REPLICAS: usize = 3;
const WORKER_REPLICAS: usize = 2;
const MESSAGES_PER_REPLICA: usize = 10;
/// No docker or compose command may take longer (the first stand-in build takes a few minutes).
const COMMAND_LIMIT: Duration = Duration::from_secs(900);
const LONG: Duration = Duration::from_secs(60);
/// The process ids the image runs as (the Dockerfile's USER).
const IMAGE_USER: &str = "65532";
/// Docker's default address pools: the receiver's container sits in one of them.
const DOCKER_NETWORKS: &str = r#"["172.16.0.0/12", "192.168.0.0/16"]"#;

/// Runs a program to its end within [`COMMAND_LIMIT`] and asserts it succeeded.
async fn run(program: &str, args: &[&str], env: &[(String, String)]) -> Output {
    let out = run_unchecked(program, args, env).await;
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

async fn run_unchecked(program: &str, args: &[&str], env: &[(String, String)]) -> Output {
    let mut command = tokio::process::Command::new(program);
    command.args(args).envs(env.iter().map(|(k, v)| (k, v))).stdin(Stdio::null()).kill_on_drop(true);
    tokio::time::timeout(COMMAND_LIMIT, command.output())
        .await
        .unwrap_or_else(|_| panic!("{program} {args:?} took longer than {COMMAND_LIMIT:?}"))
        .unwrap_or_else(|e| panic!("run {program}: {e}"))
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Whether a Docker engine answers and Compose 1.29 is installed: `false` (a skip) outside CI,
/// a failure in CI, where .ci/run installs and starts both.
fn engine_available() -> bool {
    let engine = Command::new("docker").arg("info").stdout(Stdio::null()).stderr(Stdio::null()).status();
    let compose = Command::new(COMPOSE).arg("version").stdout(Stdio::null()).stderr(Stdio::null()).status();
    if engine.is_ok_and(|s| s.success()) && compose.is_ok_and(|s| s.success()) {
        return true;
    }
    assert!(!testkit::in_ci(), "CI needs a Docker engine and docker-compose (.ci/run starts and installs them)");
    eprintln!("SKIP: no Docker engine or no docker-compose (see .ci/run)");
    false
}

/// Removes what an earlier run left when it was killed before its own cleanup: its containers
/// (which restart with the engine), network, volumes and image.
fn sweep_leftovers() {
    let list = |args: &[&str]| -> Vec<String> {
        let out = Command::new("docker").args(args).output().map(|o| o.stdout).unwrap_or_default();
        String::from_utf8_lossy(&out).lines().map(str::to_owned).collect()
    };
    let remove = |args: &[&str], ids: Vec<String>| {
        if !ids.is_empty() {
            let _ = Command::new("docker").args(args).args(&ids).output();
        }
    };
    remove(&["rm", "--force", "--volumes"], list(&["ps", "--all", "--quiet", "--filter", "name=heraldcompose"]));
    remove(&["network", "rm"], list(&["network", "ls", "--quiet", "--filter", "name=heraldcompose"]));
    remove(&["volume", "rm", "--force"], list(&["volume", "ls", "--quiet", "--filter", "name=heraldcompose"]));
    let images = list(&[
        "images",
        "--quiet",
        "--filter",
        "reference=herald-compose-test",
        "--filter",
        "reference=localhost/herald-compose-test",
    ]);
    remove(&["rmi", "--force"], images);
}

/// A scratch directory removed when dropped, also when the test fails.
struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One compose project: the repository's docker-compose.yml under a name of its own. Dropping it
/// removes whatever the test left (containers, network, volumes, the receiver, the image), also
/// when the test fails half-way.
struct Project {
    name: String,
    image: String,
    env: Vec<(String, String)>,
}

impl Project {
    fn new(image: &str) -> Project {
        // Letters and digits only: Compose 1.29 drops anything else from project names.
        let name = format!("heraldcompose{}", std::process::id());
        let mut env: Vec<(String, String)> = ["PATH", "HOME", "DOCKER_HOST"]
            .iter()
            .filter_map(|k| Some((k.to_string(), std::env::var(k).ok()?)))
            .collect();
        env.extend(
            [
                ("HERALD_SECRETS_KEYS", TEST_SECRETS_KEYS),
                ("HERALD_IMAGE", image),
                ("HERALD_DELIVERY_ALLOWED_CIDRS", DOCKER_NETWORKS),
                // Not the defaults, so the passwords are seen to reach both sides.
                ("POSTGRES_PASSWORD", "pgsecret7"),
                ("RABBITMQ_PASSWORD", "mqsecret7"),
            ]
            .map(|(k, v)| (k.to_owned(), v.to_owned())),
        );
        Project { name, image: image.to_owned(), env }
    }

    fn args<'a>(&'a self, file: &'a str, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["--ansi", "never", "--project-name", &self.name, "--file", file];
        all.extend(args);
        all
    }

    async fn compose(&self, args: &[&str]) -> Output {
        let file = workspace_root().join("docker-compose.yml").display().to_string();
        run(COMPOSE, &self.args(&file, args), &self.env).await
    }

    fn receiver(&self) -> String {
        format!("{}-receiver", self.name)
    }

    /// Every container of the project (compose's label), inspected.
    async fn containers(&self) -> Vec<Value> {
        let filter = format!("label=com.docker.compose.project={}", self.name);
        let ids = text(&run("docker", &["ps", "--all", "--quiet", "--filter", &filter], &[]).await);
        if ids.is_empty() {
            return Vec::new();
        }
        let mut args = vec!["inspect"];
        args.extend(ids.lines());
        serde_json::from_slice(&run("docker", &args, &[]).await.stdout).expect("docker inspect JSON")
    }

    /// The project's containers of `service`.
    async fn service(&self, service: &str) -> Vec<Value> {
        self.containers()
            .await
            .into_iter()
            .filter(|c| c["Config"]["Labels"]["com.docker.compose.service"] == service)
            .collect()
    }

    /// The address on the host of web replica `index` (1-based).
    async fn web(&self, index: usize) -> String {
        let index = index.to_string();
        let port = text(&self.compose(&["port", "--index", &index, "web", "8071"]).await);
        let port = port.rsplit(':').next().expect("host:port").to_owned();
        format!("127.0.0.1:{port}")
    }

    /// What the receiver container printed: one JSON object per request.
    async fn received(&self) -> Vec<Value> {
        let logs = run("docker", &["logs", &self.receiver()], &[]).await;
        text(&logs).lines().filter_map(|line| serde_json::from_str(line).ok()).collect()
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let quiet = |program: &str, args: &[&str]| {
            let _ = Command::new(program).args(args).envs(self.env.iter().map(|(k, v)| (k, v))).output();
        };
        quiet("docker", &["rm", "--force", &self.receiver()]);
        let file = workspace_root().join("docker-compose.yml").display().to_string();
        quiet(COMPOSE, &self.args(&file, &["down", "--volumes", "--remove-orphans", "--timeout", "1"]));
        // buildah's archive names the image both ways.
        quiet("docker", &["rmi", "--force", &self.image, &format!("localhost/{}", self.image)]);
    }
}

/// Waits until web at `address` answers ready.
async fn ready(address: &str) {
    let url = format!("http://{address}/health/ready");
    let status = eventually(
        LONG,
        || async { testkit::http().get(&url).send().await.map(|r| r.status().as_u16()).ok() },
        |s| *s == Some(200),
    )
    .await;
    assert_eq!(status, Some(200), "web at {address} never became ready");
}

/// `/proc/<pid>/status` of a container's main process, as name → value.
fn process_status(pid: u64) -> std::collections::BTreeMap<String, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    status.lines().filter_map(|l| l.split_once(':')).map(|(k, v)| (k.to_owned(), v.trim().to_owned())).collect()
}

/// The mount options of a process's root filesystem, from `/proc/<pid>/mountinfo`.
fn root_mount_options(pid: u64) -> String {
    let mounts = std::fs::read_to_string(format!("/proc/{pid}/mountinfo")).expect("mountinfo");
    // Fields: id, parent, major:minor, root, mount point, options, …
    let root = mounts.lines().find(|l| l.split(' ').nth(4) == Some("/")).expect("a mount at /");
    root.split(' ').nth(5).expect("mount options").to_owned()
}

/// The hardening the compose file asks for, in the configuration and in the running process.
fn assert_hardened(container: &Value) {
    let name = container["Name"].as_str().unwrap_or_default();
    let host = &container["HostConfig"];
    assert_eq!(host["ReadonlyRootfs"], true, "{name}: read-only root filesystem");
    assert_eq!(host["CapDrop"], json!(["ALL"]), "{name}: every capability dropped");
    assert!(
        host["SecurityOpt"].as_array().is_some_and(|o| o.iter().any(|v| v == "no-new-privileges:true")),
        "{name}: no-new-privileges: {}",
        host["SecurityOpt"]
    );
    assert_eq!(container["Config"]["User"], format!("{IMAGE_USER}:{IMAGE_USER}"), "{name}: the image's user");

    let pid = container["State"]["Pid"].as_u64().filter(|p| *p > 0).unwrap_or_else(|| panic!("{name} is not running"));
    let status = process_status(pid);
    for ids in ["Uid", "Gid"] {
        let all: BTreeSet<&str> = status[ids].split_whitespace().collect();
        assert_eq!(all, BTreeSet::from([IMAGE_USER]), "{name}: real, effective, saved and fs {ids}");
    }
    for set in ["CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        assert_eq!(status[set], "0000000000000000", "{name}: {set}");
    }
    assert_eq!(status["NoNewPrivs"], "1", "{name}: no new privileges");
    let options = root_mount_options(pid);
    assert!(options.split(',').any(|o| o == "ro"), "{name}: root mounted {options}");
}

/// A container's exit code once stopped.
fn exit_code(container: &Value) -> (String, Option<i64>) {
    (container["Name"].as_str().unwrap_or_default().to_owned(), container["State"]["ExitCode"].as_i64())
}

#[tokio::test(flavor = "multi_thread")]
async fn compose_migrates_scales_delivers_signed_stops_cleanly_and_leaves_nothing() {
    let Some(bins) = static_bins() else { return };
    if !engine_available() {
        return;
    }
    sweep_leftovers();
    let scratch = Scratch(temp_dir("compose"));
    let work = scratch.0.clone();
    let Some(buildah) = Buildah::find(&work) else { return };

    // The stand-ins (kept between runs) and Herald's image, loaded into the engine.
    let standins = workspace_root().join("testkit/compose/standins.sh").display().to_string();
    run("bash", &[&standins], &[]).await;
    let image = format!("herald-compose-test:{}", std::process::id());
    buildah.build_image(&bins, &work, &image);
    let archive = work.join("image.tar").display().to_string();
    buildah.run(&["push", &image, &format!("docker-archive:{archive}:{image}")]);
    let project = Project::new(&image);
    run("docker", &["load", "--quiet", "--input", &archive], &[]).await;
    buildah.run(&["rmi", "--all", "--force"]);

    // Up: migrate runs once and exits 0; web and worker start only after it.
    let up = Instant::now();
    project.compose(&["up", "--detach"]).await;
    let up_took = up.elapsed();
    let migrate = project.service("migrate").await;
    assert_eq!(migrate.len(), 1, "one migrate container");
    assert_eq!(migrate[0]["State"]["Status"], "exited", "{}", migrate[0]["State"]);
    assert_eq!(migrate[0]["State"]["ExitCode"], 0, "{}", migrate[0]["State"]);
    let migrated = chrono::DateTime::parse_from_rfc3339(migrate[0]["State"]["FinishedAt"].as_str().unwrap()).unwrap();
    for service in ["web", "worker"] {
        let containers = project.service(service).await;
        assert_eq!(containers.len(), 1, "one {service} before scaling");
        assert_eq!(containers[0]["State"]["Status"], "running", "{service}: {}", containers[0]["State"]);
        let started =
            chrono::DateTime::parse_from_rfc3339(containers[0]["State"]["StartedAt"].as_str().unwrap()).unwrap();
        assert!(started >= migrated, "{service} started at {started}, before migrate finished at {migrated}");
    }

    // A token through the one-off service, as the README shows.
    let token = text(
        &project
            .compose(&["run", "--rm", "-T", "migrate", "herald-admin", "token", "create", "--org", "compose"])
            .await,
    );
    assert!(!token.is_empty() && !token.contains(char::is_whitespace), "one token on stdout: {token:?}");

    // The receiver, on the compose network under the name `receiver`.
    let web = project.service("web").await;
    let network =
        web[0]["NetworkSettings"]["Networks"].as_object().and_then(|n| n.keys().next().cloned()).expect("network");
    let receiver = project.receiver();
    run(
        "docker",
        &[
            "run",
            "--detach",
            "--name",
            &receiver,
            "--network",
            &network,
            "--network-alias",
            "receiver",
            "herald-fixture/receiver",
        ],
        &[],
    )
    .await;

    let first = project.web(1).await;
    ready(&first).await;
    let api = Client::new(&first, &token);
    let (status, app) = api.post("/app", &json!({"name": "Compose", "uid": "compose"})).await;
    assert_eq!(status, 201, "{app}");
    let (status, endpoint) =
        api.post("/app/compose/endpoint", &json!({"url": "http://receiver:8000/hook", "uid": "rx"})).await;
    assert_eq!(status, 201, "{endpoint}");
    let secret = api.get("/app/compose/endpoint/rx/secret").await.1["key"].as_str().expect("secret").to_owned();
    let published = Instant::now();
    let (status, msg) = api.post("/app/compose/msg", &json!({"eventType": "compose.up", "payload": {"n": 0}})).await;
    assert_eq!(status, 202, "{msg}");
    let arrived = eventually(LONG, || project.received(), |r| !r.is_empty()).await;
    assert_eq!(arrived.len(), 1, "the first message delivered");
    eprintln!(
        "compose: `up --detach` took {up_took:.1?}; from `up` to the first delivery {:.1?} (token, receiver, \
         application and endpoint included); that message from publish to `docker logs` {:.0?}",
        up.elapsed(),
        published.elapsed()
    );
    let mut sent: BTreeSet<String> = BTreeSet::from([msg["id"].as_str().unwrap().to_owned()]);

    // Scaled: three web replicas, two workers, each replica publishing.
    let (web_replicas, worker_replicas) = (WEB_REPLICAS.to_string(), WORKER_REPLICAS.to_string());
    let web_scale = format!("web={web_replicas}");
    let worker_scale = format!("worker={worker_replicas}");
    project.compose(&["up", "--detach", "--scale", &web_scale, "--scale", &worker_scale]).await;
    assert_eq!(project.service("web").await.len(), WEB_REPLICAS);
    assert_eq!(project.service("worker").await.len(), WORKER_REPLICAS);
    for replica in 1..=WEB_REPLICAS {
        let address = project.web(replica).await;
        ready(&address).await;
        let api = Client::new(&address, &token);
        for n in 0..MESSAGES_PER_REPLICA {
            let payload = json!({"eventType": "compose.scaled", "payload": {"replica": replica, "n": n}});
            let (status, msg) = api.post("/app/compose/msg", &payload).await;
            assert_eq!(status, 202, "replica {replica}: {msg}");
            sent.insert(msg["id"].as_str().unwrap().to_owned());
        }
    }
    let ids = |received: &[Value]| -> BTreeSet<String> {
        received.iter().filter_map(|r| r["headers"]["webhook-id"].as_str().map(str::to_owned)).collect()
    };
    let arrived = eventually(LONG, || project.received(), |r| ids(r) == sent).await;
    if ids(&arrived) != sent {
        let logs = project.compose(&["logs", "--no-color", "worker", "web"]).await;
        let missing: Vec<&String> = sent.iter().filter(|id| !ids(&arrived).contains(*id)).collect();
        let mut attempts = Vec::new();
        for id in &missing {
            attempts.push(api.get(&format!("/app/compose/attempt/msg/{id}")).await.1);
        }
        panic!("not delivered: {missing:?}\nattempts: {attempts:?}\nlogs:\n{}", text(&logs));
    }

    // Signed: the receivers' own libraries verify every request.
    testkit::verify_signatures(&secret, &arrived).await;

    // Hardened, as configured and as running.
    let herald: Vec<Value> = project
        .containers()
        .await
        .into_iter()
        .filter(|c| ["web", "worker"].iter().any(|s| c["Config"]["Labels"]["com.docker.compose.service"] == *s))
        .collect();
    assert_eq!(herald.len(), WEB_REPLICAS + WORKER_REPLICAS);
    herald.iter().for_each(assert_hardened);

    // Stopped: every Herald process drains and exits 0 (a SIGKILL after the grace period is 137).
    project.compose(&["stop"]).await;
    let herald_services = ["migrate", "web", "worker"];
    let codes: Vec<(String, Option<i64>)> = project
        .containers()
        .await
        .iter()
        .filter(|c| herald_services.iter().any(|s| c["Config"]["Labels"]["com.docker.compose.service"] == *s))
        .map(exit_code)
        .collect();
    assert_eq!(codes.len(), 1 + WEB_REPLICAS + WORKER_REPLICAS, "{codes:?}");
    assert!(codes.iter().all(|(_, code)| *code == Some(0)), "every Herald container exits 0: {codes:?}");

    // Down with volumes: nothing of the project is left.
    run("docker", &["rm", "--force", &receiver], &[]).await;
    project.compose(&["down", "--volumes"]).await;
    let label = format!("label=com.docker.compose.project={}", project.name);
    for kind in ["container", "network", "volume"] {
        let mut args = vec![kind, "ls", "--quiet", "--filter", &label];
        if kind == "container" {
            args.push("--all");
        }
        let left = text(&run("docker", &args, &[]).await);
        assert!(left.is_empty(), "{kind}s left after down -v: {left}");
    }
}
