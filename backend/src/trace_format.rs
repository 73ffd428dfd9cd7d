//! How trace ids and times are written: ids in lowercase hex (W3C, X-Ray, the trace view),
//! times as OTLP's nanoseconds since the Unix epoch. A leaf, shared by telemetry and the trace
//! view.

/// Lowercase hex, the way trace and span ids are written.
pub fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    push_hex(&mut text, bytes);
    text
}

/// Appends `bytes` in lowercase hex: every request writes its ids a few times, and a table
/// costs far less than the formatter.
pub fn push_hex(text: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
}

/// Nanoseconds since the Unix epoch, as OTLP writes a time; a time before it is 0.
pub fn unix_nanos(time: std::time::SystemTime) -> u64 {
    time.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
        })
}
