//! The load and the checks of `bench/scale.sh`: many clients through the proxy, each from an
//! address of its own, then what the run must have lost nothing of.
//!
//! `scale_load run PROXY CLIENTS RATE SECONDS DIR`: CLIENTS clients, each connecting from its
//! own loopback address (127.1.x.y, so the proxy's `X-Forwarded-For` names a different client
//! for each, as real clients would be), together RATE requests a second on a fixed schedule
//! for SECONDS: 90% reads across every page, 10% cruds, replies and messages; a quarter of
//! them carry a `traceparent` of their own. Every request goes on a new connection, as a
//! browser's do once its idle connections are closed under it: what is measured is the proxy
//! and the backends, not a kept-alive connection's race with a restart. Writes to DIR:
//! `requests.tsv` (unix ms sent, µs taken, status or 0 for a connection error, trace id or -,
//! request) and `writes.tsv` (what each 2xx write created, and the list it appears in).
//! `scale_load check DIR BACKEND...`: every acknowledged write is read back from each backend
//! directly, on the lists it appears in; exits 1 when one is missing anywhere.
//! `scale_load report DIR SPANS RESTARTS`: no request failed (no 5xx, no connection error),
//! every answered request's server span is among the sink's (SPANS, `telemetry_sink`'s lines),
//! every trace id sent is there; the latency's p50 and p99 during the restarts (RESTARTS: a
//! line of unix ms "start end" for each) and outside them. Exits 1 when one check fails.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rand::Rng;
use serde_json::{Value, json};
use shared::{ACTING_USER_HANDLE, Activity, Page};
use tokio::time::MissedTickBehavior;

/// Who messages go to: every other seeded user.
const RECEIVERS: [&str; 3] = ["worf", "garek", "coco"];
/// Where reads go, with `{parent}` the crud the run replies to.
const READS: [&str; 9] = [
    "/api/activities/home",
    "/api/activities/notifications",
    "/api/activities/@andrewbrown",
    "/api/activities/@worf",
    "/api/activities/search?term=crud",
    "/api/activities/{parent}",
    "/api/activities/{parent}/replies",
    "/api/message_groups",
    "/api/messages/@worf",
];

fn unix_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis()
}

/// Client `n`'s own loopback address; Linux answers on every 127/8 address.
fn client_address(base: u8, n: usize) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(
        127,
        base,
        (n / 250) as u8,
        (n % 250 + 1) as u8,
    ))
}

fn client_from(address: IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(address)
        .pool_max_idle_per_host(0)
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a client")
}

struct Outcome {
    sent_ms: u128,
    micros: u128,
    status: u16,
    trace_id: Option<String>,
    request: String,
}

/// What a 2xx write created: its kind, its uuid, the list it appears in.
struct Write {
    kind: &'static str,
    uuid: String,
    list: String,
}

#[derive(Default)]
struct Record {
    outcomes: Vec<Outcome>,
    writes: Vec<Write>,
}

async fn one_request(client: &reqwest::Client, proxy: &str, parent: &str, record: &Mutex<Record>) {
    let (method_path, body, kind, list) = {
        let mut rng = rand::rng();
        let roll = rng.random_range(0..100);
        let n: u32 = rng.random();
        if roll < 90 {
            let path = READS[rng.random_range(0..READS.len())].replace("{parent}", parent);
            (format!("GET {path}"), None, "", String::new())
        } else if roll < 94 {
            (
                "POST /api/activities".to_owned(),
                Some(json!({"message": format!("a crud under load {n}"), "ttl": "7-days"})),
                "crud",
                format!("/api/activities/@{ACTING_USER_HANDLE}"),
            )
        } else if roll < 97 {
            (
                format!("POST /api/activities/{parent}/reply"),
                Some(json!({"message": format!("a reply under load {n}")})),
                "reply",
                format!("/api/activities/{parent}/replies"),
            )
        } else {
            let to = RECEIVERS[rng.random_range(0..RECEIVERS.len())];
            (
                "POST /api/messages".to_owned(),
                Some(
                    json!({"message": format!("a message under load {n}"), "user_receiver_handle": to}),
                ),
                "message",
                format!("/api/messages/@{to}"),
            )
        }
    };
    // The trace id begins with the time, as X-Ray's do, so X-Ray takes these traces too.
    let trace = rand::rng().random_bool(0.25).then(|| {
        let mut rng = rand::rng();
        (
            format!(
                "{:08x}{:024x}",
                unix_ms() / 1000,
                rng.random::<u128>() >> 32 | 1
            ),
            format!("{:016x}", rng.random::<u64>() | 1),
        )
    });
    let path = method_path.split_once(' ').map_or("", |(_, path)| path);
    let url = format!("{proxy}{path}");
    let mut request = match &body {
        Some(body) => client.post(url).json(body),
        None => client.get(url),
    };
    if let Some((trace_id, parent_id)) = &trace {
        request = request.header("traceparent", format!("00-{trace_id}-{parent_id}-01"));
    }
    let sent_ms = unix_ms();
    let started = Instant::now();
    let (status, answer) = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            match response.bytes().await {
                Ok(bytes) => (status, bytes),
                Err(_) => (0, Default::default()),
            }
        }
        Err(_) => (0, Default::default()),
    };
    let micros = started.elapsed().as_micros();
    let created = (body.is_some() && (200..300).contains(&status))
        .then(|| serde_json::from_slice::<Value>(&answer).ok())
        .flatten()
        .and_then(|created| created["uuid"].as_str().map(str::to_owned));
    let mut record = record.lock().unwrap();
    if let Some(uuid) = created {
        record.writes.push(Write { kind, uuid, list });
    }
    record.outcomes.push(Outcome {
        sent_ms,
        micros,
        status,
        trace_id: trace.map(|(trace_id, _)| trace_id),
        request: method_path,
    });
}

