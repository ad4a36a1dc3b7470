//! The scale suite (issue 7): the same operations at 10 k, 100 k and 1 M events, each
//! through the real binary (wall time and peak RSS from GNU time), beside the SQL peer
//! (the same events in SQLite, P1 and P3.2 by SQL) and the raw speed of BLAKE3 over the
//! same bytes. Writes the table into BENCHMARKS.md (between the scale markers) and a
//! log-log plot to benches/scale.svg.
//!
//! Run: `cargo bench --bench scale` (`CASELEDGER_SCALE_EVENTS=10000,100000` for other
//! sizes; `CASELEDGER_SCALE_KEEP=DIR` keeps the ledgers).

#[path = "peer/sqlite.rs"]
mod peer;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use caseledger::gen::{history, Params};

#[path = "common/time.rs"]
mod time;
use time::Measured;

fn measure(args: &[&str]) -> Measured {
    time::measure(args, None)
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed().as_secs_f64())
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let m = e.metadata().unwrap();
        total += if m.is_dir() { dir_bytes(&e.path()) } else { m.len() };
    }
    total
}

/// One operation at one size.
struct Point {
    op: &'static str,
    seconds: f64,
    peak_mib: f64,
}

struct Size {
    events: u64,
    points: Vec<Point>,
    disk_per_event: f64,
    verify_per_s: f64,
    blake3_1core_per_s: f64,
    blake3_all_per_s: f64,
    sql_equal: [i64; 4],
}

fn figures_of(json: &[u8]) -> [i64; 4] {
    let v: serde_json::Value = serde_json::from_slice(json).unwrap();
    let f = &v["indicators"];
    let n = |i: usize, k: &str| f[i][k].as_i64().unwrap();
    [n(0, "numerator"), n(0, "denominator"), n(1, "numerator"), n(1, "denominator")]
}

