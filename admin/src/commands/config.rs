//! `herald-admin config schema | validate | env | show`

use clap::{Subcommand, ValueEnum};
use herald::boot::load_or_exit;
use herald::cli::ConfigArgs;
use herald::config::{LeafType, Process, SCHEMA_TEXT, get_path, redacted, schema};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the JSON Schema every config is validated against.
    Schema,
    /// Check the configuration; exit 0 when valid, 78 with every problem otherwise.
    Validate,
    /// List every environment variable with its key, type and default.
    Env {
        /// Output format.
        #[arg(long, value_enum, default_value_t = EnvFormat::Text)]
        format: EnvFormat,
    },
    /// Print the effective configuration, secrets redacted.
    Show {
        /// Print each key with where its value came from, instead of JSON.
        #[arg(long)]
        origins: bool,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EnvFormat {
    /// Aligned columns for a terminal.
    Text,
    /// A Markdown table (the README's config reference).
    Markdown,
}

pub async fn run(cmd: ConfigCommand, args: &ConfigArgs) -> anyhow::Result<()> {
    match cmd {
        ConfigCommand::Schema => print!("{SCHEMA_TEXT}"),
        ConfigCommand::Env { format } => print!("{}", env_table(format)),
        ConfigCommand::Validate => {
            load_or_exit(Process::Admin, &args.sources(Process::Admin, vec![]));
            println!("configuration is valid");
        }
        ConfigCommand::Show { origins } => {
            let loaded = load_or_exit(Process::Admin, &args.sources(Process::Admin, vec![]));
            let shown = redacted(&loaded.document);
            if origins {
                for leaf in &schema().leaves {
                    let value = get_path(&shown, &leaf.path).map(|v| v.to_string()).unwrap_or_default();
                    println!("{} = {value}  ({})", leaf.path, loaded.origins.of(&leaf.path));
                }
            } else {
                println!("{}", serde_json::to_string_pretty(&shown).unwrap_or_default());
            }
        }
    }
    Ok(())
}

fn env_table(format: EnvFormat) -> String {
    let rows: Vec<[String; 5]> = schema()
        .leaves
        .iter()
        .map(|leaf| {
            let mut env = leaf.env_name();
            if leaf.secret {
                env.push_str(" (or _FILE)");
            }
            let kind = match (&leaf.definition, leaf.kind) {
                _ if !leaf.choices.is_empty() => leaf.choices.join(", "),
                (Some(definition), _) => definition.clone(),
                (None, LeafType::Array | LeafType::Object) => {
                    format!("{} (JSON)", leaf.kind.name())
                }
                (None, other) => other.name().to_owned(),
            };
            let mut about = leaf.description.clone();
            if leaf.restart {
                about.push_str(" Needs a restart.");
            }
            [env, leaf.path.clone(), kind, leaf.default.to_string(), about]
        })
        .collect();
    let mut out = String::new();
    match format {
        EnvFormat::Markdown => {
            out.push_str("| env var | key | type | default | description |\n|---|---|---|---|---|\n");
            for [env, key, kind, default, about] in rows {
                out.push_str(&format!("| `{env}` | `{key}` | {kind} | `{default}` | {about} |\n"));
            }
        }
        EnvFormat::Text => {
            let width = |i: usize| rows.iter().map(|r| r[i].len()).max().unwrap_or(0);
            let (w0, w1, w2, w3) = (width(0), width(1), width(2), width(3));
            for [env, key, kind, default, about] in &rows {
                out.push_str(&format!("{env:w0$}  {key:w1$}  {kind:w2$}  {default:w3$}  {about}\n"));
            }
        }
    }
    out.push_str(if matches!(format, EnvFormat::Markdown) { "\n" } else { "" });
    out.push_str(ALIASES);
    out
}

/// The conventional twelve-factor names, honoured beside the HERALD_* ones (which win).
const ALIASES: &str = "Also read: DATABASE_URL (database.url), AMQP_URL (queue.url), PORT (serve.port for \
herald-web, worker.port for herald-worker), HERALD_CONFIG (config files, separated by ':'); \
DATABASE_URL_FILE and AMQP_URL_FILE name files holding the value.\n";
