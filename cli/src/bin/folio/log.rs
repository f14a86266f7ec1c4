//! The engine's log events on stderr (`-v`, RUST_LOG).

use tracing_subscriber::EnvFilter;

/// Sends the engine's `tracing` events to stderr at the level `-v` or RUST_LOG asks for (none
/// without either).
pub fn install(verbose: u8) {
    let level = match verbose {
        0 => "off",
        1 => "warn",
        2 => "info",
        3 => "debug",
        _ => "trace",
    };
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(true)
        .try_init();
}
