//! W3C Trace Context in and out, to the letter of the specification and its public test suite.
//!
//! Written here rather than taken from opentelemetry_sdk's `TraceContextPropagator` 0.33, which
//! continues traces it should not and drops state it should keep:
//! - it parses ids with `from_hex`, so a 30-digit trace id or a 14-digit span id is accepted and
//!   zero-padded instead of starting a new trace;
//! - it reads only the first `traceparent` and the first `tracestate` header, where a repeated
//!   `traceparent` is invalid and repeated `tracestate` headers are one list;
//! - its `tracestate` key grammar is the older multi-tenant one, so valid keys such as
//!   `foo@bar@baz` make it discard the caller's whole `tracestate`, and it lets more than 32
//!   members or an empty value through.
//!
//! The `tracestate` an incoming request carried travels on, unchanged, in the [`Context`]: every
//! span the request makes descends from that context, so each outbound call sends it on.

use std::sync::OnceLock;

use opentelemetry::Context;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};

use crate::trace_format::push_hex;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
/// `version-traceid-parentid-flags`: 2 + 1 + 32 + 1 + 16 + 1 + 2 characters.
const TRACEPARENT_LENGTH: usize = 55;
/// The specification's limits on `tracestate`.
const MAX_MEMBERS: usize = 32;
const MAX_KEY_LENGTH: usize = 256;
const MAX_VALUE_LENGTH: usize = 256;
/// More header text than 32 members of the longest key and value can fill (with separators and
/// whitespace to spare) is no valid `tracestate`, and is not parsed.
const MAX_TRACESTATE_TEXT: usize = 2 * MAX_MEMBERS * (MAX_KEY_LENGTH + 1 + MAX_VALUE_LENGTH + 2);

/// The incoming `tracestate`, validated and joined into one header value, as it is sent on.
#[derive(Debug, Clone, PartialEq, Eq)]
struct IncomingTraceState(String);

/// W3C Trace Context propagation: `traceparent` and `tracestate`.
#[derive(Debug, Default)]
pub struct W3cTraceContext;

/// `00-<trace id>-<span id>-<flags>`: a `traceparent`, and a Level 2 `traceresponse`.
pub(crate) fn version_00(span_context: &SpanContext, flags: TraceFlags) -> String {
    let mut value = String::with_capacity(55);
    value.push_str("00-");
    push_hex(&mut value, &span_context.trace_id().to_bytes());
    value.push('-');
    push_hex(&mut value, &span_context.span_id().to_bytes());
    value.push('-');
    push_hex(&mut value, &[flags.to_u8()]);
    value
}

