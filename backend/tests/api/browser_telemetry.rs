//! What the browser records beyond the happy path, in Chromium: a thrown error, a rejected
//! promise and a panic as error spans, a refused form's click marked as failed, the LCP with
//! its attribution in the page load's trace, who the browser is, and addresses without secrets,
//! an error's message and stack included.

use axum::http::StatusCode as HttpStatus;
use fantoccini::Locator;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use serde_json::json;

use crate::browser::{
    DEVELOPERS_BUILD, click, from_browser, named, one, parent_of, serve_app, start_browser,
    wait_for, wait_for_text,
};
use crate::helpers::{OtlpReceiver, ReceivedSpan, attribute, hex, int_attribute, string_attribute};
use crate::honeycomb_links::{AuthStandIn, KEY};

const FRONTEND: &str = "cruddur-frontend";
/// In the address the app is opened at: no span may carry it.
const SECRET: &str = "s3cr3t-in-the-query";

fn failed(span: &ReceivedSpan) -> bool {
    span.span
        .status
        .as_ref()
        .is_some_and(|status| status.code == StatusCode::Error as i32)
}

fn exception<'a>(spans: &'a [ReceivedSpan], kind: &str) -> Option<&'a ReceivedSpan> {
    named(spans, FRONTEND, "exception")
        .into_iter()
        .find(|span| string_attribute(&span.span.attributes, "exception.type") == Some(kind))
}

fn double_attribute(span: &ReceivedSpan, key: &str) -> Option<f64> {
    match attribute(&span.span.attributes, key) {
        Some(Value::DoubleValue(value)) => Some(*value),
        _ => None,
    }
}

/// Every string the browser sent, in its spans and their resources.
fn browser_strings(spans: &[ReceivedSpan]) -> Vec<&str> {
    spans
        .iter()
        .filter(|span| from_browser(span))
        .flat_map(|span| span.span.attributes.iter().chain(&span.resource))
        .filter_map(
            |attribute| match attribute.value.as_ref()?.value.as_ref()? {
                Value::StringValue(text) => Some(text.as_str()),
                _ => None,
            },
        )
        .collect()
}