fn run_size(target: u64, work: &Path) -> Size {
    // 116,000 families over 2017–2024 give about 1,000,000 events.
    let families = ((target as f64) * 0.116).round().max(10.0) as usize;
    let input = work.join("history.jsonl");
    {
        let events = history(&Params { families, from_year: 2017, to_year: 2024, seed: 2026, corrections: true });
        let mut w = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
        for e in &events {
            writeln!(w, "{}", e.to_json_line()).unwrap();
        }
    }
    let l = work.join("ledger");
    let d = l.to_str().unwrap();
    let mut points = Vec::new();
    let mut point =
        |op: &'static str, m: &Measured| points.push(Point { op, seconds: m.seconds, peak_mib: m.peak_mib });
    measure(&["--ledger", d, "init"]);
    point("append (bulk, rules on)", &measure(&["--ledger", d, "append", input.to_str().unwrap()]));
    let m = measure(&["--ledger", d, "verify", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&m.stdout).unwrap();
    let events = v["seq"].as_u64().unwrap();
    let verify_per_s = events as f64 / m.seconds;
    point("verify", &m);

    // Raw BLAKE3 over the same canonical bytes: one core, and every core as verify uses.
    let (blake3_1core_per_s, blake3_all_per_s) = {
        let ledger = caseledger::ledger::Ledger::open(&l).unwrap();
        let mut bytes: Vec<Vec<u8>> = Vec::with_capacity(events as usize);
        ledger
            .for_each(1, |_, r| {
                bytes.push(r.canonical);
                Ok(())
            })
            .unwrap();
        let (_, one) = timed(|| bytes.iter().map(|b| blake3::hash(b).as_bytes()[0] as u64).sum::<u64>());
        let (_, all) = timed(|| caseledger::parallel::ordered_map(&bytes, |b| blake3::hash(b)).len());
        (events as f64 / one, events as f64 / all)
    };

    let export = work.join("export.jsonl");
    point("export", &measure(&["--ledger", d, "export", export.to_str().unwrap()]));
    let l2 = work.join("imported");
    let d2 = l2.to_str().unwrap();
    measure(&["--ledger", d2, "init"]);
    point("import (verifies, rules on)", &measure(&["--ledger", d2, "import", export.to_str().unwrap()]));
    std::fs::remove_dir_all(&l2).unwrap();

    let some_case = {
        let text = std::fs::read_to_string(&input).unwrap();
        let line = text.lines().find(|l| l.contains("\"case_closed\"")).unwrap().to_string();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        v["data"]["case"].as_str().unwrap().to_string()
    };
    point("case show, first (builds the case index)", &measure(&["--ledger", d, "case", "show", &some_case, "--json"]));
    point("case show, repeated", &measure(&["--ledger", d, "case", "show", &some_case, "--json"]));
    point("cases (all, --json)", &measure(&["--ledger", d, "cases", "--json", "--on", "2024-12-31"]));
    point("indicators --year 2022, cold", &measure(&["--ledger", d, "indicators", "--year", "2022", "--json"]));
    point("indicators --year 2022, repeated", &measure(&["--ledger", d, "indicators", "--year", "2022", "--json"]));
    point("explain P1 --year 2022", &measure(&["--ledger", d, "explain", "P1", "--year", "2022", "--json"]));
    let disk_per_event = dir_bytes(&l) as f64 / events as f64;

    // The peer: the same export loaded into SQLite; P1 and P3.2 for 2022 by SQL.
    let db = work.join("peer.sqlite");
    let (loaded, load_s) = timed(|| peer::load(&db, &export).unwrap());
    assert_eq!(loaded, events);
    points.push(Point { op: "SQLite: load the export", seconds: load_s, peak_mib: f64::NAN });
    let (sql, sql_s) = timed(|| peer::p1_p32(&db, "2022-01-01", "2022-12-31", None, None).unwrap());
    points.push(Point { op: "SQLite: P1 + P3.2 for 2022 by SQL", seconds: sql_s, peak_mib: f64::NAN });
    let defs = work.join("p1_p32.json");
    std::fs::write(&defs, peer::P1_P32_DEFS).unwrap();
    let m = measure(&["--ledger", d, "indicators", "--defs", defs.to_str().unwrap(), "--year", "2022", "--json"]);
    let ours = figures_of(&m.stdout);
    assert_eq!(sql, ours, "SQLite and caseledger disagree on P1 / P3.2 at {events} events");
    points.push(Point { op: "caseledger: P1 + P3.2 for 2022", seconds: m.seconds, peak_mib: m.peak_mib });
    let m = measure(&["--ledger", d, "indicators", "--defs", defs.to_str().unwrap(), "--year", "2022", "--json"]);
    assert_eq!(figures_of(&m.stdout), ours);
    points.push(Point {
        op: "caseledger: P1 + P3.2 for 2022, repeated (memo)",
        seconds: m.seconds,
        peak_mib: m.peak_mib,
    });
    std::fs::remove_file(&db).unwrap();
    Size { events, points, disk_per_event, verify_per_s, blake3_1core_per_s, blake3_all_per_s, sql_equal: ours }
}

fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

fn table(sizes: &[Size]) -> String {
    let mut out = String::new();
    let header: Vec<String> = sizes.iter().map(|s| format!("{} events", thousands(s.events))).collect();
    out += &format!("| operation | {} |\n|---|{}\n", header.join(" | "), "---:|".repeat(sizes.len()));
    for (i, p) in sizes[0].points.iter().enumerate() {
        let cells: Vec<String> = sizes
            .iter()
            .map(|s| {
                let q = &s.points[i];
                if q.peak_mib.is_nan() {
                    secs(q.seconds)
                } else {
                    format!("{} · {:.0} MiB", secs(q.seconds), q.peak_mib)
                }
            })
            .collect();
        out += &format!("| {} | {} |\n", p.op, cells.join(" | "));
    }
    let row = |name: &str, f: &dyn Fn(&Size) -> String| {
        format!("| {name} | {} |\n", sizes.iter().map(f).collect::<Vec<_>>().join(" | "))
    };
    out += &row("disk per event", &|s| format!("{:.0} B", s.disk_per_event));
    out += &row("verify, events/s", &|s| thousands(s.verify_per_s as u64));
    out += &row("raw BLAKE3 of the same bytes, events/s, 1 core · 2 cores", &|s| {
        format!("{} · {}", thousands(s.blake3_1core_per_s as u64), thousands(s.blake3_all_per_s as u64))
    });
    out += &row("verify ÷ raw BLAKE3 (2 cores)", &|s| format!("{:.0} %", 100.0 * s.verify_per_s / s.blake3_all_per_s));
    let by = |s: &Size, op: &str| s.points.iter().find(|p| p.op == op).unwrap().seconds;
    out += &row("caseledger ÷ SQLite, loading (append vs load)", &|s| {
        format!("{:.2}", by(s, "append (bulk, rules on)") / by(s, "SQLite: load the export"))
    });
    out += &row("caseledger ÷ SQLite, P1 + P3.2 (cold · repeated)", &|s| {
        let sql = by(s, "SQLite: P1 + P3.2 for 2022 by SQL");
        format!(
            "{:.2} · {:.2}",
            by(s, "caseledger: P1 + P3.2 for 2022") / sql,
            by(s, "caseledger: P1 + P3.2 for 2022, repeated (memo)") / sql
        )
    });
    out += &row("P1 · P3.2 (both equal)", &|s| {
        format!("{}/{} · {}/{}", s.sql_equal[0], s.sql_equal[1], s.sql_equal[2], s.sql_equal[3])
    });
    out
}

fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A log-log line plot of seconds against events, one line per operation.
fn svg(sizes: &[Size]) -> String {
    let (w, h, left, right, top, bottom) = (960.0, 560.0, 70.0, 390.0, 20.0, 50.0);
    let xs: Vec<f64> = sizes.iter().map(|s| (s.events as f64).log10()).collect();
    let all: Vec<f64> = sizes.iter().flat_map(|s| s.points.iter().map(|p| p.seconds.max(1e-3).log10())).collect();
    let (x0, x1) =
        (xs.iter().cloned().fold(f64::MAX, f64::min).floor(), xs.iter().cloned().fold(f64::MIN, f64::max).ceil());
    let (y0, y1) =
        (all.iter().cloned().fold(f64::MAX, f64::min).floor(), all.iter().cloned().fold(f64::MIN, f64::max).ceil());
    let px = |x: f64| left + (x - x0) / (x1 - x0).max(1e-9) * (w - left - right);
    let py = |y: f64| h - bottom - (y - y0) / (y1 - y0).max(1e-9) * (h - top - bottom);
    let colours = [
        "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
        "#000000", "#aec7e8", "#ffbb78",
    ];
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    );
    for d in (x0 as i32)..=(x1 as i32) {
        let x = px(d as f64);
        s += &format!("<line x1=\"{x}\" y1=\"{top}\" x2=\"{x}\" y2=\"{}\" stroke=\"#ddd\"/><text x=\"{x}\" y=\"{}\" text-anchor=\"middle\">10^{d} events</text>\n", h - bottom, h - bottom + 18.0);
    }
    for d in (y0 as i32)..=(y1 as i32) {
        let y = py(d as f64);
        let label = if d < 0 { format!("{} ms", 10f64.powi(d + 3)) } else { format!("{} s", 10f64.powi(d)) };
        s += &format!("<line x1=\"{left}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{}\" text-anchor=\"end\">{label}</text>\n", w - right, left - 6.0, y + 4.0);
    }
    for (i, p) in sizes[0].points.iter().enumerate() {
        let c = colours[i % colours.len()];
        let pts: Vec<String> = sizes
            .iter()
            .zip(&xs)
            .map(|(sz, x)| format!("{:.1},{:.1}", px(*x), py(sz.points[i].seconds.max(1e-3).log10())))
            .collect();
        s += &format!("<polyline fill=\"none\" stroke=\"{c}\" stroke-width=\"2\" points=\"{}\"/>\n", pts.join(" "));
        for pt in &pts {
            let (x, y) = pt.split_once(',').unwrap();
            s += &format!("<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{c}\"/>\n");
        }
        let ly = top + 14.0 + 18.0 * i as f64;
        s += &format!("<line x1=\"{}\" y1=\"{ly}\" x2=\"{}\" y2=\"{ly}\" stroke=\"{c}\" stroke-width=\"3\"/><text x=\"{}\" y=\"{}\">{}</text>\n", w - right + 10.0, w - right + 30.0, w - right + 36.0, ly + 4.0, p.op);
    }
    s += &format!(
        "<text x=\"{left}\" y=\"{}\">wall time (log) against ledger size (log); 2 cores</text>\n</svg>\n",
        h - 8.0
    );
    s
}

