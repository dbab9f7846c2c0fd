//! How both front ends (the app and the CLI) choose what to log: `LATCHKEY_LOG`.

use tracing_subscriber::filter::{LevelFilter, Targets};

/// The variable that sets what is logged.
pub const LOG_ENV: &str = "LATCHKEY_LOG";

/// `LATCHKEY_LOG` as a filter (`debug`, `latchkey_auth=debug,warn`, …); warnings only when it is
/// unset, and when it is not a filter (said on stderr, naming the value).
pub fn log_filter() -> Targets {
    let warnings = Targets::new().with_default(LevelFilter::WARN);
    let Ok(value) = std::env::var(LOG_ENV) else {
        return warnings;
    };
    value.parse().unwrap_or_else(|err| {
        eprintln!("{LOG_ENV}={value:?} is not a log filter ({err}); logging warnings only");
        warnings
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn a_filter_names_targets_and_levels() {
        let filter: Targets = "latchkey_auth=debug,warn".parse().unwrap();
        assert!(filter.would_enable("latchkey_auth::refresh", &Level::DEBUG));
        assert!(!filter.would_enable("hyper", &Level::INFO));
        assert!(filter.would_enable("hyper", &Level::WARN));
    }
}
