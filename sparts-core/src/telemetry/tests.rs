use std::time::Duration;

use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn each_task_keeps_its_own_series_on_one_thread() {
    // More series than a thread keeps at hand, of two tasks with the same
    // routes, interleaved on this one thread: each observation still lands
    // in its own task's series.
    let telemetry = Telemetry::new("Svc", None, Some(vec![0.001]));
    let tasks = [telemetry.http_server("A"), telemetry.http_server("B")];
    let routes = ["/0", "/1", "/2", "/3", "/4", "/5"];
    for round in 1..=3 {
        for (i, http) in tasks.iter().enumerate() {
            for route in &routes[..=i * 3 + 2] {
                http.observe("GET", route, 200, ms(round));
            }
        }
    }
    let text = telemetry.render(Format::Prometheus).expect("encodes");
    for (task, seen) in [("A", 3), ("B", 6)] {
        for (i, route) in routes.iter().enumerate() {
            let series = format!(
                r#"http_server_request_duration_seconds_count{{task="{task}",method="GET",route="{route}",status="200"}}"#
            );
            let count = text
                .lines()
                .find_map(|l| l.strip_prefix(series.as_str()))
                .map(str::trim);
            let want = (i < seen).then_some("3");
            assert_eq!(count, want, "{task} {route}: {text}");
        }
    }
}

#[test]
fn requests_land_in_labelled_histograms_in_seconds() {
    let telemetry = Telemetry::new("Svc", None, Some(vec![0.001, 0.01, 0.1]));
    let http = telemetry.http_server("HttpTask");
    http.observe("GET", "/kv/{key}", 200, ms(3));
    http.observe("GET", "/kv/{key}", 200, ms(30));
    http.observe("PROPFIND", "/kv/{key}", 405, ms(1));
    http.observe("BREW", "/kv/{key}", 405, ms(1));
    // The task's next run (a restart) records into the same series.
    telemetry
        .http_server("HttpTask")
        .observe("GET", "/kv/{key}", 200, ms(300));
    let rpc = telemetry.rpc_server("GrpcTask", "grpc");
    let say_hello = rpc.method("helloworld.Greeter", "SayHello");
    rpc.observe(&say_hello, "OK", ms(2));
    rpc.observe(&say_hello, "NOT_FOUND", ms(2));
    rpc.observe(&say_hello, "NOT_FOUND", ms(3));
    let text = telemetry.render(Format::Prometheus).expect("encodes");
    let get = r#"task="HttpTask",method="GET",route="/kv/{key}",status="200""#;
    assert!(
        text.contains(&format!(
            "http_server_request_duration_seconds_bucket{{{get},le=\"0.01\"}} 1"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "http_server_request_duration_seconds_bucket{{{get},le=\"0.1\"}} 2"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "http_server_request_duration_seconds_sum{{{get}}} 0.33"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "http_server_request_duration_seconds_count{{{get}}} 3"
        )),
        "{text}"
    );
    // Methods HTTP does not define share one label: a client inventing
    // methods cannot grow the number of series.
    let other = r#"task="HttpTask",method="_OTHER",route="/kv/{key}",status="405""#;
    assert!(
        text.contains(&format!(
            "http_server_request_duration_seconds_count{{{other}}} 2"
        )),
        "{text}"
    );
    assert!(!text.contains("PROPFIND"), "{text}");
    assert!(text.contains(r#"rpc_server_call_duration_seconds_count{task="GrpcTask",system="grpc",service="helloworld.Greeter",method="SayHello",code="NOT_FOUND"} 2"#), "{text}");
    assert!(text.contains(r#"rpc_server_call_duration_seconds_count{task="GrpcTask",system="grpc",service="helloworld.Greeter",method="SayHello",code="OK"} 1"#), "{text}");
    assert!(
        text.contains("# HELP http_server_request_duration_seconds "),
        "{text}"
    );
}

#[test]
fn counters_end_in_total_and_every_family_has_help() {
    let telemetry = Telemetry::new("Svc", Some("2.1"), None);
    let conns = telemetry.connections("ThriftServerTask");
    conns.accepted();
    conns.bad_input();
    conns.cut(2);
    conns.track_open(|| Some(3.0));
    let text = telemetry.render(Format::Prometheus).expect("encodes");
    for line in [
        r#"sparts_server_connections_total{task="ThriftServerTask"} 1"#,
        r#"sparts_server_cut_connections_total{task="ThriftServerTask"} 2"#,
        r#"sparts_server_bad_input_total{task="ThriftServerTask"} 1"#,
        r#"sparts_server_open_connections{task="ThriftServerTask"} 3"#,
        r#"sparts_build_info{service="Svc",version="2.1"} 1"#,
    ] {
        assert!(text.contains(line), "{line} in {text}");
    }
    assert!(text.contains("sparts_status 1"), "starting: {text}");
    assert!(
        text.lines()
            .filter(|l| l.starts_with("# HELP "))
            .all(|l| !l.ends_with("..")),
        "one period at the end of a HELP text: {text}"
    );
    for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
        let name = line.split(' ').nth(2).expect("a name");
        assert!(
            text.contains(&format!("# HELP {name} ")),
            "no HELP for {name}: {text}"
        );
    }
}

#[test]
fn a_gauge_read_at_scrape_time_goes_once_its_source_is_gone() {
    let telemetry = Telemetry::new("Svc", None, None);
    let depth = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(4));
    let weak = std::sync::Arc::downgrade(&depth);
    telemetry.track_queue_depth("Jobs", move || {
        weak.upgrade()
            .map(|d| d.load(std::sync::atomic::Ordering::Relaxed) as f64)
    });
    let text = telemetry.render(Format::Prometheus).expect("encodes");
    assert!(
        text.contains(r#"sparts_queue_depth{task="Jobs"} 4"#),
        "{text}"
    );
    drop(depth);
    let text = telemetry.render(Format::Prometheus).expect("encodes");
    assert!(
        !text.contains(r#"sparts_queue_depth{task="Jobs"}"#),
        "{text}"
    );
}

#[test]
fn openmetrics_is_served_when_asked_for() {
    assert_eq!(Format::from_accept(None), Format::Prometheus);
    assert_eq!(
        Format::from_accept(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
        )),
        Format::OpenMetrics
    );
    let telemetry = Telemetry::new("Svc", None, None);
    let text = telemetry.render(Format::OpenMetrics).expect("encodes");
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(
        !telemetry
            .render(Format::Prometheus)
            .expect("encodes")
            .contains("# EOF")
    );
}
