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
use super::segment::{DAEMON_HEADER, Translator};
use crate::configuration::ContextMissing;

#[derive(Debug)]
pub struct XrayExporter {
    translator: Translator,
    decisions: Arc<TraceDecisions>,
    daemon: String,
    context_missing: ContextMissing,
    /// Resolved lazily and again after a failure, so a daemon that starts later, or moves,
    /// is found.
    socket: Mutex<Option<(UdpSocket, SocketAddr)>>,
}

impl XrayExporter {
    pub(super) fn new(
        translator: Translator,
        decisions: Arc<TraceDecisions>,
        daemon: String,
        context_missing: ContextMissing,
    ) -> Self {
        XrayExporter {
            translator,
            decisions,
            daemon,
            context_missing,
            socket: Mutex::new(None),
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
        let mut socket = self
            .socket
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
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

impl SpanExporter for XrayExporter {
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
        if orphans > 0 && self.context_missing == ContextMissing::LogError {
            tracing::error!(
                spans = orphans,
                "spans outside any request have no X-Ray segment: not sent to X-Ray"
            );
        }
        let documents = self.translator.documents(&sampled);
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