impl TextMapPropagator for W3cTraceContext {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let span_context = span.span_context();
        if !span_context.is_valid() {
            return;
        }
        injector.set(
            TRACEPARENT,
            version_00(
                span_context,
                span_context.trace_flags() & TraceFlags::SAMPLED,
            ),
        );
        let tracestate = match cx.get::<IncomingTraceState>() {
            Some(incoming) => incoming.0.clone(),
            None => span_context.trace_state().header(),
        };
        if !tracestate.is_empty() {
            injector.set(TRACESTATE, tracestate);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let traceparents = extractor.get_all(TRACEPARENT).unwrap_or_default();
        // Two `traceparent` headers name two parents: neither can be trusted.
        let [traceparent] = traceparents.as_slice() else {
            return cx.clone();
        };
        let Some((trace_id, span_id, flags)) = parse_traceparent(traceparent) else {
            return cx.clone();
        };
        let tracestate = extractor
            .get_all(TRACESTATE)
            .and_then(|values| parse_tracestate(&values))
            .unwrap_or_default();
        // The SDK keeps the members its own grammar accepts, for the exporters; what is sent on
        // is the whole list, from the context.
        let sdk_state = TraceState::from_key_value(
            tracestate
                .iter()
                .map(|(key, value)| (key.as_str(), value.as_str()))
                .filter(|member| TraceState::from_key_value([*member]).is_ok()),
        )
        .unwrap_or_default();
        let span_context = SpanContext::new(trace_id, span_id, flags, true, sdk_state);
        let cx = cx.with_remote_span_context(span_context);
        if tracestate.is_empty() {
            cx
        } else {
            cx.with_value(IncomingTraceState(join_tracestate(&tracestate)))
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        static FIELDS: OnceLock<[String; 2]> = OnceLock::new();
        FieldIter::new(FIELDS.get_or_init(|| [TRACEPARENT.to_owned(), TRACESTATE.to_owned()]))
    }
}

/// HTTP's optional whitespace, allowed around header values and list members.
fn trim_ows(text: &str) -> &str {
    text.trim_matches([' ', '\t'])
}

fn is_lower_hex(text: &str) -> bool {
    text.bytes()
        .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

/// The trace id, parent id and flags of a valid `traceparent`; None starts a new trace.
///
/// Versions after `00` may append fields (`-` then more); only the four known ones are read.
/// Version `ff` is forbidden; version `00` has exactly four fields.
pub fn parse_traceparent(value: &str) -> Option<(TraceId, SpanId, TraceFlags)> {
    let value = trim_ows(value);
    if value.len() < TRACEPARENT_LENGTH || !value.is_ascii() {
        return None;
    }
    let (known, rest) = value.split_at(TRACEPARENT_LENGTH);
    let bytes = known.as_bytes();
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let (version, trace_id, span_id, flags) =
        (&known[0..2], &known[3..35], &known[36..52], &known[53..55]);
    if ![version, trace_id, span_id, flags]
        .iter()
        .all(|field| is_lower_hex(field))
        || version == "ff"
    {
        return None;
    }
    if !rest.is_empty() && (version == "00" || !rest.starts_with('-')) {
        return None;
    }
    let trace_id = TraceId::from_hex(trace_id).ok()?;
    let span_id = SpanId::from_hex(span_id).ok()?;
    if trace_id == TraceId::INVALID || span_id == SpanId::INVALID {
        return None;
    }
    let flags = u8::from_str_radix(flags, 16).ok()?;
    Some((
        trace_id,
        span_id,
        TraceFlags::new(flags) & TraceFlags::SAMPLED,
    ))
}

/// The members of every `tracestate` header, in order, as one list; None when the list is
/// invalid (a malformed member, more than 32 members, or too long to be valid), which discards
/// all of it. Empty members are allowed and skipped; of a repeated key the first is kept.
pub fn parse_tracestate(values: &[&str]) -> Option<Vec<(String, String)>> {
    let total: usize = values.iter().map(|value| value.len()).sum();
    if total > MAX_TRACESTATE_TEXT {
        return None;
    }
    let mut members: Vec<(String, String)> = Vec::new();
    for member in values.iter().flat_map(|value| value.split(',')) {
        let member = trim_ows(member);
        if member.is_empty() {
            continue;
        }
        let (key, value) = member.split_once('=')?;
        if !valid_key(key) || !valid_value(value) {
            return None;
        }
        if members.iter().any(|(seen, _)| seen == key) {
            continue;
        }
        if members.len() == MAX_MEMBERS {
            return None;
        }
        members.push((key.to_owned(), value.to_owned()));
    }
    Some(members)
}

/// `key = ( lcalpha / DIGIT ) 0*255 ( keychar )`, `keychar = lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`.
fn valid_key(key: &str) -> bool {
    let mut bytes = key.bytes();
    let Some(first) = bytes.next() else {
        return false;
    };
    key.len() <= MAX_KEY_LENGTH
        && (first.is_ascii_lowercase() || first.is_ascii_digit())
        && bytes.all(|byte| {
            byte.is_ascii_lowercase() || byte.is_ascii_digit() || b"_-*/@".contains(&byte)
        })
}

/// `value = 0*255(chr) nblk-chr`: printable ASCII but `,` and `=`, not ending in a space.
fn valid_value(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_VALUE_LENGTH
        && !value.ends_with(' ')
        && value
            .bytes()
            .all(|byte| (0x20..=0x7e).contains(&byte) && byte != b',' && byte != b'=')
}

fn join_tracestate(members: &[(String, String)]) -> String {
    members
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderName, HeaderValue};
    use opentelemetry_http::{HeaderExtractor, HeaderInjector};

    const TRACE: &str = "12345678901234567890123456789012";
    const PARENT: &str = "1234567890123456";
    const VALID: &str = "00-12345678901234567890123456789012-1234567890123456-01";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn extract(pairs: &[(&str, &str)]) -> Context {
        W3cTraceContext.extract(&HeaderExtractor(&headers(pairs)))
    }

    /// The trace id the request continues, if any.
    fn continued(pairs: &[(&str, &str)]) -> Option<String> {
        let cx = extract(pairs);
        let span = cx.span();
        let span_context = span.span_context();
        span_context
            .is_valid()
            .then(|| span_context.trace_id().to_string())
    }

    /// The `tracestate` an outbound call from the request sends.
    fn sent_on(pairs: &[(&str, &str)]) -> Option<String> {
        let mut outbound = HeaderMap::new();
        W3cTraceContext.inject_context(&extract(pairs), &mut HeaderInjector(&mut outbound));
        outbound
            .get(TRACESTATE)
            .map(|value| value.to_str().unwrap().to_owned())
    }

    fn with_traceparent<'a>(tracestates: &[&'a str]) -> Vec<(&'a str, &'a str)> {
        let mut pairs = vec![("traceparent", VALID)];
        pairs.extend(tracestates.iter().map(|value| ("tracestate", *value)));
        pairs
    }

    #[test]
    fn a_valid_traceparent_is_continued_whatever_the_header_name_casing() {
        for name in ["traceparent", "TraceParent", "TrAcEpArEnT", "TRACEPARENT"] {
            assert_eq!(
                continued(&[(name, VALID)]).as_deref(),
                Some(TRACE),
                "{name}"
            );
        }
        let cx = extract(&[("traceparent", VALID)]);
        assert_eq!(cx.span().span_context().span_id().to_string(), PARENT);
        assert!(cx.span().span_context().is_sampled());
        assert!(cx.span().span_context().is_remote());
    }

    #[test]
    fn misspelt_header_names_are_not_read() {
        for name in ["trace-parent", "trace.parent"] {
            assert_eq!(continued(&[(name, VALID)]), None, "{name}");
        }
    }

    #[test]
    fn whitespace_around_the_traceparent_is_allowed() {
        for value in [
            format!(" {VALID}"),
            format!("\t{VALID}"),
            format!("{VALID} "),
            format!("{VALID}\t"),
            format!("\t {VALID} \t"),
        ] {
            assert_eq!(
                continued(&[("traceparent", &value)]).as_deref(),
                Some(TRACE),
                "{value:?}"
            );
        }
    }

    #[test]
    fn a_short_trace_id_or_span_id_starts_a_new_trace_rather_than_being_zero_padded() {
        for value in [
            "00-6b0ceccf0af7651916cd43dd8448eb-c0ffee00c0ffee00-01",
            "00-12345678901234567890123456789012-12345678901234-01",
        ] {
            assert_eq!(continued(&[("traceparent", value)]), None, "{value}");
        }
    }

    #[test]
    fn invalid_versions_ids_and_flags_start_a_new_trace() {
        for value in [
            // versions
            "ff-12345678901234567890123456789012-1234567890123456-01",
            ".0-12345678901234567890123456789012-1234567890123456-01",
            "0.-12345678901234567890123456789012-1234567890123456-01",
            "000-12345678901234567890123456789012-1234567890123456-01",
            "0-12345678901234567890123456789012-1234567890123456-01",
            "0A-12345678901234567890123456789012-1234567890123456-01",
            // trace ids
            "00-00000000000000000000000000000000-1234567890123456-01",
            "00-.2345678901234567890123456789012-1234567890123456-01",
            "00-1234567890123456789012345678901.-1234567890123456-01",
            "00-123456789012345678901234567890123-1234567890123456-01",
            "00-1234567890123456789012345678901-1234567890123456-01",
            "00-ABCDEF78901234567890123456789012-1234567890123456-01",
            // parent ids
            "00-12345678901234567890123456789012-0000000000000000-01",
            "00-12345678901234567890123456789012-.234567890123456-01",
            "00-12345678901234567890123456789012-123456789012345.-01",
            "00-12345678901234567890123456789012-12345678901234567-01",
            "00-12345678901234567890123456789012-123456789012345-01",
            // flags
            "00-12345678901234567890123456789012-1234567890123456-.0",
            "00-12345678901234567890123456789012-1234567890123456-0.",
            "00-12345678901234567890123456789012-1234567890123456-001",
            "00-12345678901234567890123456789012-1234567890123456-1",
            "00-12345678901234567890123456789012-1234567890123456-0A",
            // version 00 has exactly four fields
            "00-12345678901234567890123456789012-1234567890123456-01-extra",
            "",
        ] {
            assert_eq!(continued(&[("traceparent", value)]), None, "{value:?}");
        }
    }

    #[test]
    fn a_future_version_is_read_as_far_as_version_00_goes() {
        for value in [
            "cc-12345678901234567890123456789012-1234567890123456-01",
            "cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",
        ] {
            assert_eq!(
                continued(&[("traceparent", value)]).as_deref(),
                Some(TRACE),
                "{value}"
            );
        }
        let value =
            "cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like";
        assert_eq!(continued(&[("traceparent", value)]), None);
    }

    #[test]
    fn flags_other_than_sampled_are_not_passed_on() {
        let value = "00-12345678901234567890123456789012-1234567890123456-ff";
        let cx = extract(&[("traceparent", value)]);
        assert_eq!(cx.span().span_context().trace_flags(), TraceFlags::SAMPLED);
    }

    #[test]
    fn two_traceparent_headers_start_a_new_trace() {
        let other = "00-12345678901234567890123456789011-1234567890123456-01";
        assert_eq!(
            continued(&[("traceparent", VALID), ("traceparent", other)]),
            None
        );
        assert_eq!(
            continued(&[("traceparent", VALID), ("traceparent", VALID)]),
            None
        );
    }

    #[test]
    fn tracestate_without_traceparent_is_discarded() {
        assert_eq!(continued(&[("tracestate", "foo=1")]), None);
        assert_eq!(sent_on(&[("tracestate", "foo=1")]), None);
    }

    #[test]
    fn tracestate_is_sent_on_whatever_its_header_name_casing() {
        for name in ["tracestate", "TraceState", "TrAcEsTaTe", "TRACESTATE"] {
            let pairs = [("traceparent", VALID), (name, "foo=1,bar=2")];
            assert_eq!(sent_on(&pairs).as_deref(), Some("foo=1,bar=2"), "{name}");
        }
        for name in ["trace-state", "trace.state"] {
            assert_eq!(sent_on(&[("traceparent", VALID), (name, "foo=1")]), None);
        }
    }

    #[test]
    fn repeated_tracestate_headers_are_one_list_in_order() {
        let pairs = with_traceparent(&["foo=1,bar=2", "rojo=1,congo=2", "baz=3"]);
        assert_eq!(
            sent_on(&pairs).as_deref(),
            Some("foo=1,bar=2,rojo=1,congo=2,baz=3")
        );
    }

    #[test]
    fn empty_tracestate_headers_and_members_are_skipped() {
        assert_eq!(sent_on(&with_traceparent(&[""])), None);
        assert_eq!(
            sent_on(&with_traceparent(&["foo=1", ""])).as_deref(),
            Some("foo=1")
        );
        assert_eq!(
            sent_on(&with_traceparent(&["", "foo=1"])).as_deref(),
            Some("foo=1")
        );
        assert_eq!(
            sent_on(&with_traceparent(&["foo=1,, ,bar=2"])).as_deref(),
            Some("foo=1,bar=2")
        );
    }

    #[test]
    fn whitespace_around_tracestate_members_is_allowed() {
        for value in [
            "foo=1 \t , \t bar=2, \t baz=3",
            "foo=1\t \t,\t \tbar=2,\t \tbaz=3",
        ] {
            assert_eq!(
                sent_on(&with_traceparent(&[value])).as_deref(),
                Some("foo=1,bar=2,baz=3"),
                "{value:?}"
            );
        }
        for value in [" foo=1", "\tfoo=1", "foo=1 ", "foo=1\t", "\t foo=1 \t"] {
            assert_eq!(
                sent_on(&with_traceparent(&[value])).as_deref(),
                Some("foo=1"),
                "{value:?}"
            );
        }
    }

    #[test]
    fn of_a_repeated_tracestate_key_the_first_is_kept() {
        for tracestates in [
            &["foo=1,foo=1"][..],
            &["foo=1,foo=2"],
            &["foo=1", "foo=1"],
            &["foo=1", "foo=2"],
        ] {
            let pairs = with_traceparent(tracestates);
            assert_eq!(continued(&pairs).as_deref(), Some(TRACE));
            assert_eq!(sent_on(&pairs).as_deref(), Some("foo=1"), "{tracestates:?}");
        }
    }

    #[test]
    fn every_character_the_grammar_allows_is_kept() {
        let key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
        let value: String = (0x20u8..=0x7e)
            .filter(|byte| *byte != b',' && *byte != b'=')
            .map(char::from)
            .collect();
        for key in [key.to_owned(), format!("{key}@a-z0-9_-*/")] {
            let member = format!("{key}={value}");
            assert_eq!(
                sent_on(&with_traceparent(&[&member])).as_deref(),
                Some(member.as_str())
            );
        }
    }

    #[test]
    fn a_malformed_tracestate_is_discarded_whole_but_the_trace_continues() {
        for value in [
            "foo =1",
            "FOO=1",
            "foo.bar=1",
            "@foo=1,bar=2",
            "foo=bar=baz",
            "foo=,bar=3",
            "foo",
        ] {
            let pairs = with_traceparent(&[value]);
            assert_eq!(continued(&pairs).as_deref(), Some(TRACE), "{value}");
            assert_eq!(sent_on(&pairs), None, "{value}");
        }
    }

    #[test]
    fn keys_with_at_signs_follow_the_key_grammar() {
        for key in ["foo@", "foo@@bar", "foo@bar@baz"] {
            let value = format!("{key}=1,bar=2");
            assert_eq!(
                sent_on(&with_traceparent(&[&value])).as_deref(),
                Some(value.as_str())
            );
        }
    }

    #[test]
    fn thirty_two_members_are_kept_and_thirty_three_discarded() {
        let members = |count: usize| {
            (1..=count)
                .map(|index| format!("bar{index:02}={index:02}"))
                .collect::<Vec<_>>()
                .join(",")
        };
        let kept = members(32);
        assert_eq!(
            sent_on(&with_traceparent(&[&kept])).as_deref(),
            Some(kept.as_str())
        );
        assert_eq!(sent_on(&with_traceparent(&[&members(33)])), None);
    }

    #[test]
    fn keys_of_up_to_256_characters_are_kept() {
        for key in [
            "z".repeat(256),
            format!("{}@{}", "t".repeat(241), "v".repeat(14)),
            format!("{}@v", "t".repeat(242)),
            format!("t@{}", "v".repeat(15)),
        ] {
            let member = format!("{key}=1");
            assert_eq!(
                sent_on(&with_traceparent(&["foo=1", &member])),
                Some(format!("foo=1,{member}"))
            );
        }
        let too_long = format!("{}=1", "z".repeat(257));
        assert_eq!(sent_on(&with_traceparent(&["foo=1", &too_long])), None);
    }

    #[test]
    fn values_of_up_to_256_characters_are_kept() {
        let member = format!("foo={}", "v".repeat(256));
        assert_eq!(sent_on(&with_traceparent(&[&member])), Some(member.clone()));
        let too_long = format!("foo={}", "v".repeat(257));
        assert_eq!(sent_on(&with_traceparent(&[&too_long])), None);
    }

    #[test]
    fn what_is_injected_names_the_span_and_the_sampled_flag_only() {
        let mut outbound = HeaderMap::new();
        let cx = extract(&[("traceparent", VALID)]);
        W3cTraceContext.inject_context(&cx, &mut HeaderInjector(&mut outbound));
        assert_eq!(outbound.get(TRACEPARENT).unwrap(), VALID);
        assert_eq!(outbound.get(TRACESTATE), None);
    }

    /// The properties the `trace_context` fuzz target searches for at length, on a few
    /// hundred generated cases each.
    mod properties {
        use super::*;
        use proptest::prelude::*;

        const OWS: &str = "[ \t]{0,3}";

        fn member() -> impl Strategy<Value = (String, String)> {
            (
                "[a-z0-9][a-z0-9_*/@-]{0,20}",
                "[\x20-\x2B\x2D-\x3C\x3E-\x7E]{0,20}[\x21-\x2B\x2D-\x3C\x3E-\x7E]",
            )
        }

        /// Up to `max` members with distinct keys.
        fn members(max: usize) -> impl Strategy<Value = Vec<(String, String)>> {
            prop::collection::vec(member(), 1..=max).prop_map(|members| {
                let mut seen = std::collections::HashSet::new();
                members
                    .into_iter()
                    .filter(|(key, _)| seen.insert(key.clone()))
                    .collect()
            })
        }

        proptest! {
            #[test]
            fn any_text_as_traceparent_is_valid_or_refused_never_a_panic(value in any::<String>()) {
                if let Some((trace_id, span_id, _)) = parse_traceparent(&value) {
                    prop_assert_ne!(trace_id, TraceId::INVALID);
                    prop_assert_ne!(span_id, SpanId::INVALID);
                }
            }

            #[test]
            fn a_valid_traceparent_is_read_exactly(
                trace in 1u128..,
                span in 1u64..,
                flags in any::<u8>(),
                before in OWS,
                after in OWS,
            ) {
                let value = format!("{before}00-{trace:032x}-{span:016x}-{flags:02x}{after}");
                let parsed = parse_traceparent(&value);
                prop_assert_eq!(
                    parsed,
                    Some((TraceId::from(trace), SpanId::from(span), TraceFlags::new(flags & 1)))
                );
                let upper = value.to_ascii_uppercase();
                if upper != value {
                    prop_assert_eq!(parse_traceparent(&upper), None);
                }
                // One digit fewer in either id is a new trace, never a padded one.
                let short_trace = format!("00-{:031x}-{span:016x}-01", trace >> 4);
                prop_assert_eq!(parse_traceparent(&short_trace), None);
            }

            #[test]
            fn tracestate_over_any_split_is_the_same_list(
                members in members(32),
                splits in prop::collection::vec(any::<bool>(), 32),
                padding in OWS,
            ) {
                let mut headers = vec![String::new()];
                for (index, (key, value)) in members.iter().enumerate() {
                    let header = headers.last_mut().unwrap();
                    header.push_str(&format!("{padding}{key}={value}{padding},"));
                    if splits[index] {
                        headers.push(String::new());
                    }
                }
                let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
                prop_assert_eq!(parse_tracestate(&headers), Some(members));
            }

            #[test]
            fn more_than_32_members_discard_the_list(members in members(64)) {
                prop_assume!(members.len() > 32);
                let header = join_tracestate(&members);
                prop_assert_eq!(parse_tracestate(&[&header]), None);
            }

            #[test]
            fn any_tracestate_parses_to_a_list_that_parses_back_the_same(
                headers in prop::collection::vec(any::<String>(), 0..4),
            ) {
                let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
                if let Some(members) = parse_tracestate(&headers) {
                    prop_assert!(members.len() <= MAX_MEMBERS);
                    let joined = join_tracestate(&members);
                    prop_assert_eq!(parse_tracestate(&[&joined]), Some(members));
                }
            }
        }
    }
}
