//! Herald's binaries as real child processes: started with a controlled environment, their log
//! lines collected as they come, real signals sent with `kill`.

use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The path of a workspace binary, built beside the running test.
pub fn bin(name: &str) -> PathBuf {
    // Tests run from target/<profile>/deps/; the binaries sit one level up.
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(|deps| deps.parent()).expect("target profile dir");
    dir.join(name)
}

/// The encryption key tests give every process unless they set `HERALD_SECRETS_KEYS*` themselves.
pub const TEST_SECRETS_KEYS: &str = r#"["BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc="]"#;

fn command(name: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(bin(name));
    // A clean environment: only what the test says, so the developer's shell cannot leak in.
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default()).args(args);
    if !env.iter().any(|(k, _)| k.starts_with("HERALD_SECRETS_KEYS")) {
        cmd.env("HERALD_SECRETS_KEYS", TEST_SECRETS_KEYS);
    }
    for (key, value) in env {
        cmd.env(key, value);
    }
    cmd
}

/// Any program, with a clean environment plus `env`.
fn program_command(program: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear().args(args).envs(env.iter().copied());
    cmd
}

/// Runs `herald-admin` to completion.
pub fn run_admin(args: &[&str], env: &[(&str, &str)]) -> Output {
    command("herald-admin", args, env).stdin(Stdio::null()).output().expect("run herald-admin")
}

/// A running Herald process.
pub struct Running {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
    /// Where stdout and stderr go instead of pipes, if they do.
    log: Option<PathBuf>,
}

fn collect(stream: impl Read + Send + 'static) -> (Arc<Mutex<Vec<String>>>, std::thread::JoinHandle<()>) {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            sink.lock().expect("log lines").push(line);
        }
    });
    (lines, reader)
}

impl Running {
    /// Starts binary `name` (e.g. `herald-web`) with `args` and only the environment in `env`.
    pub fn start(name: &str, args: &[&str], env: &[(&str, &str)]) -> Running {
        Running::spawn(command(name, args, env))
    }

    /// Starts any program (e.g. buildah) with a clean environment plus `env`.
    pub fn start_program(program: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> Running {
        Running::spawn(program_command(program, args, env))
    }

    /// Like [`Running::start_program`], but stdout and stderr both go to the file `log`, not to
    /// pipes. A write to a file never blocks; a write to a full pipe does, and a signal that
    /// interrupts it runs the program's handler in the middle of the write. honcho's handler
    /// prints, and Python then raises "reentrant call" and honcho hangs with its children left
    /// running: its bug, which a test of Herald's shutdown must not trip over.
    pub fn start_program_logging_to(
        program: &std::path::Path,
        args: &[&str],
        env: &[(&str, &str)],
        log: &std::path::Path,
    ) -> Running {
        let file = std::fs::File::create(log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let err = file.try_clone().expect("log file handle");
        let child = program_command(program, args, env)
            .stdin(Stdio::piped())
            .stdout(file)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", program.display()));
        let none = || Arc::new(Mutex::new(Vec::new()));
        Running { child, stdout: none(), stderr: none(), readers: Vec::new(), log: Some(log.to_owned()) }
    }

    fn spawn(mut cmd: Command) -> Running {
        let name = format!("{:?}", cmd.get_program());
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let (stdout, out_reader) = collect(child.stdout.take().expect("piped stdout"));
        let (stderr, err_reader) = collect(child.stderr.take().expect("piped stderr"));
        Running { child, stdout, stderr, readers: vec![out_reader, err_reader], log: None }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every stdout line so far (with stderr's, when both go to a log file).
    pub fn lines(&self) -> Vec<String> {
        match &self.log {
            Some(log) => std::fs::read_to_string(log).unwrap_or_default().lines().map(str::to_owned).collect(),
            None => self.stdout.lock().expect("log lines").clone(),
        }
    }

    /// Every stderr line so far.
    pub fn stderr_lines(&self) -> Vec<String> {
        self.stderr.lock().expect("log lines").clone()
    }

    /// Stdout lines that are JSON log records.
    pub fn records(&self) -> Vec<Value> {
        self.lines().iter().filter_map(|l| serde_json::from_str(l).ok()).collect()
    }

    /// Waits for a JSON log record matching `pred`, counting only records after the first
    /// `skip` lines; returns it, or `None` after `timeout`.
    pub async fn wait_for_record(
        &self,
        skip: usize,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let found =
                self.lines().iter().skip(skip).filter_map(|l| serde_json::from_str::<Value>(l).ok()).find(|r| pred(r));
            if found.is_some() {
                return found;
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for a record whose `msg` is `msg`.
    pub async fn wait_for_msg(&self, skip: usize, msg: &str, timeout: Duration) -> Option<Value> {
        self.wait_for_record(skip, timeout, |r| r["msg"] == msg).await
    }

    /// The address the process listens on, from its "listening" log record (tests use port 0).
    pub async fn address(&self) -> String {
        let record = self.wait_for_msg(0, "listening", Duration::from_secs(20)).await.unwrap_or_else(|| {
            panic!("no 'listening' record; stdout: {:?}\nstderr: {:?}", self.lines(), self.stderr_lines())
        });
        let address = record["address"].as_str().expect("address field").to_owned();
        let port = address.rsplit(':').next().expect("port");
        format!("127.0.0.1:{port}")
    }

    /// Sends a real signal (`TERM`, `INT`, `HUP`, `KILL`, …) with `kill`.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill").args(["-s", name, &self.pid().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -s {name} failed");
    }

    /// Waits for the process to exit; `None` if it is still running after `timeout`.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                // Let the readers take in the last lines the process wrote.
                let drained = Instant::now() + Duration::from_secs(2);
                while !self.readers.iter().all(|r| r.is_finished()) && Instant::now() < drained {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// GETs `http://{address}{path}`; returns status and JSON body (Null when not JSON).
pub async fn get_json(address: &str, path: &str) -> reqwest::Result<(u16, Value)> {
    let response = crate::http().get(format!("http://{address}{path}")).send().await?;
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

/// Polls `path` until it answers `status`, for up to `timeout`; returns the last answer.
pub async fn poll_status(address: &str, path: &str, status: u16, timeout: Duration) -> Option<(u16, Value)> {
    let deadline = Instant::now() + timeout;
    let mut last = None;
    while Instant::now() < deadline {
        if let Ok(answer) = get_json(address, path).await {
            if answer.0 == status {
                return Some(answer);
            }
            last = Some(answer);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    last
}
