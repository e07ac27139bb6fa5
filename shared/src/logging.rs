//! Logging: slog records to stdout, one whole line each, JSON by default or text for terminals.
//! Level and format are read from the live config on every record, so a reload changes them at
//! once. Crates that log through `log` (actix-web, pools, lapin) are bridged into the same stream.

use crate::config::{ConfigHandle, LogFormat, LogLevel, Process};
use slog::{Drain, Logger, Never, OwnedKVList, PushFnValue, PushFnValueSerializer, Record, RecordStatic, o};
use std::io::{self, Write};
use std::sync::Mutex;

/// Where log lines go: stdout for the long-running processes; stderr for `herald-admin`, whose
/// stdout carries command output that scripts capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Output::Stdout => io::stdout().write(buf),
            Output::Stderr => io::stderr().write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Output::Stdout => io::stdout().flush(),
            Output::Stderr => io::stderr().flush(),
        }
    }
}

type JsonDrain = slog_json::Json<Output>;
type TextDrain = slog_term::FullFormat<slog_term::PlainSyncDecorator<Output>>;

/// Writes each record whole, at the moment it is logged (stdout flushes at each newline), in the
/// format and above the level the config holds now.
struct LiveDrain {
    config: ConfigHandle,
    json: Mutex<JsonDrain>,
    text: Mutex<TextDrain>,
}

fn slog_level(level: LogLevel) -> slog::Level {
    match level {
        LogLevel::Trace => slog::Level::Trace,
        LogLevel::Debug => slog::Level::Debug,
        LogLevel::Info => slog::Level::Info,
        LogLevel::Warn => slog::Level::Warning,
        LogLevel::Error => slog::Level::Error,
    }
}

/// The level a record is written at. The HTTP server logs a request it cannot parse (a bad
/// header, a malformed chunk) as an error; that is the client's fault, not Herald's, and anyone
/// who can reach the port could fill the error log with it: such records are written at debug.
/// Libraries instrumented with `tracing` (lapin) announce each span they open through `log`
/// when no tracing subscriber is installed: a bare span name (`io_loop;`) at the span's level,
/// which tells an operator nothing. Those are written at debug too.
fn effective_level(record: &Record<'_>) -> slog::Level {
    let from = |prefix: &str| record.tag().starts_with(prefix) || record.module().starts_with(prefix);
    let client_fault = from("actix_http::h1") && record.level().is_at_least(slog::Level::Warning);
    if client_fault || from("tracing::span") { slog::Level::Debug } else { record.level() }
}

impl LiveDrain {
    /// Writes one record whole; a line that cannot be written (closed stdout) must not take the
    /// process down.
    fn write(&self, format: LogFormat, record: &Record<'_>, values: &OwnedKVList) {
        match format {
            LogFormat::Json => {
                if let Ok(drain) = self.json.lock() {
                    let _ = drain.log(record, values);
                }
            }
            LogFormat::Text => {
                if let Ok(drain) = self.text.lock() {
                    let _ = drain.log(record, values);
                }
            }
        }
    }
}

impl Drain for LiveDrain {
    type Ok = ();
    type Err = Never;

    fn log(&self, record: &Record<'_>, values: &OwnedKVList) -> Result<(), Never> {
        let (level, format) = self.config.with(|c| (c.log.level, c.log.format));
        let effective = effective_level(record);
        if !effective.is_at_least(slog_level(level)) {
            return Ok(());
        }
        if effective != record.level() {
            let demoted = RecordStatic { location: record.location(), tag: record.tag(), level: effective };
            self.write(format, &Record::new(&demoted, record.msg(), record.kv()), values);
        } else {
            self.write(format, record, values);
        }
        Ok(())
    }

    fn is_enabled(&self, level: slog::Level) -> bool {
        level.is_at_least(self.config.with(|c| slog_level(c.log.level)))
    }
}

/// Builds the process's root logger, installs it globally for the life of the process and bridges
/// the `log` crate into it.
pub fn init(process: Process, config: ConfigHandle, output: Output) -> Logger {
    let drain = LiveDrain {
        json: Mutex::new(slog_json::Json::new(output).add_default_keys().build()),
        text: Mutex::new(slog_term::FullFormat::new(slog_term::PlainSyncDecorator::new(output)).build()),
        config: config.clone(),
    };
    let log = Logger::root(
        drain,
        o!(
            "process" => process.name(),
            "version" => env!("CARGO_PKG_VERSION"),
            "target" => PushFnValue(|r: &Record<'_>, out: PushFnValueSerializer<'_>| {
                out.emit(if r.tag().is_empty() { r.module() } else { r.tag() })
            }),
        ),
    );
    // Never unset: threads of the HTTP server's arbiters can still log (through the `log` bridge)
    // after main has dropped its guard, and slog-scope panics when no logger is set.
    slog_scope::set_global_logger(log.clone()).cancel_reset();
    // The bridge forwards everything; `sync_log_crate_level` keeps `log`'s own filter in step so
    // filtered-out records from other crates are not even formatted.
    let _ = slog_stdlog::init_with_level(log::Level::Trace);
    config.with(sync_log_crate_level);
    log
}

/// Applies the configured level to records coming through the `log` crate.
pub fn sync_log_crate_level(config: &crate::config::Config) {
    log::set_max_level(match config.log.level {
        LogLevel::Trace => log::LevelFilter::Trace,
        LogLevel::Debug => log::LevelFilter::Debug,
        LogLevel::Info => log::LevelFilter::Info,
        LogLevel::Warn => log::LevelFilter::Warn,
        LogLevel::Error => log::LevelFilter::Error,
    });
}
