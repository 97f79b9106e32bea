//! Human-readable sizes: `4K`, `512M`, `1G` (powers of two) in, `32 KiB` out.

/// Parses a byte size: a whole number with an optional K, M, G or T suffix (powers of
/// two; `KiB`, `KB`, `k` are accepted too). Zero is refused.
pub fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(digits_end);
    if num.is_empty() {
        return Err(format!(
            "'{text}' is not a size (use a number with an optional K, M or G suffix)"
        ));
    }
    let shift = match suffix.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        "T" | "TB" | "TIB" => 40,
        other => return Err(format!("'{text}' has an unknown size suffix '{other}'")),
    };
    let value: usize = num
        .parse()
        .map_err(|_| format!("'{text}' is too large a size"))?;
    if value == 0 {
        return Err(format!("'{text}' is zero; a size must be at least 1 byte"));
    }
    value
        .checked_mul(1usize << shift)
        .ok_or_else(|| format!("'{text}' is too large a size"))
}

/// The highest CPU number a list may name: Linux builds for at most 8192 CPUs, so a
/// larger number names no CPU anywhere (and `0-100000000000` is not a list to expand).
pub const MAX_CPU: usize = 8191;

/// Parses a kernel CPU list ("0-3,8,10-11"), as sysfs writes it and `--cpus` takes it;
/// None for anything else (an empty list, a reversed range, a word, a CPU number past
/// [`MAX_CPU`]).
pub fn parse_cpu_list(s: &str) -> Option<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in s.trim().split(',').filter(|p| !p.is_empty()) {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (
                    a.trim().parse::<usize>().ok()?,
                    b.trim().parse::<usize>().ok()?,
                );
                if a > b || b > MAX_CPU {
                    return None;
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.trim().parse().ok().filter(|&c| c <= MAX_CPU)?),
        }
    }
    (!cpus.is_empty()).then_some(cpus)
}

/// CPU numbers joined by `sep`: `0,1` or `0, 1`.
pub fn cpu_list(cpus: &[usize], sep: &str) -> String {
    cpus.iter()
        .map(|c| c.to_string())
        .collect::<Vec<_>>()
        .join(sep)
}

/// Formats a byte count with the largest binary unit that keeps it readable:
/// `4 KiB`, `1.5 MiB`, `512 MiB`.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if (value - value.round()).abs() < 0.05 {
        format!("{} {}", value.round() as u64, UNITS[unit])
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The unit that suits a latency of `ns` nanoseconds: its size in ns and its name.
pub fn ns_unit(ns: f64) -> (f64, &'static str) {
    if ns < 1e3 {
        (1.0, "ns")
    } else if ns < 1e6 {
        (1e3, "µs")
    } else if ns < 1e9 {
        (1e6, "ms")
    } else {
        (1e9, "s")
    }
}

/// Formats a latency in nanoseconds with a unit that suits its size: `1.23 ns`,
/// `84.1 µs`, `52.0 ms`.
pub fn format_ns(ns: f64) -> String {
    if !ns.is_finite() {
        return "n/a".to_string();
    }
    let (size, unit) = ns_unit(ns);
    let value = ns / size;
    if value < 10.0 {
        format!("{value:.2} {unit}")
    } else if value < 100.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.0} {unit}")
    }
}

/// A round latency in its natural unit without padding digits: `1 ns`, `100 µs`,
/// `0.5 ms`, `200 ms` (for the lecture's claims).
pub fn format_ns_round(ns: f64) -> String {
    let (size, unit) = ns_unit(ns);
    format!("{} {unit}", (ns / size * 1000.0).round() / 1000.0)
}

/// A count in short words, three significant digits at most: 950, 12k, 200k, 1.5M.
pub fn format_count(n: f64) -> String {
    let (v, unit) = match n.abs() {
        a if a >= 1e6 => (n / 1e6, "M"),
        a if a >= 1e3 => (n / 1e3, "k"),
        _ => (n, ""),
    };
    let digits = if v.abs() >= 100.0 || v.fract().abs() < 1e-9 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    let text = format!("{v:.digits$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        text
    };
    format!("{text}{unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_short() {
        assert_eq!(format_count(950.0), "950");
        assert_eq!(format_count(10_000.0), "10k");
        assert_eq!(format_count(12_345.0), "12.3k");
        assert_eq!(format_count(1_000_000.0), "1M");
        assert_eq!(format_count(1_500_000.0), "1.5M");
        assert_eq!(format_count(186_000.0), "186k");
    }

    #[test]
    fn cpu_lists_are_parsed() {
        assert_eq!(
            parse_cpu_list("0-3,8,10-11\n"),
            Some(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(parse_cpu_list("5"), Some(vec![5]));
        assert_eq!(parse_cpu_list(""), None);
        assert_eq!(parse_cpu_list("x"), None);
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("0-100000000000"), None);
        assert_eq!(parse_cpu_list("8192"), None);
        assert_eq!(parse_cpu_list("8191").map(|c| c.len()), Some(1));
    }

    #[test]
    fn suffixes_are_powers_of_two() {
        assert_eq!(parse_size("4K"), Ok(4096));
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("2KiB"), Ok(2048));
        assert_eq!(parse_size("512M"), Ok(512 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("100"), Ok(100));
        assert_eq!(parse_size(" 8 MB "), Ok(8 << 20));
    }

    #[test]
    fn bad_sizes_are_refused_with_a_reason() {
        assert!(parse_size("").unwrap_err().contains("not a size"));
        assert!(parse_size("K").unwrap_err().contains("not a size"));
        assert!(parse_size("12X")
            .unwrap_err()
            .contains("unknown size suffix"));
        assert!(parse_size("1.5M")
            .unwrap_err()
            .contains("unknown size suffix"));
        assert!(parse_size("0K").unwrap_err().contains("zero"));
        assert!(parse_size("-4K").unwrap_err().contains("not a size"));
        assert!(parse_size("99999999999999999999").is_err());
        assert!(parse_size("99999999999T")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn sizes_format_readably() {
        assert_eq!(format_size(4096), "4 KiB");
        assert_eq!(format_size(1536 * 1024), "1.5 MiB");
        assert_eq!(format_size(512 << 20), "512 MiB");
        assert_eq!(format_size(100), "100 B");
    }

    #[test]
    fn latencies_format_with_units() {
        assert_eq!(format_ns(1.234), "1.23 ns");
        assert_eq!(format_ns(84_100.0), "84.1 µs");
        assert_eq!(format_ns(52e6), "52.0 ms");
        assert_eq!(format_ns(f64::NAN), "n/a");
        assert_eq!(format_ns_round(1.0), "1 ns");
        assert_eq!(format_ns_round(100_000.0), "100 µs");
        assert_eq!(format_ns_round(50e6), "50 ms");
    }
}
