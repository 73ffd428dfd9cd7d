//! How the trace view writes durations and shares: with integers only, so the bundle needs no
//! float formatting.

/// `850 µs`, `12.3 ms`, `1.24 s`.
pub fn micros_as_text(micros: u64) -> String {
    match micros {
        0..1_000 => format!("{micros} µs"),
        1_000..1_000_000 => format!("{} ms", decimal((micros + 50) / 100, 10)),
        _ => format!("{} s", decimal((micros + 5_000) / 10_000, 100)),
    }
}

/// `parts` in units of 1/`per`, written as a decimal: `decimal(1234, 100)` is `12.34`.
pub fn decimal(parts: u64, per: u64) -> String {
    let width = per.ilog10() as usize;
    format!("{}.{:0width$}", parts / per, parts % per)
}

// They need a browser: `cargo test --target wasm32-unknown-unknown` runs them in Chromium.
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn durations_read_in_the_unit_that_suits_them() {
        assert_eq!(micros_as_text(850), "850 µs");
        assert_eq!(micros_as_text(12_340), "12.3 ms");
        assert_eq!(micros_as_text(1_240_000), "1.24 s");
        assert_eq!(micros_as_text(2_005_000), "2.01 s");
        assert_eq!(micros_as_text(1_050), "1.1 ms");
    }
}
