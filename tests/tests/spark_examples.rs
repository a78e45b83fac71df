//! Spark's classic programs end to end: SparkPi, Sort (TeraSort-style records), GroupBy-aggregate,
//! PageRank and KMeans from `driver/examples/`, each submitted with `weft submit` to one cluster (a
//! ResourceManager and two NodeManagers as real processes on 127.0.0.1) over a small deterministic
//! input, and each answer compared with the same computation done by plain Rust in the test:
//! SparkPi's printed value exactly, Sort's lines in order across its part files, GroupBy's sum and
//! count per key, PageRank's node set and ranks (1e-9 relative), KMeans' final centers (1e-6).
//! PageRank runs in cluster mode (its summary line read from the AM container's stdout log), the
//! others in client mode.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use weft_tests::{example, printed_app_id, Cluster, ClusterOptions, WeftOutput};

fn submit(cluster: &Cluster, mode: &str, program: &[&str]) -> WeftOutput {
    let run = cluster.spark_submit(mode, program);
    assert_eq!(run.code, Some(0), "{program:?} in {mode} mode:\n{}", run.both());
    run
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temp paths are UTF-8")
}

/// A 64-bit LCG (Knuth's MMIX constants); `next` gives its upper 31 bits.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const KEY_ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

fn kv_key(rng: &mut Lcg) -> String {
    (0..10).map(|_| KEY_ALPHABET[rng.below(KEY_ALPHABET.len() as u64) as usize] as char).collect()
}

/// A bench kv record: `key(10) TAB num(8 digits) payload(80 lowercase letters)`.
fn kv_record(rng: &mut Lcg, key: &str) -> String {
    let num = rng.below(100_000_000);
    let payload: String = (0..80).map(|_| (b'a' + rng.below(26) as u8) as char).collect();
    format!("{key}\t{num:08}{payload}")
}

/// The line of `stdout` starting with `prefix`.
fn line_with<'a>(stdout: &'a str, prefix: &str) -> &'a str {
    stdout.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix:?} line in:\n{stdout}"))
}

/// Spark's output directory: checks `_SUCCESS`, returns the `part-NNNNN` files' lines, part by part
/// in name order.
fn read_parts(dir: &Path) -> Vec<Vec<String>> {
    assert!(dir.join("_SUCCESS").exists(), "{} has no _SUCCESS", dir.display());
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().into_string().unwrap())
        .filter(|n| n.starts_with("part-"))
        .collect();
    names.sort();
    for (i, name) in names.iter().enumerate() {
        assert_eq!(name, &format!("part-{i:05}"), "{names:?}");
    }
    names.iter().map(|n| std::fs::read_to_string(dir.join(n)).unwrap().lines().map(str::to_owned).collect()).collect()
}

// ---- SparkPi ----------------------------------------------------------------------------------

/// The example's per-slice generator and count, in plain Rust.
fn pi_reference(slices: u64) -> String {
    let n = 100_000u64 * slices;
    let per = n / slices;
    let mut inside = 0u64;
    for slice in 0..slices {
        let mut state = slice.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
        };
        for _ in 0..per {
            let (x, y) = (next(), next());
            if x * x + y * y <= 1.0 {
                inside += 1;
            }
        }
    }
    format!("Pi is roughly {}", 4.0 * inside as f64 / n as f64)
}

fn check_sparkpi(cluster: &Cluster) {
    let run = submit(cluster, "client", &[&example("sparkpi"), "3"]);
    let expected = pi_reference(3);
    assert_eq!(line_with(&run.stdout, "Pi is roughly "), expected, "{}", run.both());
}

// ---- Sort -------------------------------------------------------------------------------------

