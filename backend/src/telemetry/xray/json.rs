//! Just enough JSON writing for X-Ray's documents, written as serde_json writes it (the same
//! escapes, integers and shortest round-trip floats, by the same crates). Hand-written because serde's derive
//! escapes every key of every member again on each document, and a sampled request's
//! documents are written on every export; the keys here are ours, ASCII, and need none.

/// An object being written: `{`, then members with commas between them, then `}` on `close`.
pub struct Object<'a> {
    out: &'a mut String,
    empty: bool,
}

impl<'a> Object<'a> {
    pub fn open(out: &'a mut String) -> Self {
        out.push('{');
        Object { out, empty: true }
    }

    /// Starts a member whose key needs no escaping (one of ours); its value is written next.
    pub fn key(&mut self, key: &'static str) -> &mut String {
        self.separate();
        self.out.push('"');
        self.out.push_str(key);
        self.out.push_str("\":");
        self.out
    }

    /// Starts a member whose key comes from elsewhere (an attribute's name).
    pub fn escaped_key(&mut self, key: &str) -> &mut String {
        self.separate();
        push_str(self.out, key);
        self.out.push(':');
        self.out
    }

    fn separate(&mut self) {
        if !self.empty {
            self.out.push(',');
        }
        self.empty = false;
    }

    pub fn str(&mut self, key: &'static str, value: &str) {
        push_str(self.key(key), value);
    }

    pub fn optional_str(&mut self, key: &'static str, value: Option<&str>) {
        if let Some(value) = value {
            self.str(key, value);
        }
    }

    pub fn f64(&mut self, key: &'static str, value: f64) {
        push_f64(self.key(key), value);
    }

    /// X-Ray's flags are left out unless set.
    pub fn true_only(&mut self, key: &'static str, flag: bool) {
        if flag {
            push_bool(self.key(key), true);
        }
    }

    pub fn close(self) {
        self.out.push('}');
    }
}

pub fn push_bool(out: &mut String, value: bool) {
    out.push_str(if value { "true" } else { "false" });
}

pub fn push_i64(out: &mut String, value: i64) {
    out.push_str(itoa::Buffer::new().format(value));
}

/// Not a finite number: null, as JSON has no other way to say it.
pub fn push_f64(out: &mut String, value: f64) {
    if value.is_finite() {
        out.push_str(zmij::Buffer::new().format_finite(value));
    } else {
        out.push_str("null");
    }
}

/// A JSON string: `"` and `\` escaped, control characters as `\n`-style escapes or `\u00XX`.
pub fn push_str(out: &mut String, text: &str) {
    out.push('"');
    let bytes = text.as_bytes();
    let mut unescaped_from = 0;
    while let Some(found) = first_to_escape(&bytes[unescaped_from..]) {
        let at = unescaped_from + found;
        // Every byte escaped is ASCII, so `at` is on a character boundary.
        out.push_str(&text[unescaped_from..at]);
        push_escape(out, bytes[at]);
        unescaped_from = at + 1;
    }
    out.push_str(&text[unescaped_from..]);
    out.push('"');
}

fn needs_escape(byte: u8) -> bool {
    byte < 0x20 || byte == b'"' || byte == b'\\'
}

/// Where the first byte to escape is, looking at eight bytes at a time: the statements in
/// database spans are long and rarely hold one.
fn first_to_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([1; 8]);
    const HIGH_BITS: u64 = ONES * 0x80;
    // Sets a byte's high bit where that byte of `word` is below `limit` (at most 0x80); bits
    // above a match may be set too, so a hit is confirmed byte by byte.
    let below = |word: u64, limit: u8| word.wrapping_sub(ONES * u64::from(limit)) & !word;
    let mut chunks = bytes.chunks_exact(8);
    for (index, chunk) in chunks.by_ref().enumerate() {
        let word = u64::from_ne_bytes(chunk.try_into().expect("eight bytes"));
        let candidates = below(word, 0x20)
            | below(word ^ (ONES * u64::from(b'"')), 1)
            | below(word ^ (ONES * u64::from(b'\\')), 1);
        if candidates & HIGH_BITS != 0
            && let Some(at) = chunk.iter().position(|byte| needs_escape(*byte))
        {
            return Some(index * 8 + at);
        }
    }
    let tail = bytes.len() - chunks.remainder().len();
    chunks
        .remainder()
        .iter()
        .position(|byte| needs_escape(*byte))
        .map(|at| tail + at)
}

