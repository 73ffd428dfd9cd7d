//! The web vitals in Chromium, as Google's web-vitals library measures them: the spans carry
//! the values the library itself gives a listener of the test's own in the same page, for a
//! page load, an interaction, a layout shift and a back/forward cache restore; and no page
//! load loses its LCP, however soon after a click it is left.

use std::collections::HashSet;
use std::time::Duration;

use fantoccini::Locator;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use serde_json::Value as Json;

use crate::browser::{DEVELOPERS_BUILD, click, named, serve_app, start_browser, wait_for_text};
use crate::helpers::{BackendProcess, OtlpReceiver, ReceivedSpan, attribute, string_attribute};

const FRONTEND: &str = "cruddur-frontend";

/// The relay's budgets, wide enough for a test that loads the app many times a minute.
const GENEROUS_RELAY: [(&str, &str); 4] = [
    ("CRUDDUR_RELAY_REQUESTS_PER_SECOND", "1000"),
    ("CRUDDUR_RELAY_REQUEST_BURST", "1000"),
    ("CRUDDUR_RELAY_SPANS_PER_SECOND", "100000"),
    ("CRUDDUR_RELAY_SPAN_BURST", "100000"),
];

/// The app, its backend exporting to `receiver`, with generous relay budgets.
async fn serve_to(receiver: &OtlpReceiver) -> (String, BackendProcess) {
    let mut envs = vec![
        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "50"),
    ];
    envs.extend(GENEROUS_RELAY);
    serve_app(DEVELOPERS_BUILD, &envs).await
}

fn double_attribute(span: &ReceivedSpan, key: &str) -> Option<f64> {
    match attribute(&span.span.attributes, key) {
        Some(Value::DoubleValue(value)) => Some(*value),
        _ => None,
    }
}

/// The browser's `vital` spans of navigations of `navigation_type` to the home page.
fn vitals<'a>(
    spans: &'a [ReceivedSpan],
    vital: &str,
    navigation_type: &str,
) -> Vec<&'a ReceivedSpan> {
    let key = format!("{vital}.navigation_type");
    named(spans, FRONTEND, vital)
        .into_iter()
        .filter(|span| {
            string_attribute(&span.span.attributes, &key) == Some(navigation_type)
                && string_attribute(&span.span.attributes, "url.path") == Some("/")
        })
        .collect()
}

/// What the library gave the test's own listeners: `{navigationType: {name: value}}`, the
/// latest value of each, as `reportAllChanges` reports every change.
const LISTEN_AS_THE_TEST: &str = "
    window.seenByTheTest = {};
    for (const name of ['LCP', 'INP', 'CLS', 'FCP', 'TTFB']) {
        webVitals['on' + name]((metric) => {
            (window.seenByTheTest[metric.navigationType] ??= {})[metric.name] = metric.value;
        }, { reportAllChanges: true });
    }
    window.restoredFromTheCache = false;
    addEventListener('pageshow', (event) => {
        if (event.persisted) window.restoredFromTheCache = true;
    });
    // An interaction slow enough to be INP: its handler keeps the main thread for 150 ms.
    document.querySelector('.page-header h1').addEventListener('click', () => {
        const end = performance.now() + 150;
        while (performance.now() < end) {}
    });
    // A layout shift nobody caused by input: everything below the header moves down.
    setTimeout(() => {
        const spacer = document.createElement('div');
        spacer.style.height = '240px';
        document.querySelector('.page-header').after(spacer);
    }, 50);
";

