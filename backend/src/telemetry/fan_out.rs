//! The attribute value length limit for the backend's own spans, applied in one place: the one
//! span processor the provider has, which cuts every string value (span, event and link
//! attributes) as the span ends and only then hands it to each exporter's batch processor
//! (OTLP, X-Ray, the local store), so none of them queues or sends more.
//!
//! Written here because opentelemetry_sdk 0.33's `SpanLimits` bound how many attributes,
//! events and links a span holds but not how long a value is, and many values come from the
//! client: the path, the query, the user agent, the search term.

use std::time::Duration;

use opentelemetry::trace::Link;
use opentelemetry::{Array, Context, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};

use crate::losses::LossCounter;

/// The longest start of `text` that is at most `max_bytes` long and ends between characters.
pub fn truncate_at_char_boundary(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Which spans a processor takes.
type Wants = Box<dyn Fn(&SpanData) -> bool + Send + Sync>;

/// Holds every span to `max_value_bytes`, then fans it out to the exporters' processors, each
/// getting only the spans it wants: a copy for all but the last that wants it, which gets the
/// span itself.
pub struct SpanFanOut {
    max_value_bytes: usize,
    processors: Vec<(Box<dyn SpanProcessor>, Option<Wants>)>,
    truncated: LossCounter,
}

impl std::fmt::Debug for SpanFanOut {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SpanFanOut")
            .field("max_value_bytes", &self.max_value_bytes)
            .field("processors", &self.processors.len())
            .finish()
    }
}

impl SpanFanOut {
    pub fn new(max_value_bytes: usize) -> Self {
        SpanFanOut {
            max_value_bytes,
            processors: Vec::new(),
            truncated: LossCounter::default(),
        }
    }

    pub fn with_processor(mut self, processor: impl SpanProcessor + 'static) -> Self {
        self.processors.push((Box::new(processor), None));
        self
    }

    /// Adds a processor that gets only the spans `wants` takes; the others cost it nothing,
    /// not even a copy.
    pub fn with_processor_for(
        mut self,
        processor: impl SpanProcessor + 'static,
        wants: impl Fn(&SpanData) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.processors
            .push((Box::new(processor), Some(Box::new(wants))));
        self
    }

    /// Cuts every string value of the span that is too long; returns how many it cut.
    fn limit(&self, span: &mut SpanData) -> u64 {
        let events = span
            .events
            .events
            .iter_mut()
            .map(|event| &mut event.attributes);
        let links = span
            .links
            .links
            .iter_mut()
            .map(|Link { attributes, .. }| attributes);
        std::iter::once(&mut span.attributes)
            .chain(events)
            .chain(links)
            .flat_map(|attributes| attributes.iter_mut())
            .map(|KeyValue { value, .. }| self.limit_value(value))
            .sum()
    }

    fn limit_value(&self, value: &mut Value) -> u64 {
        match value {
            Value::String(text) => self.limit_string(text),
            Value::Array(Array::String(texts)) => {
                texts.iter_mut().map(|text| self.limit_string(text)).sum()
            }
            _ => 0,
        }
    }

    fn limit_string(&self, text: &mut StringValue) -> u64 {
        if text.as_str().len() <= self.max_value_bytes {
            return 0;
        }
        *text = truncate_at_char_boundary(text.as_str(), self.max_value_bytes)
            .to_owned()
            .into();
        1
    }
}

impl SpanProcessor for SpanFanOut {
    fn on_start(&self, span: &mut Span, context: &Context) {
        for (processor, _) in &self.processors {
            processor.on_start(span, context);
        }
    }

