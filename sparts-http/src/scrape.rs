//! `GET /metrics`: the service's telemetry in the format the scraper asks
//! for (`Accept: application/openmetrics-text` gets OpenMetrics, anything
//! else the classic Prometheus text), gzip-compressed when its
//! `Accept-Encoding` allows it.

use std::io::Write as _;

use axum::http::header::{ACCEPT, ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_TYPE, VARY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use flate2::Compression;
use flate2::write::GzEncoder;
use sparts_core::telemetry::{Format, Telemetry};

/// Answers one scrape.
pub(crate) fn scrape(telemetry: &Telemetry, headers: &HeaderMap) -> Response {
    let accept = headers.get(ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    let text = match telemetry.render(format) {
        Ok(text) => text,
        Err(e) => {
            tracing::error!("cannot encode the metrics: {e}");
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("cannot encode the metrics: {e}\n"),
            )
                .into_response();
        }
    };
    let vary = [(VARY, HeaderValue::from_static("Accept, Accept-Encoding"))];
    let content_type = (
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    if accepts_gzip(headers.get(ACCEPT_ENCODING)) {
        match gzip(text.as_bytes()) {
            Ok(body) => {
                let gzip = (CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                return (vary, [content_type, gzip], body).into_response();
            }
            // Writing to memory fails only when out of it; the plain text
            // is still an answer.
            Err(e) => tracing::warn!("cannot compress the metrics: {e}"),
        }
    }
    (vary, [content_type], text).into_response()
}

fn gzip(text: &[u8]) -> std::io::Result<Vec<u8>> {
    // A scrape is text that compresses well at the fastest level; it is
    // made on the runtime's thread, so the time counts more than the bytes.
    let mut encoder = GzEncoder::new(Vec::with_capacity(text.len() / 4), Compression::fast());
    encoder.write_all(text)?;
    encoder.finish()
}

/// Whether `Accept-Encoding` allows gzip: listed by name (or as `*`)
/// without `q=0`; a `gzip` entry decides over `*`.
fn accepts_gzip(value: Option<&HeaderValue>) -> bool {
    let Some(value) = value.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let mut any = None;
    for coding in value.split(',') {
        let mut parts = coding.split(';');
        let name = parts.next().unwrap_or_default().trim();
        let refused = parts.any(|param| {
            let param = param.trim();
            param
                .strip_prefix("q=")
                .or_else(|| param.strip_prefix("Q="))
                .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
        });
        if name.eq_ignore_ascii_case("gzip") || name.eq_ignore_ascii_case("x-gzip") {
            return !refused;
        }
        if name == "*" {
            any = Some(!refused);
        }
    }
    any.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_used_only_where_allowed() {
        let allows =
            |value: &str| accepts_gzip(Some(&HeaderValue::from_str(value).expect("ascii")));
        assert!(allows("gzip"));
        assert!(allows("deflate, gzip;q=0.5, br"));
        assert!(allows("GZIP"));
        assert!(allows("*"));
        assert!(!allows("gzip;q=0"));
        assert!(!allows("gzip; q=0.0, *"));
        assert!(!allows("identity"));
        assert!(!allows("br, deflate"));
        assert!(!allows("*;q=0"));
        assert!(!accepts_gzip(None));
    }
}
