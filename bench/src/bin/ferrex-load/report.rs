//! Latency output a person can look at: the percentile distribution in `HdrHistogram`'s text
//! format (`.hgrm`, readable by `HdrHistogram`'s plotter) and an SVG plot of latency by percentile
//! on the usual logarithmic percentile axis (90%, 99%, 99.9%, ...), latency on a log axis too.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use hdrhistogram::Histogram;

/// Values are recorded in ns; files show µs.
const SCALE: f64 = 1_000.0;

/// The percentile distribution in `HdrHistogram`'s `.hgrm` text format (values in µs).
pub fn hgrm(histogram: &Histogram<u64>) -> String {
    let mut out = String::from("       Value     Percentile TotalCount 1/(1-Percentile)\n\n");
    let mut total = 0u64;
    for v in histogram.iter_quantiles(5) {
        total += v.count_since_last_iteration();
        let q = v.quantile_iterated_to();
        let inverse = if q < 1.0 { format!("{:14.2}", 1.0 / (1.0 - q)) } else { String::new() };
        let _ =
            writeln!(out, "{:12.3} {:14.12} {:10} {inverse}", v.value_iterated_to() as f64 / SCALE, q, total);
    }
    let _ = writeln!(
        out,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]\n#[Max     = {:12.3}, Total count    = {:12}]\n#[Buckets = {:12}, SubBuckets     = {:12}]",
        histogram.mean() / SCALE,
        histogram.stdev() / SCALE,
        histogram.max() as f64 / SCALE,
        histogram.len(),
        histogram.buckets(),
        histogram.distinct_values()
    );
    out
}

/// An SVG plot of latency (µs, logarithmic) by percentile (logarithmic in 1/(1-p), up to
/// 99.999%), the usual way to show a latency distribution's body and tail on one page.
pub fn svg(histogram: &Histogram<u64>, title: &str) -> String {
    let (width, height, left, bottom, top, right) = (900.0, 520.0, 80.0, 60.0, 50.0, 30.0);
    let x_max = 5.0; // log10(1/(1-0.99999))
    let points: Vec<(f64, f64)> = histogram
        .iter_quantiles(5)
        .map(|v| {
            let q = v.quantile_iterated_to().min(0.999_99);
            ((1.0 / (1.0 - q)).log10(), (v.value_iterated_to() as f64 / SCALE).max(1.0))
        })
        .collect();
    let decades = points.iter().map(|p| p.1).fold(1.0, f64::max).log10().ceil().max(1.0);
    let x = |v: f64| left + (width - left - right) * v / x_max;
    let y = |us: f64| height - bottom - (height - bottom - top) * us.max(1.0).log10() / decades;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"13\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{}\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">{}</text>\n",
        width / 2.0,
        escape(title)
    );
    for (label, at) in
        [("0%", 0.0), ("90%", 1.0), ("99%", 2.0), ("99.9%", 3.0), ("99.99%", 4.0), ("99.999%", 5.0)]
    {
        let _ = writeln!(
            out,
            "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{0:.1}\" y2=\"{2:.1}\" stroke=\"#ddd\"/><text x=\"{0:.1}\" y=\"{3:.1}\" text-anchor=\"middle\">{label}</text>",
            x(at),
            y(1.0),
            top,
            height - bottom + 20.0
        );
    }
    let mut us = 1.0;
    while us <= 10f64.powf(decades) {
        let label = if us >= 1000.0 { format!("{} ms", us / 1000.0) } else { format!("{us} µs") };
        let _ = writeln!(
            out,
            "<line x1=\"{0:.1}\" y1=\"{1:.1}\" x2=\"{2:.1}\" y2=\"{1:.1}\" stroke=\"#ddd\"/><text x=\"{3:.1}\" y=\"{4:.1}\" text-anchor=\"end\">{label}</text>",
            x(0.0),
            y(us),
            x(x_max),
            left - 8.0,
            y(us) + 4.0
        );
        us *= 10.0;
    }
    let path: Vec<String> = points.iter().map(|&(px, py)| format!("{:.1},{:.1}", x(px), y(py))).collect();
    let _ = writeln!(
        out,
        "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{}\"/>",
        path.join(" ")
    );
    let _ = writeln!(
        out,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">percentile</text>\n\
         <text x=\"18\" y=\"{:.1}\" text-anchor=\"middle\" transform=\"rotate(-90 18 {:.1})\">round trip</text>\n</svg>",
        (left + width - right) / 2.0,
        height - 15.0,
        height / 2.0,
        height / 2.0
    );
    out
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// Writes `NAME.hgrm` and `NAME.svg` into `dir`; returns their paths.
pub fn write(dir: &Path, name: &str, title: &str, histogram: &Histogram<u64>) -> Result<(String, String)> {
    std::fs::create_dir_all(dir)?;
    let hgrm_path = dir.join(format!("{name}.hgrm"));
    let svg_path = dir.join(format!("{name}.svg"));
    std::fs::write(&hgrm_path, hgrm(histogram))?;
    std::fs::write(&svg_path, svg(histogram, title))?;
    Ok((hgrm_path.display().to_string(), svg_path.display().to_string()))
}
