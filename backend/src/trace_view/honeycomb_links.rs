//! Links from a trace to its page in Honeycomb, as Honeycomb's own SDKs print them, without
//! configuring the team and environment: the API key does not tell them, Honeycomb's auth
//! endpoint does (`GET /1/auth` on the API host, with the key). It is asked once at startup,
//! in the background, through the traced outbound client; the key goes only there.
//!
//! - An environment's key links to `https://ui.honeycomb.io/{team}/environments/{env}/trace?trace_id=…`,
//!   the EU instance's (`api.eu1.honeycomb.io`) to `ui.eu1.honeycomb.io`.
//! - A Classic key (no environment) links by dataset: `x-honeycomb-dataset`, else the service.
//! - `HONEYCOMB_TRACE_URL` overrides all of it, and nothing is asked.
//!
//! What leaves: only the link's template with `{trace_id}` in it (the trace view's detail, and
//! `GET /api/trace-link` for the browser's console and the developer's indicator).

use std::sync::{Arc, OnceLock};

use serde::Deserialize;

use crate::telemetry::otlp::settings::{HONEYCOMB_KEY_HEADER as KEY_HEADER, is_honeycomb_endpoint};
use crate::telemetry::outbound::{TracedClient, read_at_most};

const DATASET_HEADER: &str = "x-honeycomb-dataset";
const TRACE_ID: &str = "{trace_id}";

/// Where a trace's Honeycomb page is: known from the start, learned a moment after, or never.
#[derive(Clone, Debug, Default)]
pub struct HoneycombLinks(Arc<OnceLock<String>>);

/// What the lookup needs: the key and where to ask with it. `Debug` leaves the key out.
#[derive(Clone, PartialEq, Eq)]
pub struct HoneycombLookup {
    /// The API's origin: `https://api.honeycomb.io`, `https://api.eu1.honeycomb.io`, or a
    /// stand-in's.
    pub api: String,
    pub key: String,
    /// For a Classic key's link.
    pub dataset: String,
}

impl HoneycombLinks {
    /// A link template (`HONEYCOMB_TRACE_URL`) that is used as it is.
    pub fn fixed(template: String) -> Self {
        let links = HoneycombLinks::default();
        let _ = links.0.set(template);
        links
    }

    /// Asks Honeycomb in the background and links once it has answered; a failure is one log
    /// line and no links. Call inside the runtime.
    pub fn learn(lookup: HoneycombLookup, client: TracedClient) -> Self {
        let links = HoneycombLinks::default();
        let learned = links.clone();
        tokio::spawn(async move {
            match ask(&lookup, &client).await {
                Ok(template) => {
                    tracing::info!(template, "traces link to Honeycomb");
                    let _ = learned.0.set(template);
                }
                Err(reason) => tracing::warn!(
                    api = lookup.api,
                    "Honeycomb's auth endpoint did not name the team and environment ({reason}): \
                     traces are not linked to Honeycomb; HONEYCOMB_TRACE_URL sets the link"
                ),
            }
        });
        links
    }

    /// The template, `{trace_id}` where the id goes.
    pub fn template(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }

    pub fn trace_url(&self, trace_id: &str) -> Option<String> {
        self.template()
            .map(|template| template.replace(TRACE_ID, trace_id))
    }
}

impl std::fmt::Debug for HoneycombLookup {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("HoneycombLookup")
            .field("api", &self.api)
            .field("dataset", &self.dataset)
            .finish_non_exhaustive()
    }
}

impl HoneycombLookup {
    /// When spans go to Honeycomb with a key: the API host is `HONEYCOMB_API_ENDPOINT`, else
    /// the OTLP endpoint's own when it is Honeycomb's. A key for any other endpoint is never
    /// sent anywhere else.
    pub fn from_settings(
        api_endpoint: Option<&str>,
        traces_endpoint: Option<&str>,
        headers: impl Iterator<Item = (String, String)>,
        service_name: &str,
    ) -> Option<Self> {
        let mut key = None;
        let mut dataset = None;
        for (name, value) in headers {
            if name.eq_ignore_ascii_case(KEY_HEADER) {
                key = Some(value);
            } else if name.eq_ignore_ascii_case(DATASET_HEADER) {
                dataset = Some(value);
            }
        }
        let api = match api_endpoint {
            Some(api) => origin(api)?,
            None => origin(traces_endpoint.filter(|endpoint| is_honeycomb_endpoint(endpoint))?)?,
        };
        Some(HoneycombLookup {
            api,
            key: key.filter(|key| !key.is_empty())?,
            dataset: dataset.unwrap_or_else(|| service_name.to_owned()),
        })
    }
}

/// `https://api.honeycomb.io` of `https://api.honeycomb.io/v1/traces`.
fn origin(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let origin = parsed.origin();
    origin.is_tuple().then(|| origin.ascii_serialization())
}

/// What `/1/auth` says of a key: its team, and its environment (an empty slug for Classic).
#[derive(Debug, Deserialize)]
struct Auth {
    team: Slugged,
    #[serde(default)]
    environment: Option<Slugged>,
}

#[derive(Debug, Deserialize)]
struct Slugged {
    #[serde(default)]
    slug: String,
}

/// The auth answer names a team and an environment: a few hundred bytes.
const MAX_AUTH_ANSWER_BYTES: usize = 64 * 1024;