fn main() {
    let sizes: Vec<u64> = std::env::var("CASELEDGER_SCALE_EVENTS")
        .unwrap_or_else(|_| "10000,100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse().expect("CASELEDGER_SCALE_EVENTS: numbers"))
        .collect();
    let keep = std::env::var_os("CASELEDGER_SCALE_KEEP").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let mut results = Vec::new();
    for target in sizes {
        let work = match &keep {
            Some(k) => k.join(target.to_string()),
            None => tmp.path().join(target.to_string()),
        };
        let _ = std::fs::remove_dir_all(&work);
        std::fs::create_dir_all(&work).unwrap();
        eprintln!("scale: {target} events …");
        results.push(run_size(target, &work));
    }
    let md = table(&results);
    println!("{md}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::write(root.join("benches/scale.svg"), svg(&results)).unwrap();
    let path = root.join("BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = ("<!-- scale:begin -->", "<!-- scale:end -->");
    if let (Some(a), Some(b)) = (text.find(begin), text.find(end)) {
        let stamp = chrono::Utc::now().format("%Y-%m-%d");
        let new = format!(
            "{}{begin}\n_Written by `cargo bench --bench scale` on {stamp}; 2 cores._\n\n{md}\n![log-log plot](benches/scale.svg)\n{}",
            &text[..a],
            &text[b..]
        );
        std::fs::write(&path, new).unwrap();
        eprintln!("scale: BENCHMARKS.md and benches/scale.svg written");
    }
}
