//! What the store holds, in bytes: estimates of each span's, resource's and trace's heap,
//! for the byte cap.

use std::sync::Arc;

use shared::traces::{Attribute, ResourceView, SpanEvent};

use super::{SpanAt, SpanId, StoredSpan, StoredTrace, TraceId};

/// What an allocation costs beyond its bytes: the allocator's header and size-class rounding,
/// and the spare capacity of vectors. Measured with bench/trace-store.sh: without it, resident
/// memory at the byte cap came to about twice the cap.
pub(super) const PER_ALLOCATION: usize = 32;

/// A trace's own structures: its entries in the store's map and arrival queue, and its maps'
/// first allocations.
pub(super) const PER_TRACE: usize =
    std::mem::size_of::<StoredTrace>() + std::mem::size_of::<TraceId>() * 2 + 8 * PER_ALLOCATION;

/// A batch's `Arc`, its vector and its place in the trace's list.
pub(super) const PER_BATCH: usize = 2 * PER_ALLOCATION + 4 * std::mem::size_of::<usize>();

/// What the summary's indexes hold per span: its id in the set of ids and, while its parent
/// has not arrived, a root candidate and a place in the waiting list, with the spare room of
/// hash tables that grow by doubling.
pub(super) const PER_SPAN_INDEX: usize = 2 * std::mem::size_of::<SpanId>()
    + 2 * std::mem::size_of::<(u64, SpanAt)>()
    + std::mem::size_of::<SpanId>()
    + PER_ALLOCATION;

pub(super) fn text_bytes(text: &str) -> usize {
    text.len() + PER_ALLOCATION
}

pub(super) fn attribute_bytes(attributes: &[Attribute]) -> usize {
    PER_ALLOCATION
        + attributes
            .iter()
            .map(|attribute| {
                std::mem::size_of::<Attribute>()
                    + text_bytes(&attribute.key)
                    + text_bytes(&attribute.value)
            })
            .sum::<usize>()
}

/// The heap a span holds: each string and vector with its allocation cost, the struct itself
/// and its share of the summary's indexes. Its resource is counted once per trace, apart.
pub(super) fn span_bytes(span: &StoredSpan) -> usize {
    std::mem::size_of::<StoredSpan>()
        + PER_SPAN_INDEX
        + text_bytes(&span.name)
        + text_bytes(&span.status_message)
        + attribute_bytes(&span.attributes)
        + PER_ALLOCATION
        + span
            .events
            .iter()
            .map(|event| {
                std::mem::size_of::<SpanEvent>()
                    + text_bytes(&event.name)
                    + attribute_bytes(&event.attributes)
            })
            .sum::<usize>()
}

/// A resource's heap, with its `Arc` and its places in the trace's list and index.
pub(super) fn resource_bytes(resource: &ResourceView) -> usize {
    std::mem::size_of::<ResourceView>()
        + 2 * PER_ALLOCATION
        + text_bytes(&resource.service)
        + attribute_bytes(&resource.attributes)
        + std::mem::size_of::<Arc<ResourceView>>()
        + std::mem::size_of::<(u64, u32, u64)>()
}