fn check_sort(cluster: &Cluster, dir: &Path) {
    let mut rng = Lcg(7);
    let mut keys = HashSet::new();
    let mut lines = Vec::new();
    while lines.len() < 3000 {
        let key = kv_key(&mut rng);
        if keys.insert(key.clone()) {
            lines.push(kv_record(&mut rng, &key));
        }
    }
    // Three input files, so the sort has three partitions to range-partition into.
    let input = dir.join("sort-in");
    std::fs::create_dir(&input).unwrap();
    for (i, chunk) in lines.chunks(1000).enumerate() {
        std::fs::write(input.join(format!("part-{i:05}.txt")), chunk.join("\n") + "\n").unwrap();
    }
    let mut expected = lines.clone();
    expected.sort_by(|a, b| a.as_bytes()[..10].cmp(&b.as_bytes()[..10]));

    let output = dir.join("sort-out");
    let run = submit(cluster, "client", &[&example("sort"), path(&input), path(&output)]);
    let parts = read_parts(&output);
    let partitions = parts.len();
    assert!(parts.iter().filter(|p| !p.is_empty()).count() >= 2, "one range holds everything: {partitions} parts");
    let got: Vec<String> = parts.into_iter().flatten().collect();
    assert_eq!(got.len(), expected.len());
    if let Some(i) = (0..got.len()).find(|&i| got[i] != expected[i]) {
        panic!("sorted output differs at line {i}: got {:?}, expected {:?}", got[i], expected[i]);
    }
    assert_eq!(
        line_with(&run.stdout, "Sorted "),
        format!("Sorted 3000 records into {partitions} partitions"),
        "{}",
        run.both()
    );
}

// ---- GroupBy-aggregate ------------------------------------------------------------------------

fn check_groupby(cluster: &Cluster, dir: &Path) {
    let mut rng = Lcg(11);
    let pool: Vec<String> = (0..150).map(|_| kv_key(&mut rng)).collect();
    let lines: Vec<String> = (0..4000)
        .map(|_| {
            let key = pool[rng.below(pool.len() as u64) as usize].clone();
            kv_record(&mut rng, &key)
        })
        .collect();
    let input = dir.join("groupby-in.txt");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let mut expected: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for line in &lines {
        let entry = expected.entry(line[..10].to_owned()).or_default();
        entry.0 += line[11..19].parse::<u64>().unwrap();
        entry.1 += 1;
    }

    let output = dir.join("groupby-out");
    let run = submit(cluster, "client", &[&example("groupby"), path(&input), path(&output)]);
    let mut got: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for line in read_parts(&output).into_iter().flatten() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [key, sum, count] = fields[..] else { panic!("not key<TAB>sum<TAB>count: {line:?}") };
        let value = (sum.parse().unwrap(), count.parse().unwrap());
        assert!(got.insert(key.to_owned(), value).is_none(), "{key} twice");
    }
    assert_eq!(got, expected);
    assert_eq!(
        line_with(&run.stdout, "Grouped "),
        format!("Grouped {} records into {} keys", lines.len(), expected.len()),
        "{}",
        run.both()
    );
}

// ---- Skewed join + aggregate ------------------------------------------------------------------

fn check_skewjoin(cluster: &Cluster, dir: &Path) {
    let mut rng = Lcg(23);
    let pool: Vec<String> = (0..120).map(|_| kv_key(&mut rng)).collect();
    // A third of the facts carry the first key (the skew); keys past 100 have no dimension row,
    // so their facts drop out of the inner join.
    let facts: Vec<String> = (0..4500)
        .map(|i| {
            let key = if i % 3 == 0 { pool[0].clone() } else { pool[rng.below(pool.len() as u64) as usize].clone() };
            kv_record(&mut rng, &key)
        })
        .collect();
    let dim: Vec<String> = pool[..100].iter().enumerate().map(|(i, key)| format!("{key}\t{}", i % 7)).collect();
    let (facts_in, dim_in) = (dir.join("skewjoin-facts.txt"), dir.join("skewjoin-dim.txt"));
    std::fs::write(&facts_in, facts.join("\n") + "\n").unwrap();
    std::fs::write(&dim_in, dim.join("\n") + "\n").unwrap();
    let region: BTreeMap<&str, u32> = pool[..100].iter().enumerate().map(|(i, k)| (k.as_str(), i as u32 % 7)).collect();
    let mut expected: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    let mut joined = 0;
    for line in &facts {
        if let Some(r) = region.get(&line[..10]) {
            let entry = expected.entry(*r).or_default();
            entry.0 += line[11..19].parse::<u64>().unwrap();
            entry.1 += 1;
            joined += 1;
        }
    }
    assert!(joined < facts.len(), "some facts must find no dimension row");

    let output = dir.join("skewjoin-out");
    let run = submit(cluster, "client", &[&example("skewjoin"), path(&facts_in), path(&dim_in), path(&output)]);
    let mut got: BTreeMap<u32, (u64, u64)> = BTreeMap::new();
    for line in read_parts(&output).into_iter().flatten() {
        let fields: Vec<&str> = line.split('\t').collect();
        let [r, sum, count] = fields[..] else { panic!("not region<TAB>sum<TAB>count: {line:?}") };
        let value = (sum.parse().unwrap(), count.parse().unwrap());
        assert!(got.insert(r.parse().unwrap(), value).is_none(), "region {r} twice");
    }
    assert_eq!(got, expected);
    assert_eq!(
        line_with(&run.stdout, "Joined "),
        format!(
            "Joined {joined} of {} records with {} dimension rows into {} regions",
            facts.len(),
            dim.len(),
            expected.len()
        ),
        "{}",
        run.both()
    );
}

