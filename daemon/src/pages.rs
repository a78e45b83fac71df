//! What both daemons' pages for people share: times as dates, durations and sizes in the units people
//! read, one style sheet, tables that sort when a column's header is clicked (a small script served
//! inline, nothing fetched: the cluster may have no internet), and server-rendered SVG charts — a
//! line chart of figures over time and stacked bars of counts per interval.

use maud::{html, Markup, PreEscaped};

/// The pages' style sheet.
pub const STYLE: &str = "body{font-family:sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}\
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:.9em;vertical-align:top}\
th{background:#eef}th.sortable{cursor:pointer}th.sortable:after{content:' \\2195';color:#99a}\
nav a{margin-right:1em}.FAILED,.KILLED,.LOST,.kill{color:#b00}.FINISHED,.SUCCEEDED,.RUNNING{color:#070}\
pre{white-space:pre-wrap;word-break:break-word;max-width:60em;margin:0}td.time{white-space:nowrap}\
details{min-width:22em;max-width:60em}summary{cursor:pointer}td.num{text-align:right}.muted{color:#777}\
figure{display:inline-block;margin:0 2em 1em 0}figcaption{font-size:.9em;color:#444}";

/// Sorts a table by the clicked column: numbers by their `data-sort` value (or text), text as text;
/// a second click reverses.
pub const SORT_SCRIPT: &str = r#"
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, column) {
    th.classList.add('sortable');
    th.addEventListener('click', function () {
      var ascending = th.dataset.asc !== '1';
      th.dataset.asc = ascending ? '1' : '0';
      var rows = Array.from(table.querySelectorAll('tr')).filter(function (r) { return r.querySelector('td'); });
      var key = function (row) {
        var cell = row.children[column];
        if (!cell) return '';
        var text = cell.dataset.sort !== undefined ? cell.dataset.sort : cell.textContent.trim();
        return /^-?\d+(\.\d+)?$/.test(text) ? parseFloat(text) : text;
      };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var order = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return ascending ? order : -order;
      });
      rows.forEach(function (row) { row.parentNode.appendChild(row); });
    });
  });
});
"#;

/// The page frame: title, style, navigation links, body, and the sorting script.
pub fn page(title: &str, daemon: &str, nav: &[(&str, &str)], body: Markup) -> Markup {
    html! {
        (maud::DOCTYPE)
        html {
            head { meta charset="utf-8"; title { (title) " - Weft " (daemon) } style { (PreEscaped(STYLE)) } }
            body {
                nav { @for (href, text) in nav { a href=(href) { (text) } } }
                h1 { (title) }
                (body)
                script { (PreEscaped(SORT_SCRIPT)) }
            }
        }
    }
}

/// A diagnostics text folded to its first line (up to 160 characters); a click shows all of it.
pub fn diagnostics(text: &str) -> Markup {
    let text = text.trim();
    let first = text.lines().next().unwrap_or_default();
    let summary: String = first.chars().take(160).collect();
    let whole = summary.len() == text.len();
    html! {
        @if text.is_empty() {
        } @else if whole {
            (text)
        } @else {
            details { summary { (summary) "…" } pre { (text) } }
        }
    }
}

/// `2026-12-04 10:06:23 UTC`; "N/A" for 0 (not yet, or never).
pub fn human_time(epoch_ms: u64) -> String {
    if epoch_ms == 0 {
        return "N/A".to_owned();
    }
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(epoch_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| "N/A".to_owned())
}