async fn run(proxy: String, clients: usize, rate: f64, seconds: u64, dir: String) {
    let setup = client_from(client_address(1, 0));
    let sent_ms = unix_ms();
    let started = Instant::now();
    let parent: Activity = setup
        .post(format!("{proxy}/api/activities"))
        .json(&json!({"message": "the crud the run replies to", "ttl": "7-days"}))
        .send()
        .await
        .and_then(|response| response.error_for_status())
        .expect("the proxy takes the first crud")
        .json()
        .await
        .expect("a crud");
    let parent = parent.uuid.to_string();
    let record = Arc::new(Mutex::new(Record {
        outcomes: vec![Outcome {
            sent_ms,
            micros: started.elapsed().as_micros(),
            status: 200,
            trace_id: None,
            request: "POST /api/activities".to_owned(),
        }],
        writes: vec![Write {
            kind: "crud",
            uuid: parent.clone(),
            list: format!("/api/activities/@{ACTING_USER_HANDLE}"),
        }],
    }));
    let period = Duration::from_secs_f64(clients as f64 / rate);
    let end = Instant::now() + Duration::from_secs(seconds);
    let tasks: Vec<_> = (0..clients)
        .map(|n| {
            let client = client_from(client_address(1, n));
            let (proxy, parent, record) = (proxy.clone(), parent.clone(), record.clone());
            // Spread over the period, so the clients' requests don't go out together.
            let offset = period.mul_f64(n as f64 / clients as f64);
            tokio::spawn(async move {
                let mut ticks =
                    tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
                ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
                let mut in_flight = tokio::task::JoinSet::new();
                while Instant::now() < end {
                    ticks.tick().await;
                    let (client, proxy, parent, record) = (
                        client.clone(),
                        proxy.clone(),
                        parent.clone(),
                        record.clone(),
                    );
                    in_flight.spawn(async move {
                        one_request(&client, &proxy, &parent, &record).await;
                    });
                }
                in_flight.join_all().await;
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a client's task");
    }
    let record = record.lock().unwrap();
    let mut requests = String::new();
    for outcome in &record.outcomes {
        let _ = writeln!(
            requests,
            "{}\t{}\t{}\t{}\t{}",
            outcome.sent_ms,
            outcome.micros,
            outcome.status,
            outcome.trace_id.as_deref().unwrap_or("-"),
            outcome.request
        );
    }
    std::fs::write(format!("{dir}/requests.tsv"), requests).expect("requests.tsv");
    let mut writes = String::new();
    for write in &record.writes {
        let _ = writeln!(writes, "{}\t{}\t{}", write.kind, write.uuid, write.list);
    }
    std::fs::write(format!("{dir}/writes.tsv"), writes).expect("writes.tsv");
    println!(
        "load: {} requests from {clients} clients, {} writes acknowledged",
        record.outcomes.len(),
        record.writes.len()
    );
}

/// Every uuid on `list` at `backend`, page after page.
async fn uuids_on(
    client: &reqwest::Client,
    backend: &str,
    list: &str,
    pages: &mut usize,
) -> HashSet<String> {
    let mut found = HashSet::new();
    let mut before: Option<String> = None;
    loop {
        *pages += 1;
        let mut url = format!("{backend}{list}?limit={}", shared::PAGE_SIZE);
        if let Some(cursor) = &before {
            let _ = write!(url, "&before={cursor}");
        }
        let response = client
            .get(&url)
            .send()
            .await
            .and_then(|response| response.error_for_status())
            .unwrap_or_else(|error| panic!("{url}: {error}"));
        let page: Page<Value> = response.json().await.expect("a page");
        found.extend(
            page.items
                .iter()
                .filter_map(|item| item["uuid"].as_str().map(str::to_owned)),
        );
        match page.next {
            Some(next) => before = Some(next),
            None => return found,
        }
    }
}

async fn check(dir: String, backends: Vec<String>) -> bool {
    let writes = std::fs::read_to_string(format!("{dir}/writes.tsv")).expect("writes.tsv");
    let mut lists: BTreeMap<&str, Vec<(&str, &str)>> = BTreeMap::new();
    for line in writes.lines() {
        let mut fields = line.split('\t');
        let (Some(kind), Some(uuid), Some(list)) = (fields.next(), fields.next(), fields.next())
        else {
            continue;
        };
        lists.entry(list).or_default().push((kind, uuid));
    }
    let acknowledged: usize = lists.values().map(Vec::len).sum();
    let (mut missing, mut pages) = (0, 0);
    for (n, backend) in backends.iter().enumerate() {
        // Not through the proxy, and from an address of its own: the backend's read budget
        // is per client, and these reads are many.
        let client = client_from(client_address(2, n));
        for (list, written) in &lists {
            let found = uuids_on(&client, backend, list, &mut pages).await;
            for (kind, uuid) in written {
                if !found.contains(*uuid) {
                    missing += 1;
                    eprintln!("missing at {backend}: the {kind} {uuid} on {list}");
                }
            }
        }
    }
    println!(
        "writes: {acknowledged} acknowledged, {} found on all {} instances",
        acknowledged - missing.min(acknowledged),
        backends.len()
    );
    // Each read here is a server span too, which the report expects.
    std::fs::write(format!("{dir}/check-requests"), pages.to_string()).expect("check-requests");
    missing == 0
}

fn percentile(sorted: &[u128], fraction: f64) -> u128 {
    if sorted.is_empty() {
        return 0;
    }
    sorted[((sorted.len() - 1) as f64 * fraction).round() as usize]
}

fn report(dir: String, spans: String, restarts: String) -> bool {
    let requests = std::fs::read_to_string(format!("{dir}/requests.tsv")).expect("requests.tsv");
    let windows: Vec<(u128, u128)> = std::fs::read_to_string(&restarts)
        .expect("the restarts' file")
        .lines()
        .filter_map(|line| {
            let (start, end) = line.split_once(' ')?;
            Some((start.parse().ok()?, end.parse().ok()?))
        })
        .collect();
    let server_spans = std::fs::read_to_string(&spans).expect("the sink's spans");
    let check_requests: usize = std::fs::read_to_string(format!("{dir}/check-requests"))
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or_default();
    let mut span_traces: HashMap<&str, usize> = HashMap::new();
    let mut api_spans = 0;
    for line in server_spans.lines() {
        let Some((trace_id, name)) = line.split_once(' ') else {
            continue;
        };
        if name.contains(" /api/") {
            api_spans += 1;
            *span_traces.entry(trace_id).or_default() += 1;
        }
    }
    let (mut answered, mut failed, mut refused) = (0, 0, 0);
    let (mut during, mut steady) = (Vec::new(), Vec::new());
    let (mut traced, mut traces_missing) = (0, 0);
    for line in requests.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [sent, micros, status, trace_id, request] = fields[..] else {
            continue;
        };
        let (sent, micros, status): (u128, u128, u16) = (
            sent.parse().unwrap_or_default(),
            micros.parse().unwrap_or_default(),
            status.parse().unwrap_or_default(),
        );
        if status == 0 || status >= 500 {
            failed += 1;
            eprintln!("failed: {request} answered {status} (0: no answer) at {sent}");
            continue;
        }
        answered += 1;
        if status >= 400 {
            refused += 1;
            eprintln!("refused: {request} answered {status}");
        }
        let finished = sent + micros / 1000;
        let restarting = windows
            .iter()
            .any(|(start, end)| sent <= *end && finished >= *start);
        if restarting { &mut during } else { &mut steady }.push(micros);
        if trace_id != "-" {
            traced += 1;
            if !span_traces.contains_key(trace_id) {
                traces_missing += 1;
                eprintln!("trace {trace_id} ({request}) has no server span at the sink");
            }
        }
    }
    during.sort_unstable();
    steady.sort_unstable();
    println!(
        "requests: {} answered, {failed} failed, {refused} refused (4xx)",
        answered
    );
    for (name, latencies) in [("steady", &steady), ("during restarts", &during)] {
        println!(
            "latency {name}: {} requests, p50 {:.1} ms, p99 {:.1} ms",
            latencies.len(),
            percentile(latencies, 0.5) as f64 / 1000.0,
            percentile(latencies, 0.99) as f64 / 1000.0
        );
    }
    let expected = answered + check_requests;
    println!(
        "spans: {expected} expected ({answered} answered through the proxy, {check_requests} \
         reads back), {api_spans} received"
    );
    println!(
        "traces: {traced} sent with a traceparent, {} found whole at the sink",
        traced - traces_missing
    );
    failed == 0 && refused == 0 && api_spans == expected && traces_missing == 0
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: scale_load run PROXY CLIENTS RATE SECONDS DIR | check DIR BACKEND... \
                 | report DIR SPANS RESTARTS";
    let passed = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["run", proxy, clients, rate, seconds, dir] => {
            run(
                proxy.to_owned(),
                clients.parse().expect(usage),
                rate.parse().expect(usage),
                seconds.parse().expect(usage),
                dir.to_owned(),
            )
            .await;
            true
        }
        ["check", dir, ref backends @ ..] if !backends.is_empty() => {
            check(
                dir.to_owned(),
                backends
                    .iter()
                    .map(|backend| (*backend).to_owned())
                    .collect(),
            )
            .await
        }
        ["report", dir, spans, restarts] => {
            report(dir.to_owned(), spans.to_owned(), restarts.to_owned())
        }
        _ => {
            eprintln!("{usage}");
            false
        }
    };
    if passed {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    }
}
