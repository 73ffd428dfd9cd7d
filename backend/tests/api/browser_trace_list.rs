//! The local trace list in Chromium, as a developer watching their clicks uses it: each row
//! says which click it was and which routes it reached, ids are told apart by their random
//! part, a trace is found by its X-Ray id, and the list stops asking while the tab is hidden.

use std::time::Duration;

use fantoccini::{Client, Locator};

use crate::browser::{DEVELOPERS_BUILD, click, serve_app, start_browser, wait_for, wait_for_text};

async fn serve() -> (String, crate::helpers::BackendProcess) {
    serve_app(
        DEVELOPERS_BUILD,
        &[
            ("CRUDDUR_LOCAL_TRACES", "on"),
            ("OTEL_BSP_SCHEDULE_DELAY", "50"),
        ],
    )
    .await
}

async fn open_home(client: &Client, origin: &str) {
    client.goto(origin).await.unwrap();
    wait_for_text(client, ".activity .message", "Cloud is very fun!").await;
}

/// The trace id a row's link leads to.
async fn trace_of_row(client: &Client, row_text: &str) -> String {
    let link = client
        .find(Locator::XPath(&format!(
            "//a[contains(@class, 'root-name') and normalize-space(.) = '{row_text}']"
        )))
        .await
        .unwrap();
    let href = link.attr("href").await.unwrap().unwrap();
    href.strip_prefix("/traces/").unwrap().to_owned()
}