// ---- PageRank ---------------------------------------------------------------------------------

/// SparkPageRank written plainly: distinct links, ranks start at 1.0, each node with links splits
/// its rank among them, new rank `0.15 + 0.85 × received`; only nodes that receive something stay.
fn pagerank_reference(edges: &[(u32, u32)], iterations: u32) -> BTreeMap<u32, f64> {
    let mut links: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    for &(src, dst) in edges {
        links.entry(src).or_default().insert(dst);
    }
    let mut ranks: BTreeMap<u32, f64> = links.keys().map(|&node| (node, 1.0)).collect();
    for _ in 0..iterations {
        let mut received: BTreeMap<u32, f64> = BTreeMap::new();
        for (src, dsts) in &links {
            if let Some(rank) = ranks.get(src) {
                let share = rank / dsts.len() as f64;
                for dst in dsts {
                    *received.entry(*dst).or_insert(0.0) += share;
                }
            }
        }
        ranks = received.into_iter().map(|(node, sum)| (node, 0.15 + 0.85 * sum)).collect();
    }
    ranks
}

/// The stdout log of the application's AM container (attempt 1), from the NodeManagers' log dirs.
fn am_stdout(cluster: &Cluster, app: &str) -> String {
    for i in 0..2 {
        let app_logs = cluster.dir.path().join(format!("nm{i}/logs/{app}"));
        let Ok(containers) = std::fs::read_dir(&app_logs) else { continue };
        for container in containers.flatten() {
            if container.file_name().to_string_lossy().ends_with("_000001") {
                return std::fs::read_to_string(container.path().join("stdout")).unwrap();
            }
        }
    }
    panic!("no AM container logs for {app} under {}", cluster.dir.path().display())
}

fn check_pagerank(cluster: &Cluster, dir: &Path) {
    let mut rng = Lcg(13);
    // Nodes 0..300: 280..300 link nowhere, nothing links to 0..10 (they drop out), no self loops.
    let mut edges = Vec::new();
    while edges.len() < 2000 {
        let (src, dst) = (rng.below(280) as u32, 10 + rng.below(290) as u32);
        if src != dst {
            edges.push((src, dst));
        }
    }
    // Some duplicate edges, which count once.
    for i in 0..100 {
        edges.push(edges[i * 17]);
    }
    let text: String = edges.iter().map(|(s, d)| format!("{s} {d}\n")).collect();
    let input = dir.join("edges.txt");
    std::fs::write(&input, text).unwrap();
    let expected = pagerank_reference(&edges, 10);
    assert!(expected.keys().all(|&n| n >= 10) && expected.contains_key(&299), "reference ranks nodes 10..300");

    let output = dir.join("pagerank-out");
    let run = submit(cluster, "cluster", &[&example("pagerank"), path(&input), "10", path(&output)]);
    let app = printed_app_id(&run.both());
    assert_eq!(cluster.app(&app)["finalStatus"], "SUCCEEDED");
    let mut got: BTreeMap<u32, f64> = BTreeMap::new();
    for line in read_parts(&output).into_iter().flatten() {
        let (node, rank) = line.split_once('\t').unwrap_or_else(|| panic!("not node<TAB>rank: {line:?}"));
        assert!(got.insert(node.parse().unwrap(), rank.parse().unwrap()).is_none(), "{node} twice");
    }
    assert_eq!(got.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>(), "ranked nodes");
    for (node, want) in &expected {
        let have = got[node];
        assert!((have - want).abs() <= 1e-9 * want.abs(), "node {node}: rank {have}, expected {want}");
    }
    let stdout = am_stdout(cluster, &app);
    assert_eq!(line_with(&stdout, "Ranked "), format!("Ranked {} nodes in 10 iterations", expected.len()));
}

// ---- KMeans -----------------------------------------------------------------------------------

fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// SparkKMeans as the example does it: the first `k` distinct points as initial centers, closest
/// center (first on ties), cluster means (an empty cluster keeps its center), stop once the centers
/// moved less than 1e-9 in all or after `iterations`. Returns the centers and the summary line.
fn kmeans_reference(points: &[Vec<f64>], k: usize, iterations: u32) -> (Vec<Vec<f64>>, String) {
    let mut centers: Vec<Vec<f64>> = Vec::new();
    for p in points {
        if centers.len() < k && !centers.contains(p) {
            centers.push(p.clone());
        }
    }
    assert_eq!(centers.len(), k);
    let (mut moved, mut done) = (f64::INFINITY, 0);
    while done < iterations && moved > 1e-9 {
        let mut sums = vec![(vec![0.0; points[0].len()], 0u64); k];
        for p in points {
            let mut best = (0, f64::INFINITY);
            for (i, c) in centers.iter().enumerate() {
                let d = squared_distance(p, c);
                if d < best.1 {
                    best = (i, d);
                }
            }
            sums[best.0].0.iter_mut().zip(p).for_each(|(s, x)| *s += x);
            sums[best.0].1 += 1;
        }
        moved = 0.0;
        for (i, (sum, n)) in sums.into_iter().enumerate() {
            if n > 0 {
                let mean: Vec<f64> = sum.into_iter().map(|s| s / n as f64).collect();
                moved += squared_distance(&centers[i], &mean);
                centers[i] = mean;
            }
        }
        done += 1;
    }
    let verb = if moved <= 1e-9 { "converged" } else { "stopped" };
    (centers, format!("KMeans {verb} after {done} iterations"))
}

fn parse_point(line: &str) -> Vec<f64> {
    line.split_ascii_whitespace().map(|x| x.parse().unwrap_or_else(|e| panic!("{line:?}: {e}"))).collect()
}

fn assert_centers_close(got: &[Vec<f64>], expected: &[Vec<f64>], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}: {got:?}");
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert_eq!(g.len(), e.len(), "{what}: center {i} {g:?}, expected {e:?}");
        assert!(g.iter().zip(e).all(|(a, b)| (a - b).abs() <= 1e-6), "{what}: center {i} {g:?}, expected {e:?}");
    }
}

fn check_kmeans(cluster: &Cluster, dir: &Path) {
    let mut rng = Lcg(17);
    let truth = [[0.0, 0.0, 0.0], [60.0, 60.0, 0.0], [0.0, 60.0, 60.0]];
    let mut lines: Vec<String> = (0..1500)
        .map(|i| {
            let c = truth[i % 3];
            let coords: Vec<String> =
                c.iter().map(|x| format!("{:.4}", x + (rng.below(100_001) as f64 / 10_000.0 - 5.0))).collect();
            coords.join(" ")
        })
        .collect();
    // The first line repeated: the initial centers are the first three *distinct* points.
    lines.insert(1, lines[0].clone());
    let input = dir.join("points.txt");
    std::fs::write(&input, lines.join("\n") + "\n").unwrap();
    let points: Vec<Vec<f64>> = lines.iter().map(|l| parse_point(l)).collect();
    let (expected, summary) = kmeans_reference(&points, 3, 20);
    for (center, t) in expected.iter().zip(&truth) {
        assert!(squared_distance(center, t) < 1.0, "reference center {center:?} far from {t:?}");
    }

    let output = dir.join("kmeans-out");
    let run = submit(cluster, "client", &[&example("kmeans"), path(&input), "3", "20", path(&output)]);
    assert_eq!(line_with(&run.stdout, "KMeans "), summary, "{}", run.both());
    let printed: Vec<Vec<f64>> =
        run.stdout.lines().skip_while(|l| *l != "Final centers:").skip(1).take(3).map(parse_point).collect();
    assert_centers_close(&printed, &expected, "printed centers");
    let written: Vec<Vec<f64>> = read_parts(&output).into_iter().flatten().map(|l| parse_point(&l)).collect();
    assert_centers_close(&written, &expected, "written centers");
}

#[test]
fn spark_examples_agree_with_plain_rust() {
    let cluster = Cluster::start(ClusterOptions::default());
    let dir = weft_tests::data_dir();
    check_sparkpi(&cluster);
    check_sort(&cluster, dir.path());
    check_groupby(&cluster, dir.path());
    check_skewjoin(&cluster, dir.path());
    check_pagerank(&cluster, dir.path());
    check_kmeans(&cluster, dir.path());
    cluster.stop_checked();
}
