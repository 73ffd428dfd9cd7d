//! Load for `bench/throughput.sh` where wrk can't help: a fixed request rate, and a fixed
//! request count.
//!
//! `request_load rate URL RATE SECONDS PID [JSON]`: RATE requests a second for SECONDS on a
//! fixed schedule (a GET, or a POST of JSON), and prints the latency's p50 and p99, each from
//! when the request went out, with how many went out more than a millisecond behind schedule
//! (tokio's timer wakes within one), which says whether the rate held; and the CPU time the
//! process PID spent (user + system, from `/proc/PID/stat`) per request.
//! `request_load count URL COUNT [JSON]`: COUNT requests on 4 connections, each sent as the
//! last is answered, for counting instructions under callgrind.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::time::MissedTickBehavior;

/// Requests in flight at once: enough that the schedule holds while one waits.
const CONNECTIONS: u64 = 16;
const COUNTING_CONNECTIONS: u64 = 4;

#[derive(Clone)]
struct Target {
    client: reqwest::Client,
    url: String,
    json: Option<String>,
}

impl Target {
    /// Sends one request and reads its whole answer; false unless it is a 2xx.
    async fn call(&self) -> bool {
        let request = match &self.json {
            Some(json) => self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .body(json.clone()),
            None => self.client.get(&self.url),
        };
        match request.send().await {
            Ok(response) => {
                let success = response.status().is_success();
                response.bytes().await.is_ok() && success
            }
            Err(_) => false,
        }
    }
}

/// User + system time of the process so far, from `/proc/PID/stat` (fields 14 and 15, in ticks).
fn cpu_time(pid: &str) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .unwrap_or_else(|error| panic!("/proc/{pid}/stat: {error}"));
    // The command name, in parentheses, may hold spaces: count fields after it.
    let after_name = &stat[stat.rfind(')').expect("a stat line names its command") + 2..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // Linux reports these in USER_HZ, 100 a second on every architecture it runs on.
    Duration::from_millis(ticks * 10)
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).saturating_sub(1);
    sorted.get(index).copied().unwrap_or_default()
}

async fn at_rate(target: Target, rate: u64, seconds: u64, pid: &str) {
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let failures = Arc::new(Mutex::new(0u64));
    let behind = Arc::new(Mutex::new(0u64));
    let period = Duration::from_secs_f64(CONNECTIONS as f64 / rate as f64);
    let requests_each = rate * seconds / CONNECTIONS;
    let cpu_before = cpu_time(pid);
    let started = Instant::now();
    let workers: Vec<_> = (0..CONNECTIONS)
        .map(|worker| {
            let (target, latencies, failures, behind) = (
                target.clone(),
                latencies.clone(),
                failures.clone(),
                behind.clone(),
            );
            // Staggered, so the requests are spread over each period, not sent in bursts.
            let first = started + period.mul_f64(worker as f64 / CONNECTIONS as f64);
            tokio::spawn(async move {
                let mut schedule = tokio::time::interval_at(first.into(), period);
                schedule.set_missed_tick_behavior(MissedTickBehavior::Burst);
                for _ in 0..requests_each {
                    let due = schedule.tick().await;
                    let sent = Instant::now();
                    if sent.duration_since(due.into_std()) > Duration::from_millis(1) {
                        *behind.lock().unwrap() += 1;
                    }
                    let succeeded = target.call().await;
                    latencies.lock().unwrap().push(sent.elapsed());
                    if !succeeded {
                        *failures.lock().unwrap() += 1;
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time(pid) - cpu_before;
    let mut latencies = latencies.lock().unwrap().clone();
    latencies.sort_unstable();
    let requests = latencies.len() as f64;
    println!(
        "{} requests in {:.1} s ({:.0}/s, {} failed, {} late)  p50 {:.0} µs  p99 {:.0} µs  CPU {:.1} µs/request",
        latencies.len(),
        elapsed.as_secs_f64(),
        requests / elapsed.as_secs_f64(),
        failures.lock().unwrap(),
        behind.lock().unwrap(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e6,
        percentile(&latencies, 0.99).as_secs_f64() * 1e6,
        cpu.as_secs_f64() * 1e6 / requests,
    );
}

async fn count(target: Target, total: u64) {
    let workers: Vec<_> = (0..COUNTING_CONNECTIONS)
        .map(|worker| {
            let target = target.clone();
            let share =
                total / COUNTING_CONNECTIONS + u64::from(worker < total % COUNTING_CONNECTIONS);
            tokio::spawn(async move {
                let mut failed = 0u64;
                for _ in 0..share {
                    failed += u64::from(!target.call().await);
                }
                failed
            })
        })
        .collect();
    let mut failed = 0;
    for worker in workers {
        failed += worker.await.unwrap();
    }
    println!("{total} requests, {failed} failed");
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: request_load rate URL RATE SECONDS PID [JSON] | count URL COUNT [JSON]";
    let number = |index: usize| -> u64 {
        args.get(index)
            .and_then(|value| value.parse().ok())
            .unwrap_or_else(|| panic!("{usage}"))
    };
    let target = |json_at: usize| Target {
        client: reqwest::Client::new(),
        url: args.get(2).cloned().unwrap_or_else(|| panic!("{usage}")),
        json: args.get(json_at).cloned(),
    };
    match args.get(1).map(String::as_str) {
        Some("rate") => {
            let pid = args.get(5).unwrap_or_else(|| panic!("{usage}"));
            at_rate(target(6), number(3), number(4), pid).await;
        }
        Some("count") => count(target(4), number(3)).await,
        _ => panic!("{usage}"),
    }
}
