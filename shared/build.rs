//! The migrations are embedded in the binaries (`embed_migrations!`), which cargo does not know
//! to watch: without this, a new migration is left out of an incremental build.

fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
