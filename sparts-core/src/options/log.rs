//! The values of the logging options: `--level`'s filter directives and
//! `--log-format`.

use std::fmt;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::Directive;

/// What `--level` takes: tracing's filter directives, as `RUST_LOG` takes
/// them (`info,h2=warn,my_crate::db=debug`), read by tracing-subscriber's
/// `EnvFilter`.
///
/// Each comma-separated directive is a level (the default for every
/// target), or `TARGET=LEVEL`, or `TARGET[SPAN{FIELD=VALUE}]=LEVEL`. Levels
/// are `trace`, `debug`, `info`, `warn`, `error` and `off`, in any case,
/// plus the original's `WARNING`, `CRITICAL` and `FATAL`. Unlike `RUST_LOG`,
/// a target alone (`h2`, meaning `h2=trace`) is refused: `--level verbose`
/// is far more often a mistake than a crate's name; write `h2=trace`.
/// Without a bare level only the targets named log, as with `RUST_LOG`.
///
/// ```
/// use sparts_core::options::LogFilter;
///
/// let filter: LogFilter = "info,h2=WARNING,my_crate=debug".parse().unwrap();
/// assert_eq!(filter.directives(), "info,h2=warn,my_crate=debug");
/// assert!("info,h2=loud".parse::<LogFilter>().is_err());
/// assert!("verbose".parse::<LogFilter>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFilter {
    /// The directives with their levels spelled as tracing spells them.
    normalized: String,
    directives: Vec<Directive>,
}

impl LogFilter {
    /// The directives as `EnvFilter` reads them, the levels in tracing's
    /// spelling (`WARNING` reads `warn`).
    #[must_use]
    pub fn directives(&self) -> &str {
        &self.normalized
    }

    /// A fresh filter of these directives: one per layer that uses it.
    pub(crate) fn env_filter(&self) -> EnvFilter {
        self.directives
            .iter()
            .cloned()
            .fold(EnvFilter::default(), EnvFilter::add_directive)
    }
}

impl Default for LogFilter {
    /// `info`.
    fn default() -> Self {
        Self {
            normalized: "info".to_owned(),
            directives: vec![Directive::from(tracing::Level::INFO)],
        }
    }
}

impl fmt::Display for LogFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.normalized)
    }
}

impl FromStr for LogFilter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut normalized = Vec::new();
        let mut directives = Vec::new();
        // EnvFilter splits on every comma too.
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let text = normalize(part)?;
            let directive = Directive::from_str(&text)
                .map_err(|e| format!("`{part}` is not a filter directive: {e}"))?;
            normalized.push(text);
            directives.push(directive);
        }
        if directives.is_empty() {
            return Err("no filter directive given (expected a level such as info, or directives such as info,h2=warn)".to_owned());
        }
        Ok(Self {
            normalized: normalized.join(","),
            directives,
        })
    }
}

/// One directive with its level in tracing's spelling; an error when it
/// has no level or the level is not one.
fn normalize(directive: &str) -> Result<String, String> {
    let (target, level) = match directive.rsplit_once('=') {
        Some((target, level)) if !directive.ends_with(']') => (Some(target), level),
        _ => (None, directive),
    };
    let Some(level) = level_name(level) else {
        return Err(match target {
            None if !directive.contains(['[', '=', ':']) && !directive.is_empty() => format!(
                "`{directive}` is not a log level (expected error, warn, info, debug, trace or off, \
                 or TARGET=LEVEL)"
            ),
            None => format!("`{directive}` names no level (write TARGET=LEVEL)"),
            Some(_) => format!(
                "`{level}` in `{directive}` is not a log level \
                 (expected error, warn, info, debug, trace or off)"
            ),
        });
    };
    Ok(match target {
        Some(target) => format!("{target}={level}"),
        None => level.to_owned(),
    })
}

/// A level as tracing spells it, from any case and the original's names.
fn level_name(s: &str) -> Option<&'static str> {
    Some(match s.trim().to_ascii_lowercase().as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        "error" | "critical" | "fatal" => "error",
        "off" => "off",
        _ => return None,
    })
}

/// What `--log-format` takes: how each log line is written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
#[non_exhaustive]
pub enum LogFormat {
    /// One human-readable line per event: time, level, spans, message and
    /// fields.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, the
    /// message and fields at the top level, the current span and the span
    /// list (`span`, `spans`).
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<String, String> {
        s.parse::<LogFilter>().map(|f| f.directives().to_owned())
    }

    #[test]
    fn directives_keep_the_originals_level_names() {
        assert_eq!(parse("WARNING").as_deref(), Ok("warn"));
        assert_eq!(parse("Critical").as_deref(), Ok("error"));
        assert_eq!(parse("debug").as_deref(), Ok("debug"));
        assert_eq!(
            parse("info, h2=WARNING ,my_crate::db=debug").as_deref(),
            Ok("info,h2=warn,my_crate::db=debug")
        );
        assert_eq!(
            parse("info,sparts[request{task=HttpTask}]=trace").as_deref(),
            Ok("info,sparts[request{task=HttpTask}]=trace")
        );
        assert_eq!(parse("off").as_deref(), Ok("off"));
    }

    #[test]
    fn bad_directives_say_what_is_wrong() {
        let loud = parse("loud").expect_err("not a level");
        assert!(loud.contains("`loud` is not a log level"), "{loud}");
        let bad_level = parse("info,h2=loud").expect_err("bad level");
        assert!(bad_level.contains("`loud` in `h2=loud`"), "{bad_level}");
        let no_level = parse("h2[conn]").expect_err("no level");
        assert!(no_level.contains("names no level"), "{no_level}");
        assert!(parse("").is_err() && parse(" , ").is_err());
        let syntax = parse("a[{=x]=info").expect_err("a bad span filter");
        assert!(syntax.contains("is not a filter directive"), "{syntax}");
    }

    #[test]
    fn the_filter_enables_by_target() {
        let filter = parse("warn,chatty=debug")
            .and_then(|s| s.parse::<LogFilter>())
            .expect("valid");
        let dispatch = tracing::Dispatch::new(tracing_subscriber::layer::SubscriberExt::with(
            tracing_subscriber::registry(),
            filter.env_filter(),
        ));
        tracing::dispatcher::with_default(&dispatch, || {
            assert!(tracing::enabled!(target: "chatty", tracing::Level::DEBUG));
            assert!(!tracing::enabled!(target: "other", tracing::Level::INFO));
            assert!(tracing::enabled!(target: "other", tracing::Level::WARN));
        });
    }
}
