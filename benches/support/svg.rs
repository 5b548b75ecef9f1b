//! Helpers for the benchmarks' hand-written SVG pictures. Included with `#[path]`.
#![allow(dead_code)]

/// 1, 2 or 5 times a power of ten, at least `value`.
pub(crate) fn nice_ceiling(value: f64) -> f64 {
    let magnitude = 10f64.powf(value.max(1.0).log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|v| *v >= value)
        .unwrap_or(10.0 * magnitude)
}

/// Text made safe for an SVG text node or attribute.
pub(crate) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