#[tokio::test]
async fn a_thrown_error_a_rejection_a_refused_crud_and_a_panic_reach_the_collector_as_errors() {
    let receiver = OtlpReceiver::start().await;
    let (origin, _backend) = serve_app(
        DEVELOPERS_BUILD,
        &[
            ("CRUDDUR_LOCAL_TRACES", "on"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ],
    )
    .await;
    let browser = start_browser().await;
    let client = &browser.client;

    client
        .goto(&format!("{origin}/?ref=mail&access_token={SECRET}"))
        .await
        .unwrap();
    wait_for_text(client, ".activity .message", "Cloud is very fun!").await;
    // An error thrown by a click's handler, and a promise nobody waits for, from a script of
    // the page's own: the browser hides the details of errors from scripts it did not load.
    // The error's message names an address with a secret in it, as a failed call's might.
    client
        .execute(
            &format!(
                "const script = document.createElement('script'); \
                 script.textContent = `\
                     document.querySelector('.page-header h1').addEventListener('click', () => {{ \
                         throw new TypeError('thrown on purpose by http://127.0.0.1/cb?email={SECRET}') \
                     }}, {{ once: true }}); \
                     Promise.reject(new RangeError('rejected on purpose'));`; \
                 document.head.appendChild(script);"
            ),
            vec![],
        )
        .await
        .unwrap();
    click(client, Locator::Css(".page-header h1")).await;
    // An empty crud: the API refuses it with a 422, shown beside the form.
    click(client, Locator::Css(".crud-button")).await;
    click(client, Locator::Css(".crud-form button[type=submit]")).await;
    wait_for(client, ".crud-form .error", "the refusal", |errors| {
        errors.iter().any(|error| !error.is_empty())
    })
    .await;
    // Hidden: the LCP is final, and goes out with everything else.
    client.goto("about:blank").await.unwrap();
    let spans = receiver
        .wait_for(|spans| {
            exception(spans, "TypeError").is_some()
                && exception(spans, "RangeError").is_some()
                && !named(spans, FRONTEND, "lcp").is_empty()
                && named(spans, FRONTEND, "POST").iter().any(|post| {
                    int_attribute(&post.span.attributes, "http.response.status_code") == Some(422)
                })
        })
        .await;

    let thrown = exception(&spans, "TypeError").unwrap();
    assert!(failed(thrown));
    assert_eq!(
        string_attribute(&thrown.span.attributes, "exception.message"),
        Some("thrown on purpose by http://127.0.0.1/cb?email=REDACTED")
    );
    assert!(
        string_attribute(&thrown.span.attributes, "exception.stacktrace").is_some_and(|stack| {
            stack.contains("thrown on purpose by http://127.0.0.1/cb?email=REDACTED")
        })
    );
    assert_eq!(
        string_attribute(&thrown.span.attributes, "page.route"),
        Some("/")
    );
    assert!(string_attribute(&thrown.resource, "session.id").is_some());
    let thrown_in = parent_of(&spans, thrown).expect("the error sits in its click's trace");
    assert_eq!(thrown_in.span.name, "click");

    let rejected = exception(&spans, "RangeError").unwrap();
    assert!(failed(rejected));
    assert_eq!(
        string_attribute(&rejected.span.attributes, "exception.message"),
        Some("rejected on purpose")
    );

    let refused = named(&spans, FRONTEND, "POST")
        .into_iter()
        .find(|post| int_attribute(&post.span.attributes, "http.response.status_code") == Some(422))
        .unwrap();
    let crud_click = parent_of(&spans, refused).expect("the POST has its click");
    assert_eq!(crud_click.span.name, "click");
    assert!(
        failed(crud_click),
        "the click whose crud was refused failed"
    );
    assert!(
        crud_click
            .span
            .status
            .as_ref()
            .unwrap()
            .message
            .contains("422"),
        "{:?}",
        crud_click.span.status
    );

    // The LCP: which element, and where its time went, in the page load's trace.
    let lcp = one(&spans, FRONTEND, "lcp");
    assert!(
        string_attribute(&lcp.span.attributes, "lcp.element")
            .is_some_and(|element| !element.is_empty()),
        "{:?}",
        lcp.span.attributes
    );
    let parts: Vec<f64> = [
        "lcp.time_to_first_byte",
        "lcp.resource_load_delay",
        "lcp.resource_load_duration",
        "lcp.element_render_delay",
    ]
    .iter()
    .map(|part| double_attribute(lcp, part).unwrap_or_else(|| panic!("{part}")))
    .collect();
    let value = double_attribute(lcp, "lcp.value").unwrap();
    assert!(
        (parts.iter().sum::<f64>() - value).abs() < 1.0,
        "the parts add up to the LCP: {parts:?} for {value}"
    );
    let document_load = one(&spans, FRONTEND, "documentLoad");
    assert_eq!(lcp.span.parent_span_id, document_load.span.span_id);
    assert_eq!(lcp.span.trace_id, document_load.span.trace_id);

    // Who was looking, and where they came in.
    let resource = &document_load.resource;
    assert!(string_attribute(resource, "browser.name").is_some_and(|name| !name.is_empty()));
    assert!(string_attribute(resource, "browser.version").is_some());
    assert_eq!(
        attribute(resource, "browser.mobile"),
        Some(&Value::BoolValue(false))
    );
    assert_eq!(string_attribute(resource, "entry_page.path"), Some("/"));

    // The address's secret is redacted wherever the address is recorded.
    let document_fetch = one(&spans, FRONTEND, "documentFetch");
    assert!(
        string_attribute(&document_fetch.span.attributes, "url.full")
            .is_some_and(|url| url.ends_with("/?ref=mail&access_token=REDACTED")),
        "{:?}",
        document_fetch.span.attributes
    );
    let leaks: Vec<&str> = browser_strings(&spans)
        .into_iter()
        .filter(|text| text.contains(SECRET))
        .collect();
    assert!(leaks.is_empty(), "{leaks:?}");

    // A panic: sent at once, without waiting for the page to be hidden or the next flush.
    client.goto(&origin).await.unwrap();
    wait_for_text(client, ".activity .message", "Cloud is very fun!").await;
    client
        .execute(
            "try { window.wasmBindings.panic_on_purpose() } catch (error) {}",
            vec![],
        )
        .await
        .unwrap();
    let spans = receiver
        .wait_for(|spans| !named(spans, FRONTEND, "panic").is_empty())
        .await;
    let panic = one(&spans, FRONTEND, "panic");
    assert!(failed(panic));
    assert_eq!(
        string_attribute(&panic.span.attributes, "exception.message"),
        Some("a panic on purpose")
    );
    assert!(
        string_attribute(&panic.span.attributes, "code.file.path")
            .is_some_and(|file| file.ends_with("errors.rs"))
    );
    assert!(int_attribute(&panic.span.attributes, "code.line.number").is_some_and(|line| line > 0));
    browser.client.clone().close().await.unwrap();

    // The local trace view draws the thrown error as an error in its click's trace.
    let browser = start_browser().await;
    let client = &browser.client;
    client
        .goto(&format!("{origin}/traces/{}", hex(&thrown.span.trace_id)))
        .await
        .unwrap();
    wait_for(
        client,
        ".span-row.error .span-label",
        "the error",
        |labels| labels.iter().any(|label| label.ends_with("exception")),
    )
    .await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_developers_indicator_and_the_trace_view_link_each_trace_to_honeycomb() {
    let honeycomb = AuthStandIn::start(
        HttpStatus::OK,
        json!({
            "team": {"name": "Cruddur", "slug": "cruddur"},
            "environment": {"name": "Production", "slug": "production"}
        }),
    )
    .await;
    let receiver = OtlpReceiver::start().await;
    let headers = format!("x-honeycomb-team={KEY}");
    let (origin, _backend) = serve_app(
        DEVELOPERS_BUILD,
        &[
            ("CRUDDUR_LOCAL_TRACES", "on"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_HEADERS", headers.as_str()),
            ("HONEYCOMB_API_ENDPOINT", honeycomb.address.as_str()),
        ],
    )
    .await;
    let browser = start_browser().await;
    let client = &browser.client;

    client.goto(&origin).await.unwrap();
    wait_for_text(client, ".activity .message", "Cloud is very fun!").await;
    click(client, Locator::LinkText("Notifications")).await;
    wait_for_text(client, ".activity .message", "I am white unicorn").await;
    let link = "https://ui.honeycomb.io/cruddur/environments/production/trace?trace_id=";
    wait_for(
        client,
        ".last-trace a.honeycomb",
        "the Honeycomb link",
        |links| links == ["Honeycomb"],
    )
    .await;
    let indicator = client
        .find(Locator::Css(".last-trace a.honeycomb"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    let trace_id = indicator.strip_prefix(link).expect(&indicator).to_owned();
    assert_eq!(trace_id.len(), 32, "{indicator}");

    client
        .goto(&format!("{origin}/traces/{trace_id}"))
        .await
        .unwrap();
    wait_for_text(client, ".trace-ids a", "Open in Honeycomb").await;
    let in_view = client
        .find(Locator::Css(".trace-ids a"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap();
    assert_eq!(in_view.as_deref(), Some(indicator.as_str()));
    browser.client.clone().close().await.unwrap();
}
