//! herald-admin's integration tests: migrations, config, tokens, the deploy manifests and the image.
//! One test binary per crate: each binary links the whole world, so one builds and starts
//! faster than many. One module per area.

mod buildah;
mod cli;
mod compose;
mod config;
mod deploy;
mod image;
mod migrate;
mod prune;
mod static_chroot;
mod tls;