    fn on_end(&self, mut span: SpanData) {
        if let Some(report) = self.truncated.add(self.limit(&mut span)) {
            // A root event: it runs as a span ends, and must not become an event of its parent.
            tracing::info!(
                parent: None,
                values = report.since_last_report,
                total = report.total,
                limit = self.max_value_bytes,
                "attribute values over the length limit were truncated"
            );
        }
        let mut wanting = self
            .processors
            .iter()
            .filter(|(_, wants)| wants.as_ref().is_none_or(|wants| wants(&span)))
            .map(|(processor, _)| processor)
            .peekable();
        while let Some(processor) = wanting.next() {
            if wanting.peek().is_some() {
                processor.on_end(span.clone());
            } else {
                processor.on_end(span);
                break;
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.processors
            .iter()
            .map(|(processor, _)| processor.force_flush())
            .fold(Ok(()), Result::and)
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.processors
            .iter()
            .map(|(processor, _)| processor.shutdown_with_timeout(timeout))
            .fold(Ok(()), Result::and)
    }

    fn set_resource(&mut self, resource: &Resource) {
        for (processor, _) in &mut self.processors {
            processor.set_resource(resource);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::xray::test_spans::span;
    use opentelemetry::trace::{Event, SpanKind};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SimpleSpanProcessor};
    use std::time::SystemTime;

    fn strings(texts: &[&'static str]) -> Value {
        let texts: Vec<StringValue> = texts.iter().map(|text| StringValue::from(*text)).collect();
        Value::Array(texts.into())
    }

    #[test]
    fn truncation_never_splits_a_character() {
        assert_eq!(truncate_at_char_boundary("abcdef", 4), "abcd");
        assert_eq!(truncate_at_char_boundary("ééé", 5), "éé");
        assert_eq!(truncate_at_char_boundary("ééé", 1), "");
        assert_eq!(truncate_at_char_boundary("short", 4096), "short");
    }

    #[test]
    fn a_processor_for_some_spans_gets_those_and_the_others_get_every_span() {
        let (every, servers) = (
            InMemorySpanExporter::default(),
            InMemorySpanExporter::default(),
        );
        let limit = SpanFanOut::new(4096)
            .with_processor(SimpleSpanProcessor::new(every.clone()))
            .with_processor_for(SimpleSpanProcessor::new(servers.clone()), |span| {
                span.span_kind == SpanKind::Server
            });

        limit.on_end(span(1, 0, SpanKind::Server, Vec::new()));
        limit.on_end(span(2, 1, SpanKind::Internal, Vec::new()));

        let names = |exporter: &InMemorySpanExporter| -> Vec<String> {
            let spans = exporter.get_finished_spans().unwrap();
            spans.iter().map(|span| span.name.to_string()).collect()
        };
        assert_eq!(names(&every), ["step-1", "step-2"]);
        assert_eq!(names(&servers), ["step-1"]);
    }

    #[test]
    fn every_exporter_gets_the_span_with_its_long_values_cut() {
        let (first, second) = (
            InMemorySpanExporter::default(),
            InMemorySpanExporter::default(),
        );
        let limit = SpanFanOut::new(4)
            .with_processor(SimpleSpanProcessor::new(first.clone()))
            .with_processor(SimpleSpanProcessor::new(second.clone()));
        let mut data = span(
            1,
            0,
            SpanKind::Server,
            vec![
                KeyValue::new("url.query", "term=cruddur"),
                KeyValue::new("app.tags", strings(&["short", "ok"])),
                KeyValue::new("http.response.status_code", 200),
            ],
        );
        data.events.events.push(Event::new(
            "exception",
            SystemTime::now(),
            vec![KeyValue::new("exception.message", "ünïcode")],
            0,
        ));

        limit.on_end(data);

        for exporter in [first, second] {
            let spans = exporter.get_finished_spans().unwrap();
            let attributes = &spans[0].attributes;
            assert_eq!(attributes[0].value, Value::from("term"));
            assert_eq!(attributes[1].value, strings(&["shor", "ok"]));
            assert_eq!(attributes[2].value, Value::I64(200));
            assert_eq!(
                spans[0].events.events[0].attributes[0].value,
                Value::from("ün")
            );
        }
    }
}
