//! The OpenTelemetry options (the `otel` feature) and the parsers of
//! their values, which also read OpenTelemetry's standard variables.

use std::fmt;

/// OpenTelemetry's options, among the service's own. Each one left unset
/// falls back on OpenTelemetry's standard variable named in its help; with
/// no endpoint at all nothing is exported and requests get no span.
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
pub struct OtelOptions {
    /// Send traces over OTLP to this collector, http://HOST:PORT [or OTEL_EXPORTER_OTLP_ENDPOINT; none: no tracing]
    #[arg(long, value_name = "URL", value_parser = parse_endpoint)]
    pub otel_endpoint: Option<String>,

    /// OTLP transport, grpc or http/protobuf [default: http/protobuf, or OTEL_EXPORTER_OTLP_PROTOCOL]
    #[arg(long, value_name = "PROTOCOL", value_parser = parse_protocol_text)]
    pub otel_protocol: Option<String>,

    /// The service.name of the traces [default: the service's name, or OTEL_SERVICE_NAME]
    #[arg(long, value_name = "NAME")]
    pub otel_service_name: Option<String>,

    /// Which traces to keep, as OTEL_TRACES_SAMPLER names samplers [default: parentbased_always_on, or OTEL_TRACES_SAMPLER]
    #[arg(long, value_name = "SAMPLER", value_parser = parse_sampler_text)]
    pub otel_sampler: Option<String>,

    /// The ratio of the traceidratio samplers, from 0 to 1 [default: 1, or OTEL_TRACES_SAMPLER_ARG]
    #[arg(long, value_name = "RATIO", value_parser = parse_ratio)]
    pub otel_sampler_arg: Option<f64>,
}

/// How spans travel to the collector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// OTLP over gRPC (`TraceService/Export`).
    Grpc,
    /// OTLP over HTTP, protobuf bodies, `POST <endpoint>/v1/traces`.
    HttpProtobuf,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Grpc => "grpc",
            Protocol::HttpProtobuf => "http/protobuf",
        })
    }
}

/// The standard samplers (OTEL_TRACES_SAMPLER) that need no remote.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Sampler {
    AlwaysOn,
    AlwaysOff,
    TraceIdRatio(f64),
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    ParentBasedTraceIdRatio(f64),
}

pub(crate) fn parse_endpoint(s: &str) -> Result<String, String> {
    let rest = if let Some(rest) = s.strip_prefix("http://") {
        rest
    } else if s.starts_with("https://") {
        return Err(format!(
            "`{s}`: https needs TLS, which this build does not include; use http:// (a local collector or agent)"
        ));
    } else {
        return Err(format!("`{s}` is not an http:// URL"));
    };
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() || authority.contains(char::is_whitespace) {
        return Err(format!("`{s}` names no host"));
    }
    Ok(s.to_owned())
}

pub(crate) fn parse_protocol(s: &str) -> Result<Protocol, String> {
    match s {
        "grpc" => Ok(Protocol::Grpc),
        "http/protobuf" => Ok(Protocol::HttpProtobuf),
        "http/json" => Err("`http/json` is not supported (use grpc or http/protobuf)".to_owned()),
        _ => Err(format!(
            "`{s}` is not an OTLP protocol (expected grpc or http/protobuf)"
        )),
    }
}

fn parse_protocol_text(s: &str) -> Result<String, String> {
    parse_protocol(s).map(|_| s.to_owned())
}

/// The sampler's name; the ratio comes separately.
pub(crate) fn parse_sampler(s: &str, ratio: f64) -> Result<Sampler, String> {
    Ok(match s {
        "always_on" => Sampler::AlwaysOn,
        "always_off" => Sampler::AlwaysOff,
        "traceidratio" => Sampler::TraceIdRatio(ratio),
        "parentbased_always_on" => Sampler::ParentBasedAlwaysOn,
        "parentbased_always_off" => Sampler::ParentBasedAlwaysOff,
        "parentbased_traceidratio" => Sampler::ParentBasedTraceIdRatio(ratio),
        "jaeger_remote" | "parentbased_jaeger_remote" | "xray" => {
            return Err(format!("the `{s}` sampler is not supported"));
        }
        _ => {
            return Err(format!(
                "`{s}` is not a sampler (expected always_on, always_off, traceidratio, \
                 parentbased_always_on, parentbased_always_off or parentbased_traceidratio)"
            ));
        }
    })
}

fn parse_sampler_text(s: &str) -> Result<String, String> {
    parse_sampler(s, 1.0).map(|_| s.to_owned())
}

pub(crate) fn parse_ratio(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err(format!("`{s}` is not a ratio from 0 to 1")),
    }
}