async fn short_id_of_row(client: &Client, row_text: &str) -> String {
    client
        .find(Locator::XPath(&format!(
            "//div[contains(@class, 'trace-row')][a[normalize-space(.) = '{row_text}']]//code"
        )))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn two_clicks_on_different_buttons_within_a_second_show_as_two_rows_told_apart() {
    let (origin, _backend) = serve().await;
    let browser = start_browser().await;
    let client = &browser.client;
    open_home(client, &origin).await;
    click(client, Locator::LinkText("Notifications")).await;
    click(client, Locator::LinkText("Messages")).await;
    tokio::time::sleep(Duration::from_millis(500)).await;

    click(client, Locator::LinkText("Traces")).await;
    let messages = "click \"Messages\"";
    let notifications = "click \"Notifications\"";
    wait_for(client, ".trace-row .root-name", "both clicks", |names| {
        names.iter().any(|name| name == messages) && names.iter().any(|name| name == notifications)
    })
    .await;
    wait_for(
        client,
        ".trace-row .route",
        "the route the second reached",
        |routes| {
            routes
                .iter()
                .any(|route| route == "GET /api/activities/notifications")
        },
    )
    .await;
    let (messages_trace, notifications_trace) = (
        trace_of_row(client, messages).await,
        trace_of_row(client, notifications).await,
    );
    assert_ne!(messages_trace, notifications_trace);
    let (messages_short, notifications_short) = (
        short_id_of_row(client, messages).await,
        short_id_of_row(client, notifications).await,
    );
    assert_ne!(
        messages_short, notifications_short,
        "the short ids tell them apart"
    );
    assert!(
        messages_trace.ends_with(&messages_short),
        "{messages_short} of {messages_trace}"
    );
    assert!(notifications_trace.ends_with(&notifications_short));
    // Their times read as how long ago, the exact time a hover away.
    let time = client.find(Locator::Css(".trace-row time")).await.unwrap();
    assert!(
        time.text().await.unwrap().ends_with("ago") || time.text().await.unwrap() == "just now"
    );
    assert!(
        time.attr("title")
            .await
            .unwrap()
            .is_some_and(|title| title.len() == 19)
    );
    crate::browser::screenshot(client, "traces").await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn a_trace_is_found_by_its_xray_id_pasted_into_the_box() {
    let (origin, _backend) = serve().await;
    let browser = start_browser().await;
    let client = &browser.client;
    open_home(client, &origin).await;
    click(client, Locator::LinkText("Notifications")).await;
    wait_for_text(client, ".activity .message", "I am white unicorn").await;
    click(client, Locator::LinkText("Traces")).await;
    let notifications = "click \"Notifications\"";
    wait_for(client, ".trace-row .root-name", "the click", |names| {
        names.iter().any(|name| name == notifications)
    })
    .await;
    let trace_id = trace_of_row(client, notifications).await;
    let xray_id = format!("1-{}-{}", &trace_id[..8], &trace_id[8..]);

    let field = client
        .find(Locator::Css(".find-trace input"))
        .await
        .unwrap();
    field.send_keys("not-a-trace-id").await.unwrap();
    click(client, Locator::Css(".find-trace button")).await;
    wait_for(client, ".find-trace .error", "the refusal", |errors| {
        errors
            .iter()
            .any(|error| error.starts_with("Not a trace id"))
    })
    .await;
    field.clear().await.unwrap();
    field.send_keys(&format!("  {xray_id} ")).await.unwrap();
    click(client, Locator::Css(".find-trace button")).await;
    wait_for_text(client, ".trace-ids dd code", &trace_id).await;
    assert_eq!(
        client.current_url().await.unwrap().path(),
        format!("/traces/{trace_id}")
    );
    browser.client.clone().close().await.unwrap();
}

/// The moments the trace list asked for its rows, in page milliseconds, by the page's own
/// resource timing entries, and when the page was hidden and shown again.
const ASKED_AND_SEEN: &str = "
    return {
        asked: performance.getEntriesByType('resource')
            .filter((entry) => new URL(entry.name).pathname === '/api/traces')
            .map((entry) => entry.startTime),
        hidden: window.hiddenAt ?? null,
        shown: window.shownAt ?? null,
    };
";

#[tokio::test]
async fn the_trace_list_stops_asking_while_the_tab_is_hidden_and_asks_again_when_shown() {
    let (origin, _backend) = serve().await;
    let browser = start_browser().await;
    let client = &browser.client;
    client.goto(&format!("{origin}/traces")).await.unwrap();
    wait_for(client, ".trace-row, .empty", "the list", |found| {
        !found.is_empty()
    })
    .await;
    client
        .execute(
            "document.addEventListener('visibilitychange', () => {
                 if (document.visibilityState === 'hidden') window.hiddenAt ??= performance.now();
                 else if (window.hiddenAt !== undefined) window.shownAt ??= performance.now();
             });",
            vec![],
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(4500)).await;

    // Another tab in front for a while: this one is hidden, as when its person looks elsewhere.
    let list_tab = client.window().await.unwrap();
    let other = client.new_window(true).await.unwrap();
    client.switch_to_window(other.handle).await.unwrap();
    client.goto("about:blank").await.unwrap();
    tokio::time::sleep(Duration::from_millis(6500)).await;
    client.close_window().await.unwrap();
    client.switch_to_window(list_tab).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;

    let seen = client.execute(ASKED_AND_SEEN, vec![]).await.unwrap();
    let moment = |name: &str| {
        seen[name]
            .as_f64()
            .unwrap_or_else(|| panic!("the page was never {name}: {seen}"))
    };
    let (hidden, shown) = (moment("hidden"), moment("shown"));
    assert!(shown - hidden > 5000.0, "hidden for the while: {seen}");
    let asked: Vec<f64> = seen["asked"]
        .as_array()
        .unwrap()
        .iter()
        .map(|at| at.as_f64().unwrap())
        .collect();
    assert!(
        asked.iter().filter(|at| **at < hidden).count() >= 2,
        "it follows new traces while shown: {seen}"
    );
    assert!(
        !asked.iter().any(|at| *at > hidden && *at < shown),
        "no asking while hidden: {seen}"
    );
    assert!(
        asked.iter().any(|at| *at >= shown),
        "it asks again as soon as it is shown: {seen}"
    );
    browser.client.clone().close().await.unwrap();
}