/// `850 ms`, `12.4 s`, `3 min 05 s`, `2 h 07 min`, `3 d 04 h`.
pub fn human_duration(ms: u64) -> String {
    let s = ms / 1000;
    match ms {
        0..1_000 => format!("{ms} ms"),
        1_000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{} min {:02} s", s / 60, s % 60),
        3_600_000..86_400_000 => format!("{} h {:02} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {:02} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Megabytes as people read them: `512 MB`, `1.5 GB`, `2 TB`.
pub fn human_mb(mb: i64) -> String {
    let abs = mb.unsigned_abs() as f64;
    let sign = if mb < 0 { "-" } else { "" };
    if abs >= 1024.0 * 1024.0 {
        format!("{sign}{} TB", trim(abs / (1024.0 * 1024.0)))
    } else if abs >= 1024.0 {
        format!("{sign}{} GB", trim(abs / 1024.0))
    } else {
        format!("{mb} MB")
    }
}

/// Bytes as people read them: `900 B`, `12.5 KB`, `1.2 GB`.
pub fn human_bytes(bytes: i64) -> String {
    if bytes.unsigned_abs() < 1024 {
        return format!("{bytes} B");
    }
    let units = ["KB", "MB", "GB", "TB"];
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit < units.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{} {}", trim(value), units[unit])
}

/// One decimal, without a trailing `.0`.
fn trim(value: f64) -> String {
    let text = format!("{value:.1}");
    text.strip_suffix(".0").map(str::to_owned).unwrap_or(text)
}

const CHART_W: f64 = 480.0;
const CHART_H: f64 = 160.0;
const PAD_L: f64 = 56.0;
const PAD_B: f64 = 22.0;

/// A line of a chart: its name, its colour, its points (epoch ms, value).
pub type Series<'a> = (&'a str, &'a str, Vec<(u64, f64)>);

/// A line per series over `[from, to]` (epoch ms), y from 0 to `y_max` labelled with `y_label`,
/// as an inline SVG.
pub fn line_chart(
    caption: &str,
    series: &[Series<'_>],
    (from, to): (u64, u64),
    y_max: f64,
    y_label: impl Fn(f64) -> String,
) -> Markup {
    let span = to.saturating_sub(from).max(1) as f64;
    let y_max = if y_max > 0.0 { y_max } else { 1.0 };
    let x = |t: u64| PAD_L + (t.saturating_sub(from) as f64 / span) * (CHART_W - PAD_L - 8.0);
    let y = |v: f64| 8.0 + (1.0 - (v / y_max).clamp(0.0, 1.0)) * (CHART_H - PAD_B - 8.0);
    html! {
        figure {
            svg xmlns="http://www.w3.org/2000/svg" width=(CHART_W) height=(CHART_H) role="img" aria-label=(caption) {
                line x1=(PAD_L) y1=(y(0.0)) x2=(CHART_W - 8.0) y2=(y(0.0)) stroke="#999" {}
                line x1=(PAD_L) y1=(y(0.0)) x2=(PAD_L) y2="8" stroke="#999" {}
                text x=(PAD_L - 4.0) y=(y(y_max) + 4.0) text-anchor="end" font-size="10" { (y_label(y_max)) }
                text x=(PAD_L - 4.0) y=(y(0.0)) text-anchor="end" font-size="10" { (y_label(0.0)) }
                text x=(PAD_L) y=(CHART_H - 6.0) font-size="10" { (clock(from)) }
                text x=(CHART_W - 8.0) y=(CHART_H - 6.0) text-anchor="end" font-size="10" { (clock(to)) }
                @for (name, color, points) in series {
                    @let path = points.iter().map(|(t, v)| format!("{:.1},{:.1}", x(*t), y(*v))).collect::<Vec<_>>().join(" ");
                    polyline points=(path) fill="none" stroke=(color) stroke-width="2" { title { (name) } }
                }
            }
            figcaption {
                (caption) ": "
                @for (name, color, _) in series { span style={ "color:" (color) } { "■ " } (name) " " }
            }
        }
    }
}

/// Stacked bars: per interval starting at each `bucket` time, a bar per series stacked, as an
/// inline SVG; `buckets` are (start, counts per series in `series` order).
pub fn stacked_bars(caption: &str, series: &[(&str, &str)], buckets: &[(u64, Vec<u64>)], bucket_ms: u64) -> Markup {
    let max = buckets.iter().map(|(_, counts)| counts.iter().sum::<u64>()).max().unwrap_or(0).max(1) as f64;
    let n = buckets.len().max(1) as f64;
    let width = (CHART_W - PAD_L - 8.0) / n;
    let height = |count: u64| count as f64 / max * (CHART_H - PAD_B - 16.0);
    let base = CHART_H - PAD_B;
    html! {
        figure {
            svg xmlns="http://www.w3.org/2000/svg" width=(CHART_W) height=(CHART_H) role="img" aria-label=(caption) {
                line x1=(PAD_L) y1=(base) x2=(CHART_W - 8.0) y2=(base) stroke="#999" {}
                text x=(PAD_L - 4.0) y="14" text-anchor="end" font-size="10" { (max as u64) }
                text x=(PAD_L - 4.0) y=(base) text-anchor="end" font-size="10" { "0" }
                @if let (Some(first), Some(last)) = (buckets.first(), buckets.last()) {
                    text x=(PAD_L) y=(CHART_H - 6.0) font-size="10" { (clock(first.0)) }
                    text x=(CHART_W - 8.0) y=(CHART_H - 6.0) text-anchor="end" font-size="10" { (clock(last.0 + bucket_ms)) }
                }
                @for (i, (start, counts)) in buckets.iter().enumerate() {
                    @let mut top = base;
                    @for (j, count) in counts.iter().enumerate() {
                        @if *count > 0 {
                            @let h = height(*count);
                            @let (name, color) = series[j];
                            rect x=(format!("{:.1}", PAD_L + i as f64 * width + 1.0)) y=(format!("{:.1}", { top -= h; top })) width=(format!("{:.1}", (width - 2.0).max(1.0))) height=(format!("{h:.1}")) fill=(color) {
                                title { (name) ": " (count) " from " (clock(*start)) }
                            }
                        }
                    }
                }
            }
            figcaption {
                (caption) ": "
                @for (name, color) in series { span style={ "color:" (color) } { "■ " } (name) " " }
            }
        }
    }
}

/// `10:06` UTC, for chart axes.
fn clock(epoch_ms: u64) -> String {
    let format = time::macros::format_description!("[hour]:[minute]");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(epoch_ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_durations_and_sizes_read_as_people_write_them() {
        assert_eq!(human_time(1_796_378_783_000), "2026-12-04 10:06:23 UTC");
        assert_eq!(human_time(0), "N/A");
        assert_eq!(human_duration(850), "850 ms");
        assert_eq!(human_duration(12_400), "12.4 s");
        assert_eq!(human_duration(185_000), "3 min 05 s");
        assert_eq!(human_duration(7_620_000), "2 h 07 min");
        assert_eq!(human_duration(273_600_000), "3 d 04 h");
        assert_eq!(human_mb(512), "512 MB");
        assert_eq!(human_mb(1536), "1.5 GB");
        assert_eq!(human_mb(8192), "8 GB");
        assert_eq!(human_bytes(900), "900 B");
        assert_eq!(human_bytes(1_288_490_188), "1.2 GB");
    }

    #[test]
    fn long_diagnostics_fold_to_their_first_line() {
        assert_eq!(diagnostics("").into_string(), "");
        assert_eq!(diagnostics("exit 1").into_string(), "exit 1");
        let folded = diagnostics("Container killed\nDump of the process-tree").into_string();
        assert!(folded.starts_with("<details><summary>Container killed…</summary><pre>"), "{folded}");
    }

    #[test]
    fn charts_are_inline_svg_with_their_legend() {
        let chart =
            line_chart("Memory used", &[("used", "#07c", vec![(0, 0.0), (60_000, 512.0)])], (0, 60_000), 1024.0, |v| {
                human_mb(v as i64)
            })
            .into_string();
        assert!(chart.contains("<svg") && chart.contains("<polyline") && chart.contains("1 GB"), "{chart}");
        let bars = stacked_bars(
            "Kills",
            &[("physical_memory", "#b00"), ("preempted", "#07c")],
            &[(0, vec![2, 1]), (300_000, vec![0, 0])],
            300_000,
        )
        .into_string();
        assert_eq!(bars.matches("<rect").count(), 2, "{bars}");
        assert!(bars.contains("physical_memory: 2 from 00:00"), "{bars}");
    }
}
