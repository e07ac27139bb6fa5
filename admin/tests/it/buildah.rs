//! buildah, for the tests that build the Dockerfile's image (image.rs, compose.rs): its final
//! stage for real, the builder stage stood in for by the static binaries scripts/test.sh built
//! (the musl builder needs images from Docker Hub, which this machine cannot reach).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use testkit::workspace_root;

pub const BINARIES: [&str; 3] = ["herald-web", "herald-worker", "herald-admin"];
pub const CA_BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";

/// buildah, with its storage kept under `dir` (vfs: no overlay mounts needed), so the test
/// leaves nothing behind.
pub struct Buildah {
    pub program: PathBuf,
    storage: Vec<String>,
}

impl Buildah {
    /// `None` (a skip) outside CI when buildah is not installed; .ci/run installs it.
    pub fn find(dir: &Path) -> Option<Buildah> {
        let program = PathBuf::from("/usr/bin/buildah");
        if Command::new(&program).arg("--version").output().is_ok_and(|o| o.status.success()) {
            let storage = vec![
                "--storage-driver".to_owned(),
                "vfs".to_owned(),
                "--root".to_owned(),
                dir.join("storage").display().to_string(),
                "--runroot".to_owned(),
                dir.join("run").display().to_string(),
            ];
            return Some(Buildah { program, storage });
        }
        assert!(!testkit::in_ci(), "CI needs buildah (.ci/run installs it) to build the image");
        eprintln!("SKIP: buildah is not installed (apt-get install buildah)");
        None
    }

    pub fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        self.storage.iter().map(String::as_str).chain(args.iter().copied()).collect()
    }

    pub fn run(&self, args: &[&str]) -> Output {
        let out = Command::new(&self.program).args(self.args(args)).output().expect("run buildah");
        assert!(out.status.success(), "buildah {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    /// Builds the Dockerfile as `tag`, its builder stage's output (/out/ and the CA bundle)
    /// assembled under `work` from the binaries in `bins`.
    pub fn build_image(&self, bins: &Path, work: &Path, tag: &str) {
        let context = work.join("builder");
        std::fs::create_dir_all(context.join("out")).unwrap();
        std::fs::create_dir_all(context.join(CA_BUNDLE).parent().unwrap()).unwrap();
        for name in BINARIES {
            std::fs::copy(bins.join(name), context.join("out").join(name)).unwrap();
        }
        std::fs::copy(Path::new("/").join(CA_BUNDLE), context.join(CA_BUNDLE)).expect("the host's CA bundle");
        let root = workspace_root();
        let builder = format!("builder={}", context.display());
        let dockerfile = root.join("Dockerfile").display().to_string();
        let root_text = root.display().to_string();
        self.run(&["build", "--build-context", &builder, "--tag", tag, "--file", &dockerfile, &root_text]);
    }

    /// `buildah run` in the working container `container` with the image's own user, on the
    /// host network, `data` mounted at /data.
    pub fn run_in<'a>(
        &self,
        container: &'a str,
        data: &'a str,
        env: &'a [String],
        command: &[&'a str],
    ) -> Vec<&'a str> {
        let mut args = vec!["run", "--isolation", "chroot", "--network", "host", "--volume", data];
        for pair in env {
            args.extend(["--env", pair.as_str()]);
        }
        args.push(container);
        args.push("--");
        args.extend(command);
        args
    }
}
