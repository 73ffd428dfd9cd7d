//! Sends the segment documents of X-Ray-sampled traces to the X-Ray daemon over UDP.
//!
//! Written here rather than taken from opentelemetry-aws 0.21's daemon client, which reads
//! only `ip:port` from `AWS_XRAY_DAEMON_ADDRESS` (no host names such as `xray-daemon:2000`
//! in compose, no `tcp:… udp:…` form) and gives up on the rest of a batch at its first
//! failed datagram.

use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::sync::{Arc, Mutex};

use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{SpanData, SpanExporter};

use super::TraceDecisions;
use super::segment::{DAEMON_HEADER, Translated, Translator};
use super::settings::ContextMissing;
use crate::losses::LossCounter;
use crate::sync;

/// X-Ray through the daemon: the spans of sampled traces as segment documents, over UDP.
#[derive(Debug)]
pub struct SegmentExporter {
    translator: Translator,
    decisions: Arc<TraceDecisions>,
    daemon: String,
    context_missing: ContextMissing,
    /// Resolved lazily and again after a failure, so a daemon that starts later, or moves,
    /// is found.
    socket: Mutex<Option<(UdpSocket, SocketAddr)>>,
    /// Documents sent without some details, and documents not sent, to fit a datagram.
    shed: LossCounter,
    too_large: LossCounter,
    /// Spans made outside any request, which have no segment to belong to.
    orphans: LossCounter,
}

impl SegmentExporter {
    pub(super) fn new(
        translator: Translator,
        decisions: Arc<TraceDecisions>,
        daemon: String,
        context_missing: ContextMissing,
    ) -> Self {
        SegmentExporter {
            translator,
            decisions,
            daemon,
            context_missing,
            socket: Mutex::new(None),
            shed: LossCounter::default(),
            too_large: LossCounter::default(),
            orphans: LossCounter::default(),
        }
    }

    fn connect(&self) -> std::io::Result<(UdpSocket, SocketAddr)> {
        let address = self
            .daemon
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| std::io::Error::other("the daemon address resolves to nothing"))?;
        let local: SocketAddr = if address.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        Ok((UdpSocket::bind(local)?, address))
    }

    fn send(&self, document: &str) -> std::io::Result<()> {
        let mut socket = sync::lock(&self.socket);
        if socket.is_none() {
            *socket = Some(self.connect()?);
        }
        let (udp, address) = socket.as_ref().expect("connected above");
        let datagram = [DAEMON_HEADER.as_bytes(), document.as_bytes()].concat();
        let sent = udp.send_to(&datagram, address);
        if sent.is_err() {
            *socket = None;
        }
        sent.map(|_| ())
    }
}

impl SegmentExporter {
    fn report_oversized(&self, translated: &Translated) {
        if let Some(report) = self.shed.add(translated.shed.len() as u64)
            && let Some((name, parts)) = translated.shed.first()
        {
            tracing::warn!(
                documents = report.since_last_report,
                total = report.total,
                name,
                shed = %parts.join(","),
                "X-Ray documents over the 64 KB datagram limit even alone were sent without some details"
            );
        }
        if let Some(report) = self.too_large.add(translated.too_large.len() as u64)
            && let Some(name) = translated.too_large.first()
        {
            tracing::error!(
                documents = report.since_last_report,
                total = report.total,
                name,
                "X-Ray documents over the 64 KB datagram limit even without their details were not sent"
            );
        }
    }
}

