//! Client-side routing: the address bar as a signal, and which page it names.
//!
//! Written by hand rather than with `leptos_router`: its generic route tree (one nested chooser
//! type over every route, with matching, params and outlet machinery built for each) is a large
//! share of a bundle with a budget, for nine routes that one `match` names here. What it takes
//! is the browser's own History API and a listener for link clicks.

use leptos::prelude::*;
use wasm_bindgen::JsCast as _;

/// The pages of Cruddur, as their addresses name them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    Home,
    Notifications,
    /// `/search?term=…`: the term lives in the address, so a search can be shared.
    Search {
        term: String,
    },
    Messages,
    /// `/messages/@{handle}`.
    Conversation {
        handle: String,
    },
    Traces,
    Trace {
        trace_id: String,
    },
    /// `/@{handle}`.
    User {
        handle: String,
    },
    /// `/@{handle}/status/{uuid}`.
    Activity {
        uuid: String,
    },
    NotFound,
}

impl Route {
    /// The page an address (path and query) names.
    pub fn of(address: &str) -> Route {
        let query = address.split_once('?').map_or("", |(_, query)| query);
        let segments: Vec<String> = path(address)
            .trim_matches('/')
            .split('/')
            .map(|segment| {
                js_sys::decode_uri_component(segment)
                    .map(String::from)
                    .unwrap_or_else(|_| segment.to_owned())
            })
            .collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match segments.as_slice() {
            [""] => Route::Home,
            ["notifications"] => Route::Notifications,
            ["search"] => Route::Search {
                term: query_value(query, "term").unwrap_or_default(),
            },
            ["messages"] => Route::Messages,
            ["messages", handle] => Route::Conversation {
                handle: handle.trim_start_matches('@').to_owned(),
            },
            ["traces"] => Route::Traces,
            ["traces", trace_id] => Route::Trace {
                trace_id: (*trace_id).to_owned(),
            },
            // Only `@` makes a user's address: any other path is not a user lookup.
            [user] if user.len() > 1 && user.starts_with('@') => Route::User {
                handle: user.trim_start_matches('@').to_owned(),
            },
            [user, "status", uuid] if user.starts_with('@') => Route::Activity {
                uuid: (*uuid).to_owned(),
            },
            _ => Route::NotFound,
        }
    }

    /// The page's address with its parameters named, as spans group pages by it.
    pub fn template(&self) -> &'static str {
        match self {
            Route::Home => "/",
            Route::Notifications => "/notifications",
            Route::Search { .. } => "/search",
            Route::Messages => "/messages",
            Route::Conversation { .. } => "/messages/@{handle}",
            Route::Traces => "/traces",
            Route::Trace { .. } => "/traces/{trace_id}",
            Route::User { .. } => "/@{handle}",
            Route::Activity { .. } => "/@{handle}/status/{uuid}",
            Route::NotFound => "not found",
        }
    }

    /// The local trace view's pages, which the browser's tracing leaves untraced.
    pub fn is_trace_view(&self) -> bool {
        matches!(self, Route::Traces | Route::Trace { .. })
    }
}

/// An address without its query.
pub fn path(address: &str) -> &str {
    address.split_once('?').map_or(address, |(path, _)| path)
}

fn query_value(query: &str, key: &str) -> Option<String> {
    web_sys::UrlSearchParams::new_with_str(query).ok()?.get(key)
}

/// The current address's `?before=`: which page of its list the page shows (the first if none).
pub fn before() -> Option<String> {
    let address = ADDRESS.with(|address| address.get_untracked());
    query_value(address.split_once('?')?.1, "before")
}

/// The current address asking for the page after `cursor` instead, its other parameters kept.
pub fn with_before(cursor: &str) -> String {
    let address = ADDRESS.with(|address| address.get_untracked());
    let (path, query) = address.split_once('?').unwrap_or((&address, ""));
    match web_sys::UrlSearchParams::new_with_str(query) {
        Ok(params) => {
            params.set("before", cursor);
            format!("{path}?{}", String::from(params.to_string()))
        }
        Err(_) => path.to_owned(),
    }
}

thread_local! {
    static ADDRESS: ArcRwSignal<String> = ArcRwSignal::new(current_address());
}

