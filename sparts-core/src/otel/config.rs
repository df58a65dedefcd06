//! What configures the traces: the service's `--otel-*` options first,
//! then OpenTelemetry's standard environment variables, then defaults.
//! Every value is checked at start; a bad one is a usage error.

use crate::options::OtelOptions;
use crate::options::otel::{
    Protocol, Sampler, parse_endpoint, parse_protocol, parse_ratio, parse_sampler,
};

/// The resolved configuration of a service that exports traces.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Config {
    /// The exporter's URL: the gRPC endpoint, or the full HTTP URL of
    /// the traces (`…/v1/traces`).
    pub(crate) endpoint: String,
    pub(crate) protocol: Protocol,
    pub(crate) service_name: String,
    pub(crate) service_version: Option<String>,
    pub(crate) sampler: Sampler,
}

/// One setting: the option when given, else the first of the variables set.
fn pick<'a>(
    option: Option<&'a str>,
    vars: &[&'static str],
    env: &'a impl Fn(&str) -> Option<String>,
) -> Option<(String, Option<&'static str>)> {
    if let Some(value) = option {
        return Some((value.to_owned(), None));
    }
    vars.iter()
        .find_map(|var| env(var).map(|value| (value, Some(*var))))
}

/// Runs a parser on a value from a variable, naming the variable if it fails.
fn checked<T>(
    (value, var): (String, Option<&'static str>),
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<(T, Option<&'static str>), String> {
    match parse(&value) {
        Ok(parsed) => Ok((parsed, var)),
        Err(reason) => Err(match var {
            Some(var) => format!("{var}: {reason}"),
            None => reason,
        }),
    }
}

impl Config {
    /// The configuration from the options and the environment (`env`
    /// reads a variable; an empty value counts as unset, as the
    /// specification says). `None` when nothing is to be exported: no
    /// endpoint, `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
    pub(crate) fn resolve(
        options: &OtelOptions,
        service: &str,
        version: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, String> {
        let env = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        if env("OTEL_SDK_DISABLED").is_some_and(|v| v.trim().eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        match env("OTEL_TRACES_EXPORTER").as_deref().map(str::trim) {
            None | Some("otlp") => {}
            Some("none") => return Ok(None),
            Some(other) => {
                return Err(format!(
                    "OTEL_TRACES_EXPORTER: `{other}` is not supported (expected otlp or none)"
                ));
            }
        }
        let protocol = match pick(
            options.otel_protocol.as_deref(),
            &[
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
                "OTEL_EXPORTER_OTLP_PROTOCOL",
            ],
            &env,
        ) {
            Some(given) => checked(given, |s| parse_protocol(s.trim()))?.0,
            None => Protocol::HttpProtobuf,
        };
        let service_name = pick(
            options.otel_service_name.as_deref(),
            &["OTEL_SERVICE_NAME"],
            &env,
        )
        .map_or_else(|| service.to_owned(), |(name, _)| name);
        let ratio = match options.otel_sampler_arg {
            Some(ratio) => ratio,
            None => match env("OTEL_TRACES_SAMPLER_ARG") {
                Some(arg) => checked((arg, Some("OTEL_TRACES_SAMPLER_ARG")), parse_ratio)?.0,
                None => 1.0,
            },
        };
        let sampler = match pick(
            options.otel_sampler.as_deref(),
            &["OTEL_TRACES_SAMPLER"],
            &env,
        ) {
            Some(given) => checked(given, |s| parse_sampler(s.trim(), ratio))?.0,
            None => Sampler::ParentBasedAlwaysOn,
        };
        // Checked last: every other value is checked even when nothing is
        // exported, so a mistake shows before the endpoint is set.
        let Some(given) = pick(
            options.otel_endpoint.as_deref(),
            &[
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "OTEL_EXPORTER_OTLP_ENDPOINT",
            ],
            &env,
        ) else {
            return Ok(None);
        };
        let (base, var) = checked(given, |s| parse_endpoint(s.trim()))?;
        // The traces' own variable is the whole URL; the general one and
        // the option are the collector's base, under which HTTP posts
        // traces to `/v1/traces`.
        let endpoint = match (protocol, var) {
            (Protocol::HttpProtobuf, Some("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))
            | (Protocol::Grpc, _) => base,
            (Protocol::HttpProtobuf, _) => format!("{}/v1/traces", base.trim_end_matches('/')),
        };
        Ok(Some(Self {
            endpoint,
            protocol,
            service_name,
            service_version: version.map(str::to_owned),
            sampler,
        }))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        otel: OtelOptions,
    }

    fn options(args: &[&str]) -> Result<OtelOptions, clap::Error> {
        Cli::try_parse_from(std::iter::once("svc").chain(args.iter().copied())).map(|c| c.otel)
    }

    fn resolve(args: &[&str], vars: &[(&str, &str)]) -> Result<Option<Config>, String> {
        let options = options(args).map_err(|e| e.to_string())?;
        Config::resolve(&options, "Svc", Some("1.2"), |name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn no_endpoint_means_no_traces() {
        assert_eq!(resolve(&[], &[]), Ok(None));
        let sampled = [("OTEL_TRACES_SAMPLER", "always_on")];
        assert_eq!(resolve(&[], &sampled), Ok(None));
        let bad = [("OTEL_TRACES_SAMPLER", "sometimes")];
        assert!(
            resolve(&[], &bad).is_err(),
            "checked without an endpoint too"
        );
        assert_eq!(
            resolve(&[], &[("OTEL_EXPORTER_OTLP_ENDPOINT", "")]),
            Ok(None)
        );
        let on = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")];
        assert!(resolve(&[], &on).is_ok_and(|c| c.is_some()));
        let disabled = [on[0], ("OTEL_SDK_DISABLED", "TRUE")];
        assert_eq!(resolve(&[], &disabled), Ok(None));
        let none = [on[0], ("OTEL_TRACES_EXPORTER", "none")];
        assert_eq!(resolve(&[], &none), Ok(None));
    }

    #[test]
    fn standard_variables_configure_it_with_their_defaults() {
        let config = resolve(
            &[],
            &[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/")],
        )
        .ok()
        .flatten();
        assert_eq!(
            config,
            Some(Config {
                endpoint: "http://collector:4318/v1/traces".to_owned(),
                protocol: Protocol::HttpProtobuf,
                service_name: "Svc".to_owned(),
                service_version: Some("1.2".to_owned()),
                sampler: Sampler::ParentBasedAlwaysOn,
            })
        );
        let vars = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:1"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                "http://collector:4317",
            ),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_SERVICE_NAME", "kv"),
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.25"),
        ];
        let config = resolve(&[], &vars).ok().flatten();
        assert_eq!(
            config.map(|c| (c.endpoint, c.protocol, c.service_name, c.sampler)),
            Some((
                "http://collector:4317".to_owned(),
                Protocol::Grpc,
                "kv".to_owned(),
                Sampler::ParentBasedTraceIdRatio(0.25)
            ))
        );
    }

    #[test]
    fn options_win_over_the_variables() {
        let vars = [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_TRACES_SAMPLER", "always_off"),
        ];
        let args = [
            "--otel-endpoint",
            "http://opt:9999",
            "--otel-protocol",
            "http/protobuf",
            "--otel-service-name",
            "named",
            "--otel-sampler",
            "traceidratio",
            "--otel-sampler-arg",
            "0.5",
        ];
        let config = resolve(&args, &vars).ok().flatten();
        assert_eq!(
            config.map(|c| (c.endpoint, c.protocol, c.service_name, c.sampler)),
            Some((
                "http://opt:9999/v1/traces".to_owned(),
                Protocol::HttpProtobuf,
                "named".to_owned(),
                Sampler::TraceIdRatio(0.5)
            ))
        );
    }

    #[test]
    fn bad_values_are_refused_with_their_name() {
        let endpoint = ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317");
        let refused = |var: (&str, &str)| resolve(&[], &[endpoint, var]).err();
        let reason = refused(("OTEL_TRACES_SAMPLER", "sometimes")).unwrap_or_default();
        assert!(
            reason.starts_with("OTEL_TRACES_SAMPLER: `sometimes` is not a sampler"),
            "{reason}"
        );
        for var in [
            ("OTEL_TRACES_SAMPLER_ARG", "2"),
            ("OTEL_TRACES_SAMPLER_ARG", "half"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"),
            ("OTEL_TRACES_EXPORTER", "zipkin"),
            ("OTEL_TRACES_SAMPLER", "jaeger_remote"),
        ] {
            let reason = refused(var).unwrap_or_default();
            assert!(reason.starts_with(var.0), "{var:?}: {reason}");
        }
        for url in [
            "https://collector:4317",
            "collector:4317",
            "http://",
            "http:///x",
        ] {
            let reason = resolve(&[], &[("OTEL_EXPORTER_OTLP_ENDPOINT", url)])
                .err()
                .unwrap_or_default();
            assert!(
                reason.starts_with("OTEL_EXPORTER_OTLP_ENDPOINT: "),
                "{url}: {reason}"
            );
        }
        assert!(options(&["--otel-sampler", "never"]).is_err());
        assert!(options(&["--otel-sampler-arg", "-0.1"]).is_err());
        assert!(options(&["--otel-protocol", "udp"]).is_err());
        assert!(options(&["--otel-endpoint", "https://x:1"]).is_err());
    }
}