impl SpanExporter for SegmentExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let mut orphans = 0;
        let sampled: Vec<&SpanData> = batch
            .iter()
            .filter(
                |span| match self.decisions.get(span.span_context.trace_id()) {
                    Some(sampled) => sampled,
                    None => {
                        // A request's spans always have a decision; only spans made outside any
                        // request lack one (the SDKs' "context missing").
                        orphans += usize::from(span.span_kind != SpanKind::Server);
                        false
                    }
                },
            )
            .collect();
        if let Some(report) = self.orphans.add(orphans as u64)
            && self.context_missing == ContextMissing::LogError
        {
            tracing::error!(
                spans = report.since_last_report,
                total = report.total,
                "spans outside any request have no X-Ray segment: not sent to X-Ray"
            );
        }
        let translated = self.translator.documents(&sampled);
        self.report_oversized(&translated);
        let documents = translated.documents;
        let mut failures = 0;
        let mut last_error = None;
        for document in &documents {
            if let Err(error) = self.send(document) {
                failures += 1;
                last_error = Some(error);
            }
        }
        match last_error {
            None => Ok(()),
            Some(error) => Err(OTelSdkError::InternalFailure(format!(
                "{failures} of {} X-Ray documents not sent to {}: {error}",
                documents.len(),
                self.daemon
            ))),
        }
    }

    fn set_resource(&mut self, resource: &Resource) {
        if let Some(version) = resource.get(&"telemetry.sdk.version".into()) {
            self.translator.set_sdk_version(version.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::telemetry::xray::SegmentNaming;
    use crate::telemetry::xray::segment::MAX_DATAGRAM_BYTES;
    use crate::telemetry::xray::test_spans::{TRACE, span};
    use opentelemetry::KeyValue;
    use opentelemetry::trace::TraceId;
    use shared::BACKEND_SERVICE_NAME as DEFAULT_SERVICE_NAME;
    use std::collections::HashSet;

    #[tokio::test]
    async fn a_segment_over_the_datagram_limit_arrives_as_several_valid_documents() {
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        daemon
            .set_read_timeout(Some(std::time::Duration::from_millis(500)))
            .unwrap();
        let daemon_address = daemon.local_addr().unwrap().to_string();
        // Read while the exporter sends, as the daemon does, so the socket buffer never fills.
        let receiving = std::thread::spawn(move || {
            let mut buffer = vec![0; 70_000];
            let mut datagrams = Vec::new();
            while let Ok(length) = daemon.recv(&mut buffer) {
                datagrams.push(buffer[..length].to_vec());
            }
            datagrams
        });
        let decisions = Arc::new(TraceDecisions::new(16));
        decisions.get_or_decide(TraceId::from_hex(TRACE).unwrap(), || true);
        let exporter = SegmentExporter::new(
            Translator::new(SegmentNaming::new(DEFAULT_SERVICE_NAME.into(), None)),
            decisions,
            daemon_address,
            ContextMissing::LogError,
        );
        let server = span(
            1,
            0,
            SpanKind::Server,
            vec![KeyValue::new("http.request.method", "GET")],
        );
        // Ten steps of 10 KB each, the last with a step of its own: about twice what one
        // datagram holds.
        let mut batch: Vec<SpanData> = (2..=12)
            .map(|id| {
                let parent = if id == 12 { 11 } else { 1 };
                span(
                    id,
                    parent,
                    SpanKind::Internal,
                    vec![KeyValue::new("app.detail", "x".repeat(10_000))],
                )
            })
            .collect();
        batch.push(server);
        exporter.export(batch).await.unwrap();

        let datagrams = receiving.join().unwrap();
        assert!(
            datagrams.len() > 1,
            "split into {} documents",
            datagrams.len()
        );
        let mut seen = HashSet::new();
        for datagram in &datagrams {
            assert!(
                datagram.len() <= MAX_DATAGRAM_BYTES,
                "{} bytes",
                datagram.len()
            );
            let text = std::str::from_utf8(datagram).unwrap();
            let (header, body) = text.split_once('\n').unwrap();
            assert_eq!(header, r#"{"format":"json","version":1}"#);
            let document: serde_json::Value = serde_json::from_str(body).unwrap();
            if document["type"] == "subsegment" {
                assert_eq!(document["trace_id"], "1-6921a1b2-c3d4e5f60718293a4b5c6d7e");
                assert!(document["parent_id"].is_string());
            }
            let mut stack = vec![document];
            while let Some(document) = stack.pop() {
                assert!(
                    seen.insert(document["id"].as_str().unwrap().to_owned()),
                    "sent once"
                );
                if let Some(subsegments) = document["subsegments"].as_array() {
                    stack.extend(subsegments.iter().cloned());
                }
            }
        }
        assert_eq!(seen.len(), 12, "every span arrived");
    }
}
