//! What the relay accepted, refused and dropped, so that nothing is lost silently: shown in
//! `/api/health`, logged at most once a minute while something changes, and at shutdown.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

use super::limits::Trimmed;

#[derive(Debug, Default)]
pub struct Counters {
    exports_accepted: AtomicU64,
    spans_accepted: AtomicU64,
    spans_forwarded: AtomicU64,
    refused_rate_limited: AtomicU64,
    refused_too_large: AtomicU64,
    refused_too_many_spans: AtomicU64,
    refused_malformed: AtomicU64,
    refused_media_type: AtomicU64,
    refused_busy: AtomicU64,
    spans_refused: AtomicU64,
    spans_not_delivered: AtomicU64,
    attributes_dropped: AtomicU64,
    values_truncated: AtomicU64,
    events_dropped: AtomicU64,
    links_dropped: AtomicU64,
    kinds_rewritten: AtomicU64,
}

/// Why an export was refused.
#[derive(Debug, Clone, Copy)]
pub enum Refusal {
    RateLimited,
    TooLarge,
    TooManySpans,
    Malformed,
    MediaType,
    Busy,
}

/// The counters at one moment, as `/api/health` shows them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RelayCounts {
    pub exports_accepted: u64,
    pub spans_accepted: u64,
    pub spans_forwarded: u64,
    pub refused: Refused,
    /// Spans in refused exports, where they could be counted.
    pub spans_refused: u64,
    /// Accepted spans the OTLP endpoint did not take, or that were still queued when the
    /// shutdown deadline passed.
    pub spans_not_delivered: u64,
    pub trimmed: TrimmedCounts,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Refused {
    pub rate_limited: u64,
    pub too_large: u64,
    pub too_many_spans: u64,
    pub malformed: u64,
    pub unsupported_media_type: u64,
    pub busy: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TrimmedCounts {
    pub attributes_dropped: u64,
    pub values_truncated: u64,
    pub events_dropped: u64,
    pub links_dropped: u64,
    pub kinds_rewritten: u64,
}

fn add(counter: &AtomicU64, amount: u64) {
    counter.fetch_add(amount, Ordering::Relaxed);
}

impl Counters {
    pub fn accepted(&self, spans: usize, trimmed: &Trimmed) {
        add(&self.exports_accepted, 1);
        add(&self.spans_accepted, spans as u64);
        add(&self.attributes_dropped, trimmed.attributes_dropped);
        add(&self.values_truncated, trimmed.values_truncated);
        add(&self.events_dropped, trimmed.events_dropped);
        add(&self.links_dropped, trimmed.links_dropped);
        add(&self.kinds_rewritten, trimmed.kinds_rewritten);
    }

    pub fn refused(&self, refusal: Refusal, spans: usize) {
        let counter = match refusal {
            Refusal::RateLimited => &self.refused_rate_limited,
            Refusal::TooLarge => &self.refused_too_large,
            Refusal::TooManySpans => &self.refused_too_many_spans,
            Refusal::Malformed => &self.refused_malformed,
            Refusal::MediaType => &self.refused_media_type,
            Refusal::Busy => &self.refused_busy,
        };
        add(counter, 1);
        add(&self.spans_refused, spans as u64);
    }

    pub fn forwarded(&self, spans: usize) {
        add(&self.spans_forwarded, spans as u64);
    }

    pub fn not_delivered(&self, spans: usize) {
        add(&self.spans_not_delivered, spans as u64);
    }

    pub fn snapshot(&self) -> RelayCounts {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        RelayCounts {
            exports_accepted: get(&self.exports_accepted),
            spans_accepted: get(&self.spans_accepted),
            spans_forwarded: get(&self.spans_forwarded),
            refused: Refused {
                rate_limited: get(&self.refused_rate_limited),
                too_large: get(&self.refused_too_large),
                too_many_spans: get(&self.refused_too_many_spans),
                malformed: get(&self.refused_malformed),
                unsupported_media_type: get(&self.refused_media_type),
                busy: get(&self.refused_busy),
            },
            spans_refused: get(&self.spans_refused),
            spans_not_delivered: get(&self.spans_not_delivered),
            trimmed: TrimmedCounts {
                attributes_dropped: get(&self.attributes_dropped),
                values_truncated: get(&self.values_truncated),
                events_dropped: get(&self.events_dropped),
                links_dropped: get(&self.links_dropped),
                kinds_rewritten: get(&self.kinds_rewritten),
            },
        }
    }
}

impl RelayCounts {
    /// Whether anything was refused, trimmed or lost: what is worth a log line.
    pub fn has_losses(&self) -> bool {
        let refused = self.refused;
        let trimmed = self.trimmed;
        refused.rate_limited
            + refused.too_large
            + refused.too_many_spans
            + refused.malformed
            + refused.unsupported_media_type
            + refused.busy
            + self.spans_not_delivered
            + trimmed.attributes_dropped
            + trimmed.values_truncated
            + trimmed.events_dropped
            + trimmed.links_dropped
            + trimmed.kinds_rewritten
            > 0
    }

    /// One log line with every count.
    pub fn log(&self, moment: &str) {
        let refused = self.refused;
        let trimmed = self.trimmed;
        tracing::warn!(
            exports_accepted = self.exports_accepted,
            spans_accepted = self.spans_accepted,
            spans_forwarded = self.spans_forwarded,
            refused.rate_limited = refused.rate_limited,
            refused.too_large = refused.too_large,
            refused.too_many_spans = refused.too_many_spans,
            refused.malformed = refused.malformed,
            refused.unsupported_media_type = refused.unsupported_media_type,
            refused.busy = refused.busy,
            spans_refused = self.spans_refused,
            spans_not_delivered = self.spans_not_delivered,
            trimmed.attributes_dropped = trimmed.attributes_dropped,
            trimmed.values_truncated = trimmed.values_truncated,
            trimmed.events_dropped = trimmed.events_dropped,
            trimmed.links_dropped = trimmed.links_dropped,
            trimmed.kinds_rewritten = trimmed.kinds_rewritten,
            "the trace relay refused, trimmed or lost browser spans ({moment}); totals since start"
        );
    }
}
