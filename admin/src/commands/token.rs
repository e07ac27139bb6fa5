//! `herald-admin token create | list | revoke`: API tokens. A new token is printed once, alone on
//! stdout, so scripts can capture it; only its hash is stored.

use super::Unsuccessful;
use anyhow::Context as _;
use chrono::Duration as ChronoDuration;
use clap::Subcommand;
use herald::boot::Booted;
use herald::db::Database;
use herald::db::token::{TokenRow, insert_token, list_tokens, revoke_token};
use herald::token;
use slog::{error, info};

#[derive(Debug, Subcommand)]
pub enum Token {
    /// Create a token for an organisation and print it (it is shown only this once).
    Create {
        /// The organisation the token acts for.
        #[arg(long, value_parser = parse_org)]
        org: String,
        /// A label to recognise the token by.
        #[arg(long, default_value = "")]
        name: String,
        /// Lifetime, e.g. 30d or 12h (default: no expiry).
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        expires_in: Option<std::time::Duration>,
    },
    /// List tokens (never the tokens themselves).
    List {
        /// Only this organisation's tokens.
        #[arg(long)]
        org: Option<String>,
    },
    /// Revoke a token by its id (tok_…); it stops working at once.
    Revoke {
        /// The token id.
        id: String,
    },
}

/// An organisation name `--org` cannot take.
#[derive(Debug, thiserror::Error)]
#[error("use 1 to 64 letters, digits, '-', '_' or '.'")]
struct BadOrg;

fn parse_org(text: &str) -> Result<String, BadOrg> {
    let ok = !text.is_empty()
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok { Ok(text.to_owned()) } else { Err(BadOrg) }
}

pub async fn run(cmd: Token, booted: &Booted) -> anyhow::Result<()> {
    let config = booted.config.get();
    let db = Database::connect_lazy_sized(&config.database, 1).context("token command failed")?;
    execute(cmd, &db, &booted.log).await
}

async fn execute(cmd: Token, db: &Database, log: &slog::Logger) -> anyhow::Result<()> {
    let now = herald::clock::now();
    match cmd {
        Token::Create { org, name, expires_in } => {
            let new = token::generate().context("token command failed")?;
            let expires_at = expires_in.and_then(|d| ChronoDuration::from_std(d).ok()).map(|d| now + d);
            let row = TokenRow {
                id: new.id.clone(),
                org_id: org.clone(),
                name,
                token_hash: new.hash,
                app_id: None,
                created_at: now,
                expires_at,
                revoked_at: None,
            };
            insert_token(db, &row).await.context("token command failed")?;
            info!(log, "token created"; "id" => &row.id, "org" => &org);
            println!("{}", new.token);
        }
        Token::List { org } => {
            println!(
                "{:<30}  {:<20}  {:<20}  {:<20}  {:<20}  {:<8}",
                "ID", "ORG", "NAME", "CREATED", "EXPIRES", "STATE"
            );
            for row in list_tokens(db, org.as_deref()).await.context("token command failed")? {
                let state = match (row.revoked_at, row.expires_at) {
                    (Some(_), _) => "revoked",
                    (None, Some(at)) if at <= now => "expired",
                    _ => "active",
                };
                let when = |t: Option<chrono::NaiveDateTime>| t.map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string());
                println!(
                    "{:<30}  {:<20}  {:<20}  {:<20}  {:<20}  {state}",
                    row.id,
                    row.org_id,
                    row.name,
                    when(Some(row.created_at)).unwrap_or_default(),
                    when(row.expires_at).unwrap_or_else(|| "never".into()),
                );
            }
        }
        Token::Revoke { id } => {
            if !revoke_token(db, &id, now).await.context("token command failed")? {
                error!(log, "no such token"; "id" => &id);
                return Err(Unsuccessful("no such token").into());
            }
            info!(log, "token revoked"; "id" => &id);
            println!("revoked {id}");
        }
    }
    Ok(())
}
