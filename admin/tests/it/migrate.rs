//! `herald-admin migrate …` against real Postgres, MariaDB and SQLite.

use std::process::Output;
use std::time::Duration;
use testkit::{Running, TestDb, on_every_backend, run_admin};

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn lines_starting(out: &Output, word: &str) -> usize {
    text(out).lines().filter(|l| l.starts_with(word)).count()
}

on_every_backend! {
    async fn up_down_and_status(backend) {
        let Some(db) = TestDb::create(backend).await else {
            return;
        };
        let env = [("HERALD_DATABASE_URL", db.url.as_str())];
        let name = backend.name();

        let out = run_admin(&["migrate", "status"], &env);
        assert_eq!(out.status.code(), Some(1), "{name}: pending migrations make status fail");
        assert!(lines_starting(&out, "pending ") >= 1, "{name}: {}", text(&out));
        assert_eq!(lines_starting(&out, "applied "), 0);

        let out = run_admin(&["migrate", "up"], &env);
        assert!(out.status.success(), "{name}: up failed: {}", String::from_utf8_lossy(&out.stderr));
        let applied = lines_starting(&out, "applied ");
        assert!(applied >= 1, "{name}");

        let out = run_admin(&["migrate", "status"], &env);
        assert!(out.status.success(), "{name}");
        assert_eq!(lines_starting(&out, "applied "), applied);
        assert_eq!(lines_starting(&out, "pending "), 0);

        let out = run_admin(&["migrate", "up"], &env);
        assert!(out.status.success(), "{name}: a second up is a no-op");
        assert_eq!(lines_starting(&out, "applied "), 0);

        let out = run_admin(&["migrate", "down", "--steps", "99"], &env);
        assert!(out.status.success(), "{name}: down failed: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(lines_starting(&out, "reverted "), applied, "{name}: down stops at the first migration");

        let out = run_admin(&["migrate", "status"], &env);
        assert_eq!(lines_starting(&out, "pending "), applied, "{name}: everything pending again");

        // Down left a database that migrates cleanly again: the down scripts undo everything.
        let out = run_admin(&["migrate", "up"], &env);
        assert!(out.status.success(), "{name}: up after down: {}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(lines_starting(&out, "applied "), applied);
    }
}

on_every_backend! {
    async fn two_concurrent_ups_take_turns_and_both_succeed(backend) {
        let Some(db) = TestDb::create(backend).await else {
            return;
        };
        let url = db.url.clone();
        let runs: Vec<_> = (0..2)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || run_admin(&["migrate", "up"], &[("HERALD_DATABASE_URL", &url)]))
            })
            .collect();
        let outputs: Vec<Output> = runs.into_iter().map(|t| t.join().expect("thread")).collect();
        for out in &outputs {
            assert!(out.status.success(), "{}: {}", backend.name(), String::from_utf8_lossy(&out.stderr));
        }
        let total: usize = outputs.iter().map(|o| lines_starting(o, "applied ")).sum();
        let status = run_admin(&["migrate", "status"], &[("HERALD_DATABASE_URL", &url)]);
        assert!(status.status.success(), "{}", backend.name());
        assert_eq!(
            total,
            lines_starting(&status, "applied "),
            "{}: each migration applied exactly once",
            backend.name()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn status_wait_blocks_until_migrated_and_times_out_otherwise() {
    let Some(db) = TestDb::create(testkit::Backend::Sqlite).await else {
        return;
    };
    let env = [("HERALD_DATABASE_URL", db.url.as_str())];

    let out = run_admin(&["migrate", "status", "--wait", "--timeout", "1"], &env);
    assert_eq!(out.status.code(), Some(1), "gives up after the timeout");

    let mut waiter = Running::start("herald-admin", &["migrate", "status", "--wait"], &env);
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(waiter.wait_exit(Duration::ZERO).await.is_none(), "still waiting while migrations are pending");
    assert!(run_admin(&["migrate", "up"], &env).status.success());
    let status = waiter.wait_exit(Duration::from_secs(20)).await.expect("waiter returns once migrated");
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_database_fails_clearly() {
    let env =
        [("HERALD_DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"), ("HERALD_DATABASE_POOL_CONNECT_TIMEOUT", "2s")];
    let out = run_admin(&["migrate", "up"], &env);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("migration failed") && err.contains("database"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_local_postgres_certificate_is_verified_only_when_asked() {
    let Some(db) = TestDb::create(testkit::Backend::Postgres).await else {
        return;
    };
    // The local server's certificate is self-signed: a verifying mode refuses it, and the reason
    // shown is the TLS layer's own (or that the server offers no TLS at all).
    let url = format!("{}?sslmode=verify-full", db.url);
    let out = run_admin(&["migrate", "up"], &[("HERALD_DATABASE_URL", &url)]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("certificate") || err.contains("tls"), "{err}");
    // `require` encrypts without verifying (libpq's meaning), and the default `prefer` gets through.
    let url = format!("{}?sslmode=require", db.url);
    assert!(run_admin(&["migrate", "up"], &[("HERALD_DATABASE_URL", &url)]).status.success());
    assert!(run_admin(&["migrate", "status"], &[("HERALD_DATABASE_URL", &db.url)]).status.success());
}

on_every_backend! {
    async fn a_migration_that_cannot_take_the_lock_fails_clearly_and_changes_nothing(backend) {
        let Some(db) = TestDb::create(backend).await else { return };
        let name = backend.name();
        let env = [("HERALD_DATABASE_URL", db.url.as_str())];
        if backend == testkit::Backend::Sqlite {
            // SQLite's lock is its write lock: the file must exist with a schema to lock.
            assert!(run_admin(&["migrate", "up"], &env).status.success());
            assert!(run_admin(&["migrate", "down", "--steps", "1"], &env).status.success());
        }
        let pending_before = run_admin(&["migrate", "status"], &env);
        let held = db.hold_migration_lock().await;
        let out = tokio::task::spawn_blocking({
            let url = db.url.clone();
            move || run_admin(&["migrate", "up", "--lock-timeout", "1"], &[("HERALD_DATABASE_URL", &url)])
        })
        .await
        .expect("admin");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {err}");
        assert!(err.contains("migration lock"), "{name}: says why: {err}");
        assert_eq!(lines_starting(&out, "applied "), 0, "{name}");
        drop(held);
        let pending_after = run_admin(&["migrate", "status"], &env);
        assert_eq!(text(&pending_after), text(&pending_before), "{name}: nothing was changed");
        assert!(run_admin(&["migrate", "up", "--lock-timeout", "5"], &env).status.success(), "{name}: works once free");
    }
}