/// The address bar's path and query, as it changes.
pub fn address() -> ArcRwSignal<String> {
    ADDRESS.with(Clone::clone)
}

fn current_address() -> String {
    let location = window().location();
    let path = location.pathname().unwrap_or_else(|_| "/".into());
    let query = location.search().unwrap_or_default();
    format!("{path}{query}")
}

/// Opens `to` (a path and query on this origin) as a new history entry, at the page's top.
pub fn navigate(to: &str) {
    let pushed = window().history().and_then(|history| {
        history.push_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(to))
    });
    if pushed.is_err() {
        return;
    }
    window().scroll_to_with_x_and_y(0.0, 0.0);
    ADDRESS.with(|address| address.set(current_address()));
}

/// Follows the back and forward buttons, and turns clicks on links to this origin into
/// navigations within the app rather than page loads.
pub fn follow_the_address_bar() {
    std::mem::forget(window_event_listener(leptos::ev::popstate, |_| {
        ADDRESS.with(|address| address.set(current_address()));
    }));
    std::mem::forget(window_event_listener(leptos::ev::click, |event| {
        if let Some(to) = in_app_link(&event) {
            event.prevent_default();
            navigate(&to);
        }
    }));
}

/// The path and query a click opens, if it is a plain click on a link to this origin that the
/// app has not handled itself.
fn in_app_link(event: &web_sys::MouseEvent) -> Option<String> {
    if event.default_prevented()
        || event.button() != 0
        || event.meta_key()
        || event.ctrl_key()
        || event.shift_key()
        || event.alt_key()
    {
        return None;
    }
    let anchor = event
        .target()?
        .dyn_into::<web_sys::Element>()
        .ok()?
        .closest("a[href]")
        .ok()??
        .dyn_into::<web_sys::HtmlAnchorElement>()
        .ok()?;
    let opens_elsewhere = !matches!(anchor.target().as_str(), "" | "_self");
    if opens_elsewhere || anchor.has_attribute("download") {
        return None;
    }
    let url = web_sys::Url::new(&anchor.href()).ok()?;
    if url.origin() != window().location().origin().ok()? {
        return None;
    }
    Some(format!("{}{}", url.pathname(), url.search()))
}

/// A navigation link, marked as the current page when it is.
#[component]
pub fn NavLink(href: &'static str, label: &'static str) -> impl IntoView {
    let address = address();
    let current = move || address.with(|address| path(address) == href);
    view! { <a href=href aria-current=move || current().then_some("page")>{label}</a> }
}

// They need a browser: `cargo test --target wasm32-unknown-unknown` runs them in Chromium.
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn addresses_name_their_pages() {
        let cases = [
            ("/", Route::Home),
            ("/notifications", Route::Notifications),
            (
                "/search?term=hello%20world",
                Route::Search {
                    term: "hello world".into(),
                },
            ),
            (
                "/search",
                Route::Search {
                    term: String::new(),
                },
            ),
            ("/messages", Route::Messages),
            (
                "/messages/@bayko",
                Route::Conversation {
                    handle: "bayko".into(),
                },
            ),
            ("/traces", Route::Traces),
            (
                "/traces/6a1b2c3d",
                Route::Trace {
                    trace_id: "6a1b2c3d".into(),
                },
            ),
            (
                "/@andrewbrown",
                Route::User {
                    handle: "andrewbrown".into(),
                },
            ),
            (
                "/@andrewbrown/status/68f126b0",
                Route::Activity {
                    uuid: "68f126b0".into(),
                },
            ),
            ("/andrewbrown", Route::NotFound),
            ("/@", Route::NotFound),
            ("/notifications/extra", Route::NotFound),
        ];
        for (address, page) in cases {
            assert_eq!(Route::of(address), page, "{address}");
        }
    }

    #[wasm_bindgen_test]
    fn the_trace_view_is_not_traced() {
        assert!(Route::of("/traces").is_trace_view());
        assert!(Route::of("/traces/6b02").is_trace_view());
        assert!(!Route::of("/tracesandmore").is_trace_view());
        assert!(!Route::of("/").is_trace_view());
    }
}