#[tokio::test]
async fn a_page_load_an_interaction_a_layout_shift_and_a_restore_report_the_librarys_own_values() {
    let receiver = OtlpReceiver::start().await;
    let (origin, _backend) = serve_to(&receiver).await;
    let browser = start_browser().await;
    let client = &browser.client;

    client.goto(&origin).await.unwrap();
    wait_for_text(client, ".activity .message", "Cloud is very fun!").await;
    client.execute(LISTEN_AS_THE_TEST, vec![]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    click(client, Locator::Css(".page-header h1")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Away to another page and back: Chromium restores this one from its back/forward cache.
    client
        .goto(&format!("{origin}/notifications"))
        .await
        .unwrap();
    wait_for_text(client, ".activity .message", "I am white unicorn").await;
    client.back().await.unwrap();
    let restored = client
        .execute("return window.restoredFromTheCache === true", vec![])
        .await
        .unwrap();
    assert_eq!(
        restored,
        Json::Bool(true),
        "the page came back from the bfcache"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let seen = client
        .execute("return window.seenByTheTest", vec![])
        .await
        .unwrap();
    // Hidden once more: the restored page's CLS and INP are final, and go out.
    client.goto("about:blank").await.unwrap();

    let spans = receiver
        .wait_for(|spans| {
            ["lcp", "fcp", "ttfb", "inp", "cls"]
                .iter()
                .all(|vital| !vitals(spans, vital, "navigate").is_empty())
                && ["lcp", "fcp", "ttfb"]
                    .iter()
                    .all(|vital| !vitals(spans, vital, "back-forward-cache").is_empty())
        })
        .await;
    let library = |navigation_type: &str, name: &str| {
        seen[navigation_type][name].as_f64().unwrap_or_else(|| {
            panic!("the library gave the test no {name} for {navigation_type}: {seen}")
        })
    };
    let reported = |vital: &str, navigation_type: &str| {
        let found = vitals(&spans, vital, navigation_type);
        assert_eq!(found.len(), 1, "one {vital} for {navigation_type}");
        double_attribute(found[0], &format!("{vital}.value")).unwrap()
    };
    // The page load's vitals come from the same entries: equal, CLS (a sum of shifts that each
    // listener adds up on its own) to within its last digits.
    for (vital, name) in [
        ("lcp", "LCP"),
        ("fcp", "FCP"),
        ("ttfb", "TTFB"),
        ("inp", "INP"),
        ("cls", "CLS"),
    ] {
        let (ours, library) = (reported(vital, "navigate"), library("navigate", name));
        assert!(
            (ours - library).abs() <= library.abs() * 1e-12,
            "{vital} of the page load: {ours} reported, {library} from the library"
        );
    }
    assert!(
        reported("inp", "navigate") >= 150.0,
        "the slow click is the INP"
    );
    assert!(
        reported("cls", "navigate") > 0.0,
        "the spacer shifted the feed"
    );
    let inp = &vitals(&spans, "inp", "navigate")[0].span.attributes;
    assert_eq!(
        string_attribute(inp, "inp.interaction_type"),
        Some("pointer")
    );
    assert!(
        double_attribute(
            vitals(&spans, "inp", "navigate")[0],
            "inp.processing_duration"
        )
        .is_some_and(|processing| processing >= 150.0),
        "the handler is where the time went: {inp:?}"
    );
    let cls = &vitals(&spans, "cls", "navigate")[0].span.attributes;
    assert!(string_attribute(cls, "cls.largest_shift_target").is_some());
    // After a restore the library times the paints from the restore, once per listener in the
    // same animation frame: equal within that frame.
    for (vital, name) in [("lcp", "LCP"), ("fcp", "FCP"), ("ttfb", "TTFB")] {
        let difference =
            (reported(vital, "back-forward-cache") - library("back-forward-cache", name)).abs();
        assert!(
            difference < 16.0,
            "{vital} after the restore differs by {difference} ms"
        );
    }
    assert_eq!(reported("ttfb", "back-forward-cache"), 0.0);
    for span in vitals(&spans, "lcp", "navigate") {
        assert!(string_attribute(&span.span.attributes, "lcp.rating").is_some());
        assert!(string_attribute(&span.span.attributes, "lcp.id").is_some());
    }
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn twenty_page_loads_each_clicked_once_and_left_each_report_their_lcp() {
    const LOADS: usize = 20;
    let receiver = OtlpReceiver::start().await;
    let (origin, _backend) = serve_to(&receiver).await;
    let browser = start_browser().await;
    let client = &browser.client;

    for load in 0..LOADS {
        // Each address is new, so each is a page load of its own, never a restore.
        client
            .goto(&format!("{origin}/?load={load}"))
            .await
            .unwrap();
        wait_for_text(client, ".activity .message", "Cloud is very fun!").await;
        click(client, Locator::Css(".page-header h1")).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    client.goto("about:blank").await.unwrap();

    let page_loads = |spans: &[ReceivedSpan]| -> HashSet<Vec<u8>> {
        named(spans, FRONTEND, "documentLoad")
            .iter()
            .map(|span| span.span.trace_id.clone())
            .collect()
    };
    let with_lcp = |spans: &[ReceivedSpan]| -> HashSet<Vec<u8>> {
        vitals(spans, "lcp", "navigate")
            .iter()
            .map(|span| span.span.trace_id.clone())
            .collect()
    };
    let spans = receiver
        .wait_for(|spans| page_loads(spans).len() >= LOADS && with_lcp(spans).len() >= LOADS)
        .await;
    assert_eq!(page_loads(&spans).len(), LOADS);
    assert_eq!(
        with_lcp(&spans),
        page_loads(&spans),
        "every page load has its LCP, in its own trace"
    );
    browser.client.clone().close().await.unwrap();
}