async fn ask(lookup: &HoneycombLookup, client: &TracedClient) -> Result<String, String> {
    let request = client
        .request(reqwest::Method::GET, &format!("{}/1/auth", lookup.api))
        .header(KEY_HEADER, &lookup.key)
        .build()
        .map_err(|error| error.without_url().to_string())?;
    let response = client
        .execute(request)
        .await
        .map_err(|error| error.without_url().to_string())?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("it answered {status}"));
    }
    let body = read_at_most(response, MAX_AUTH_ANSWER_BYTES).await?;
    let auth: Auth = serde_json::from_slice(&body)
        .map_err(|error| format!("its answer is not what it says of a key: {error}"))?;
    template(&ui_origin(&lookup.api), &auth, &lookup.dataset)
        .ok_or_else(|| "its answer has no team".to_owned())
}

/// The UI beside an API host: `api.eu1.honeycomb.io` → `ui.eu1.honeycomb.io`; any other host
/// (a proxy, a stand-in) links to the US instance's.
fn ui_origin(api: &str) -> String {
    match api.strip_prefix("https://api.") {
        Some(rest) if rest == "honeycomb.io" || rest.ends_with(".honeycomb.io") => {
            format!("https://ui.{rest}")
        }
        _ => "https://ui.honeycomb.io".to_owned(),
    }
}

fn template(ui: &str, auth: &Auth, dataset: &str) -> Option<String> {
    let team = path_segment(&auth.team.slug)?;
    let environment = auth
        .environment
        .as_ref()
        .and_then(|environment| path_segment(&environment.slug));
    Some(match environment {
        Some(environment) => {
            format!("{ui}/{team}/environments/{environment}/trace?trace_id={TRACE_ID}")
        }
        None => format!(
            "{ui}/{team}/datasets/{}/trace?trace_id={TRACE_ID}",
            percent_encoding::utf8_percent_encode(dataset, percent_encoding::NON_ALPHANUMERIC)
        ),
    })
}

/// A slug as one segment of the link's path; Honeycomb's are lowercase words and dashes.
fn path_segment(slug: &str) -> Option<String> {
    let slug = slug.trim();
    (!slug.is_empty()).then(|| {
        percent_encoding::utf8_percent_encode(slug, percent_encoding::NON_ALPHANUMERIC).to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth(team: &str, environment: Option<&str>) -> Auth {
        Auth {
            team: Slugged { slug: team.into() },
            environment: environment.map(|slug| Slugged { slug: slug.into() }),
        }
    }

    #[test]
    fn an_environments_key_links_to_the_trace_in_its_environment() {
        assert_eq!(
            template(
                &ui_origin("https://api.honeycomb.io"),
                &auth("cruddur", Some("prod")),
                "x"
            ),
            Some(
                "https://ui.honeycomb.io/cruddur/environments/prod/trace?trace_id={trace_id}"
                    .into()
            )
        );
    }

    #[test]
    fn the_eu_instances_api_links_to_the_eu_instances_ui() {
        assert_eq!(
            ui_origin("https://api.eu1.honeycomb.io"),
            "https://ui.eu1.honeycomb.io"
        );
        assert_eq!(
            template(
                &ui_origin("https://api.eu1.honeycomb.io"),
                &auth("t", Some("e")),
                "x"
            )
            .unwrap(),
            "https://ui.eu1.honeycomb.io/t/environments/e/trace?trace_id={trace_id}"
        );
        assert_eq!(
            ui_origin("http://127.0.0.1:9999"),
            "https://ui.honeycomb.io"
        );
        assert_eq!(
            ui_origin("https://api.evil.example"),
            "https://ui.honeycomb.io"
        );
        assert_eq!(
            ui_origin("https://api.evilhoneycomb.io"),
            "https://ui.honeycomb.io"
        );
    }

    #[test]
    fn a_classic_key_links_by_dataset() {
        for classic in [auth("cruddur", None), auth("cruddur", Some(""))] {
            assert_eq!(
                template("https://ui.honeycomb.io", &classic, "cruddur-backend").unwrap(),
                "https://ui.honeycomb.io/cruddur/datasets/cruddur%2Dbackend/trace?trace_id={trace_id}"
            );
        }
        assert_eq!(
            template("https://ui.honeycomb.io", &auth("", Some("e")), "d"),
            None
        );
    }

    fn headers(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn the_key_is_sent_only_to_honeycomb_or_to_the_api_host_configured() {
        let key = [
            ("x-honeycomb-team", "k"),
            ("x-honeycomb-dataset", "cruddur"),
        ];
        let to_honeycomb = HoneycombLookup::from_settings(
            None,
            Some("https://api.eu1.honeycomb.io/v1/traces"),
            headers(&key),
            "svc",
        )
        .unwrap();
        assert_eq!(to_honeycomb.api, "https://api.eu1.honeycomb.io");
        assert_eq!(to_honeycomb.dataset, "cruddur");
        let to_a_collector = HoneycombLookup::from_settings(
            None,
            Some("http://collector:4318/v1/traces"),
            headers(&key),
            "svc",
        );
        assert_eq!(to_a_collector, None);
        let configured = HoneycombLookup::from_settings(
            Some("http://127.0.0.1:9999"),
            Some("http://collector:4318/v1/traces"),
            headers(&[("X-Honeycomb-Team", "k")]),
            "svc",
        )
        .unwrap();
        assert_eq!(
            (configured.api.as_str(), configured.dataset.as_str()),
            ("http://127.0.0.1:9999", "svc")
        );
        let no_key = HoneycombLookup::from_settings(
            None,
            Some("https://api.honeycomb.io/v1/traces"),
            headers(&[]),
            "svc",
        );
        assert_eq!(no_key, None);
    }
}