fn push_escape(out: &mut String, byte: u8) {
    let escape = match byte {
        b'"' => "\\\"",
        b'\\' => "\\\\",
        b'\n' => "\\n",
        b'\r' => "\\r",
        b'\t' => "\\t",
        0x08 => "\\b",
        0x0c => "\\f",
        _ => {
            const DIGITS: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(DIGITS[usize::from(byte >> 4)]));
            out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
            return;
        }
    };
    out.push_str(escape);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(write: impl FnOnce(&mut String)) -> String {
        let mut out = String::new();
        write(&mut out);
        out
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        let every_byte: String = (0u8..0x80).map(char::from).collect();
        for text in [
            "plain",
            "",
            "quote \" backslash \\ slash /",
            "ünïcödé and emoji 🦀",
            every_byte.as_str(),
            "\u{7f}\u{2028}",
            "SELECT uuid, message FROM activities WHERE handle = $1 ORDER BY created_at",
        ] {
            assert_eq!(
                written(|out| push_str(out, text)),
                serde_json::to_string(text).unwrap(),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_byte_to_escape_is_found_at_every_position_of_a_word_and_its_tail() {
        for length in 0..20 {
            for at in 0..length {
                for special in [b'"', b'\\', b'\n', 0x00, 0x1f] {
                    let mut bytes = vec![b'a'; length];
                    bytes[at] = special;
                    // Neighbours that are close to, but not, bytes to escape.
                    if at + 1 < length {
                        bytes[at + 1] = 0x21;
                    }
                    let text = String::from_utf8(bytes).unwrap();
                    assert_eq!(
                        written(|out| push_str(out, &text)),
                        serde_json::to_string(&text).unwrap(),
                        "{text:?}"
                    );
                }
            }
        }
        let near_misses = "\u{20}!#[]^\u{7f}\u{80}é".repeat(5);
        assert_eq!(first_to_escape(near_misses.as_bytes()), None);
    }

    #[test]
    fn numbers_are_written_as_serde_json_writes_them() {
        for value in [
            0.0,
            -0.0,
            1.5,
            1_764_000_000.123_456_7,
            1e21,
            5e-324,
            f64::MAX,
        ] {
            assert_eq!(
                written(|out| push_f64(out, value)),
                serde_json::to_string(&value).unwrap()
            );
        }
        for value in [f64::NAN, f64::INFINITY] {
            assert_eq!(written(|out| push_f64(out, value)), "null");
        }
        for value in [0, -1, i64::MIN, i64::MAX] {
            assert_eq!(
                written(|out| push_i64(out, value)),
                serde_json::to_string(&value).unwrap()
            );
        }
    }

    #[test]
    fn an_object_parses_back_to_what_was_written() {
        let json = written(|out| {
            let mut object = Object::open(out);
            object.str("name", "a \"crud\"");
            object.optional_str("absent", None);
            object.true_only("error", false);
            object.true_only("fault", true);
            push_i64(object.escaped_key("http.status\n"), 503);
            let mut inner = Object::open(object.key("inner"));
            inner.f64("at", 1.25);
            inner.close();
            Object::open(object.key("empty")).close();
            object.close();
        });
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).unwrap(),
            serde_json::json!({
                "name": "a \"crud\"",
                "fault": true,
                "http.status\n": 503,
                "inner": {"at": 1.25},
                "empty": {},
            })
        );
    }
}
