//! Keeping every datagram under the daemon's limit: a document too large is split into
//! subsegment documents sent on their own, and a single span still too large sheds details.

use std::borrow::Cow;

use opentelemetry::trace::{SpanId, TraceId};

use super::{
    DAEMON_HEADER, Document, Id, MAX_DATAGRAM_BYTES, Metadata, Scalar, Translated, xray_trace_id,
};

/// A subsegment sent on its own names its trace and parent.
pub(super) fn make_standalone(document: &mut Document<'_>, trace_id: TraceId, parent_id: SpanId) {
    document.kind = Some("subsegment");
    document.trace_id = Some(xray_trace_id(trace_id));
    document.parent_id = Some(Id(parent_id));
}

/// Sends `document` whole when it fits a datagram. Otherwise it keeps the subsegments that fit
/// beside it and the others go out as documents of their own (split again as needed); a single
/// span still too large sheds details until it fits, and is left out when it cannot: no
/// datagram over the limit is ever sent.
pub(super) fn split_to_fit(mut document: Document<'_>, trace_id: TraceId, out: &mut Translated) {
    let serialized = document.to_json();
    if fits_a_datagram(&serialized) {
        out.documents.push(serialized);
        return;
    }
    if !document.subsegments.is_empty() {
        let subsegments = std::mem::take(&mut document.subsegments);
        let parent = document.id.0;
        // `,"subsegments":[` and `]`, then each kept subsegment and its comma.
        let mut size = DAEMON_HEADER.len() + document.to_json().len() + 20;
        let mut kept = Vec::new();
        let mut standalone = Vec::new();
        for subsegment in subsegments {
            let length = subsegment.to_json().len() + 1;
            if size + length <= MAX_DATAGRAM_BYTES {
                size += length;
                kept.push(subsegment);
            } else {
                standalone.push(subsegment);
            }
        }
        document.subsegments = kept;
        split_to_fit(document, trace_id, out);
        for mut subsegment in standalone {
            make_standalone(&mut subsegment, trace_id, parent);
            split_to_fit(subsegment, trace_id, out);
        }
        return;
    }
    let name = document.name.clone();
    match shed_to_fit(document) {
        Some((serialized, shed)) => {
            out.documents.push(serialized);
            out.shed.push((name, shed));
        }
        None => out.too_large.push(name),
    }
}

pub(super) fn fits_a_datagram(serialized: &str) -> bool {
    DAEMON_HEADER.len() + serialized.len() <= MAX_DATAGRAM_BYTES
}

/// What a document still too large alone gives up, in this order, until it fits: the request's
/// details (URL, user agent and client address, all from the client), its metadata, its
/// annotations, then its exceptions. Its name, ids, times, flags and status stay, so the
/// request is still found and counted.
const SHEDDABLE: [(&str, Shed); 5] = [
    ("http_request", shed_request_details),
    ("metadata", |document| document.metadata.take().is_some()),
    ("annotations", |document| {
        !std::mem::take(&mut document.annotations).is_empty()
    }),
    ("cause", |document| document.cause.take().is_some()),
    ("sql", |document| document.sql.take().is_some()),
];

/// Removes a part of a document; says whether it had one.
type Shed = fn(&mut Document<'_>) -> bool;

pub(super) const OMITTED: &str = "over the 64 KB datagram limit";

/// Keeps the request's method only.
fn shed_request_details(document: &mut Document<'_>) -> bool {
    let Some(http) = &mut document.http else {
        return false;
    };
    let request = &mut http.request;
    let had_details = request.url.is_some()
        || request.user_agent.is_some()
        || request.client_ip.is_some()
        || request.x_forwarded_for
        || request.traced;
    request.url = None;
    request.user_agent = None;
    request.client_ip = None;
    request.x_forwarded_for = false;
    request.traced = false;
    had_details
}

/// Says in the document's metadata what it was sent without, `<part>_omitted` for each.
fn mark_omitted(document: &mut Document<'_>, shed: &[&str]) {
    let metadata = &mut document.metadata.get_or_insert_with(Metadata::default).otel;
    for part in shed {
        metadata
            .0
            .push((Cow::Owned(format!("{part}_omitted")), Scalar::Note(OMITTED)));
    }
    metadata.settle();
}

/// `document` shedding what `SHEDDABLE` lists until it fits, and what it shed; None when it
/// cannot fit even so.
fn shed_to_fit(mut document: Document<'_>) -> Option<(String, Vec<&'static str>)> {
    let mut shed = Vec::new();
    for (part, shed_part) in SHEDDABLE {
        if !shed_part(&mut document) {
            continue;
        }
        shed.push(part);
        mark_omitted(&mut document, &shed);
        let serialized = document.to_json();
        if fits_a_datagram(&serialized) {
            return Some((serialized, shed));
        }
    }
    None
}
