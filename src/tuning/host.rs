//! Host checks for low latency (`calculus-trader check-host`, start-up warnings): isolated
//! cores, frequency governor, turbo, C-states, transparent huge pages, IRQ affinity, swap and
//! clock source, read from `/proc` and `/sys` under a configurable root so tests can feed
//! sample files. A file that cannot be read gives an `UNKNOWN` line, never an error.
//!
//! Nothing is changed unless [`apply`] is called (`--apply`), and then only the sysfs/procfs
//! writes listed in the findings.

use std::collections::BTreeSet;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// Outcome of one check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// As a low-latency host should be.
    Ok,
    /// Costs latency or jitter; the detail says what to change.
    Warn,
    /// Informational; nothing to fix (or nothing checkable).
    Info,
    /// The file that would tell is missing or unreadable (common in VMs and containers).
    Unknown,
}

impl Status {
    /// `OK`, `WARN`, `INFO`, `UNKNOWN`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Info => "INFO",
            Status::Unknown => "UNKNOWN",
        }
    }
}

/// One write `--apply` would perform: `value` into the file at `path`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileWrite {
    /// Absolute path (under the checked root).
    pub path: PathBuf,
    /// Text written.
    pub value: String,
}

/// One line of the report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// Verdict.
    pub status: Status,
    /// Short name of the check (`isolcpus`, `governor`, ...).
    pub check: &'static str,
    /// What was found and, for a warning, what to change.
    pub detail: String,
    /// Runtime writes that fix it (empty when it needs a reboot or nothing can be written).
    pub fixes: Vec<FileWrite>,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<7} {:<13} {}",
            self.status.label(),
            self.check,
            self.detail
        )
    }
}

/// Where the host's `/proc` and `/sys` live: `/` for the real host, a directory of sample
/// files in tests.
#[derive(Clone, Debug)]
pub struct Host {
    root: PathBuf,
}

impl Host {
    /// The running host.
    pub fn live() -> Self {
        Self::at("/")
    }

    /// A host whose files are under `root` (`root/proc/cmdline`, `root/sys/...`).
    pub fn at(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Absolute path of `rel` (given without a leading slash) under the root.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel.trim_start_matches('/'))
    }

    /// Contents of `rel`, trimmed; `None` if it cannot be read.
    pub fn read(&self, rel: &str) -> Option<String> {
        fs::read_to_string(self.path(rel))
            .ok()
            .map(|s| s.trim().to_owned())
    }

    /// Names of the entries of directory `rel`, sorted; empty if unreadable.
    fn list(&self, rel: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path(rel))
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }
}

/// Parses a kernel CPU list (`0-3,5`, `2`, empty) into sorted, de-duplicated CPU numbers.
pub fn parse_cpulist(text: &str) -> Result<Vec<usize>, String> {
    let mut cpus = BTreeSet::new();
    for part in text
        .trim()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let num = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| format!("bad CPU list {text:?}: {s:?} is not a CPU number"))
        };
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("bad CPU list {text:?}: range {part} is reversed"));
                }
                cpus.extend(a..=b);
            }
            None => {
                cpus.insert(num(part)?);
            }
        }
    }
    Ok(cpus.into_iter().collect())
}

/// Formats CPU numbers as a kernel CPU list, ranges collapsed (`[0,1,2,3,5]` → `0-3,5`).
pub fn format_cpulist(cpus: &[usize]) -> String {
    let mut sorted: Vec<usize> = cpus.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// The value of kernel parameter `key` on the command line (`key=value`; the last one wins, as
/// in the kernel). A bare `key` gives `Some("")`. Words after ` -- ` belong to init: ignored.
pub fn cmdline_param<'a>(cmdline: &'a str, key: &str) -> Option<&'a str> {
    let kernel = cmdline.split(" -- ").next().unwrap_or("");
    kernel
        .split_whitespace()
        .rev()
        .find_map(|word| match word.split_once('=') {
            Some((k, v)) if k == key => Some(v),
            None if word == key => Some(""),
            _ => None,
        })
}

/// The CPUs of an `isolcpus=` value, whose flags (`nohz`, `domain`, `managed_irq`) precede the
/// list: `managed_irq,domain,2-3` → `[2, 3]`.
pub fn isolcpus_list(value: &str) -> Result<Vec<usize>, String> {
    let list: Vec<&str> = value
        .split(',')
        .filter(|t| t.starts_with(|c: char| c.is_ascii_digit()))
        .collect();
    parse_cpulist(&list.join(","))
}

/// The selected word of a sysfs choice file: `always [madvise] never` → `madvise`.
pub fn bracketed_choice(text: &str) -> Option<&str> {
    let start = text.find('[')? + 1;
    let end = start + text[start..].find(']')?;
    Some(&text[start..end])
}

/// Active swap areas from `/proc/swaps` (header line skipped): `(name, size KiB)`.
pub fn parse_swaps(text: &str) -> Vec<(String, u64)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let name = f.next()?.to_owned();
            let size = f.nth(1)?.parse().ok()?;
            Some((name, size))
        })
        .collect()
}

/// `cpus ⊆ set`.
fn all_in(cpus: &[usize], set: &[usize]) -> bool {
    cpus.iter().all(|c| set.contains(c))
}

/// Exit latency (µs) above which an enabled idle state on a pinned core counts as "deep": C1
/// exits in ~1-2 µs, C1E in ~10, C6 in 100+.
pub const DEEP_CSTATE_LATENCY_US: u64 = 10;

/// Runs every check for the hot cores `pinned` (empty = report host-wide state only).
pub fn check_host(host: &Host, pinned: &[usize]) -> Vec<Finding> {
    let cmdline = host.read("proc/cmdline");
    let mut out = Vec::new();
    out.extend(check_isolation(host, cmdline.as_deref(), pinned));
    out.push(check_governor(host, pinned));
    out.push(check_turbo(host));
    out.push(check_cstates(host, cmdline.as_deref(), pinned));
    out.push(check_thp(host));
    out.push(check_irqs(host, pinned));
    out.push(check_swap(host));
    out.push(check_clocksource(host));
    out
}

fn finding(status: Status, check: &'static str, detail: String) -> Finding {
    Finding {
        status,
        check,
        detail,
        fixes: Vec::new(),
    }
}

/// The CPUs the checks apply to: the pinned ones, or every online CPU when none are given.
fn cores_of_interest(host: &Host, pinned: &[usize]) -> Vec<usize> {
    if !pinned.is_empty() {
        return pinned.to_vec();
    }
    host.read("sys/devices/system/cpu/online")
        .and_then(|s| parse_cpulist(&s).ok())
        .unwrap_or_default()
}

fn check_isolation(host: &Host, cmdline: Option<&str>, pinned: &[usize]) -> Vec<Finding> {
    let pins = format_cpulist(pinned);
    let mut out = Vec::new();
    for (key, why) in [
        (
            "isolcpus",
            "keeps the scheduler's other tasks off the hot cores",
        ),
        (
            "nohz_full",
            "stops the scheduler tick on a core running one task",
        ),
        ("rcu_nocbs", "moves RCU callbacks off the hot cores"),
    ] {
        let Some(cmdline) = cmdline else {
            out.push(finding(
                Status::Unknown,
                key,
                "/proc/cmdline unreadable".into(),
            ));
            continue;
        };
        let f = match cmdline_param(cmdline, key) {
            None => finding(
                if pinned.is_empty() {
                    Status::Info
                } else {
                    Status::Warn
                },
                key,
                format!(
                    "not set on the kernel command line ({why}); add {key}={}",
                    if pins.is_empty() {
                        "<hot cores>".into()
                    } else {
                        pins.clone()
                    }
                ),
            ),
            Some(v) => {
                let cpus = if key == "isolcpus" {
                    isolcpus_list(v)
                } else if v == "all" || v.is_empty() {
                    // rcu_nocbs without a list (or `all`) covers every CPU.
                    Ok(cores_of_interest(host, &[]))
                } else {
                    parse_cpulist(v)
                };
                match cpus {
                    Err(e) => finding(Status::Warn, key, format!("{key}={v}: {e}")),
                    Ok(c) if pinned.is_empty() => {
                        finding(Status::Info, key, format!("{key}={}", format_cpulist(&c)))
                    }
                    Ok(c) if all_in(pinned, &c) => finding(
                        Status::Ok,
                        key,
                        format!("{key}={} covers the hot cores {pins}", format_cpulist(&c)),
                    ),
                    Ok(c) => finding(
                        Status::Warn,
                        key,
                        format!("{key}={} misses hot core(s) of {pins}", format_cpulist(&c)),
                    ),
                }
            }
        };
        out.push(f);
    }
    out.push(match host.read("sys/devices/system/cpu/isolated") {
        None => finding(
            Status::Unknown,
            "isolated",
            "/sys/devices/system/cpu/isolated unreadable".into(),
        ),
        Some(text) => match parse_cpulist(&text) {
            Err(e) => finding(Status::Warn, "isolated", e),
            Ok(iso) if pinned.is_empty() => finding(
                Status::Info,
                "isolated",
                format!("isolated cores: {}", none_if_empty(&format_cpulist(&iso))),
            ),
            Ok(iso) if all_in(pinned, &iso) => finding(
                Status::Ok,
                "isolated",
                format!("the configured hot cores {pins} are isolated ({})", format_cpulist(&iso)),
            ),
            Ok(iso) => {
                let missing: Vec<usize> =
                    pinned.iter().copied().filter(|c| !iso.contains(c)).collect();
                finding(
                    Status::Warn,
                    "isolated",
                    format!(
                        "configured hot core(s) {} not isolated (isolated: {}); other tasks will preempt the hot threads",
                        format_cpulist(&missing),
                        none_if_empty(&format_cpulist(&iso))
                    ),
                )
            }
        },
    });
    out
}

fn none_if_empty(s: &str) -> &str {
    if s.is_empty() {
        "none"
    } else {
        s
    }
}

fn check_governor(host: &Host, pinned: &[usize]) -> Finding {
    let cores = cores_of_interest(host, pinned);
    let mut slow = Vec::new();
    let mut fixes = Vec::new();
    let mut known = 0;
    for &c in &cores {
        let rel = format!("sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor");
        if let Some(g) = host.read(&rel) {
            known += 1;
            if g != "performance" {
                slow.push(format!("cpu{c}={g}"));
                fixes.push(FileWrite {
                    path: host.path(&rel),
                    value: "performance".into(),
                });
            }
        }
    }
    if known == 0 {
        return finding(
            Status::Unknown,
            "governor",
            "no cpufreq scaling_governor (VM or fixed-frequency CPU): frequency is the host's choice".into(),
        );
    }
    if slow.is_empty() {
        finding(
            Status::Ok,
            "governor",
            format!("performance on cpu {}", format_cpulist(&cores)),
        )
    } else {
        Finding {
            status: Status::Warn,
            check: "governor",
            detail: format!(
                "{} (want performance: other governors ramp the clock up only after load arrives)",
                slow.join(" ")
            ),
            fixes,
        }
    }
}

fn check_turbo(host: &Host) -> Finding {
    let why = "frequency then depends on load and temperature: disable for stable latency";
    if let Some(v) = host.read("sys/devices/system/cpu/intel_pstate/no_turbo") {
        return if v == "1" {
            finding(Status::Ok, "turbo", "off (intel_pstate/no_turbo=1)".into())
        } else {
            Finding {
                status: Status::Warn,
                check: "turbo",
                detail: format!("on (intel_pstate/no_turbo={v}): {why}"),
                fixes: vec![FileWrite {
                    path: host.path("sys/devices/system/cpu/intel_pstate/no_turbo"),
                    value: "1".into(),
                }],
            }
        };
    }
    if let Some(v) = host.read("sys/devices/system/cpu/cpufreq/boost") {
        return if v == "0" {
            finding(Status::Ok, "turbo", "off (cpufreq/boost=0)".into())
        } else {
            Finding {
                status: Status::Warn,
                check: "turbo",
                detail: format!("on (cpufreq/boost={v}): {why}"),
                fixes: vec![FileWrite {
                    path: host.path("sys/devices/system/cpu/cpufreq/boost"),
                    value: "0".into(),
                }],
            }
        };
    }
    finding(
        Status::Unknown,
        "turbo",
        "no intel_pstate/no_turbo or cpufreq/boost (VM or no turbo control)".into(),
    )
}

fn check_cstates(host: &Host, cmdline: Option<&str>, pinned: &[usize]) -> Finding {
    if cmdline.and_then(|c| cmdline_param(c, "idle")) == Some("poll") {
        return finding(
            Status::Ok,
            "c-states",
            "idle=poll: cores never sleep".into(),
        );
    }
    let driver = host.read("sys/devices/system/cpu/cpuidle/current_driver");
    let cores = cores_of_interest(host, pinned);
    let mut deep = Vec::new();
    let mut fixes = Vec::new();
    let mut states_seen = 0;
    for &c in &cores {
        let dir = format!("sys/devices/system/cpu/cpu{c}/cpuidle");
        for state in host
            .list(&dir)
            .into_iter()
            .filter(|s| s.starts_with("state"))
        {
            let base = format!("{dir}/{state}");
            let latency: Option<u64> = host
                .read(&format!("{base}/latency"))
                .and_then(|l| l.parse().ok());
            let Some(latency) = latency else { continue };
            states_seen += 1;
            let disabled = host.read(&format!("{base}/disable")).as_deref() == Some("1");
            if latency > DEEP_CSTATE_LATENCY_US && !disabled {
                let name = host.read(&format!("{base}/name")).unwrap_or(state.clone());
                deep.push(format!("cpu{c}:{name}({latency}us)"));
                fixes.push(FileWrite {
                    path: host.path(&format!("{base}/disable")),
                    value: "1".into(),
                });
            }
        }
    }
    let driver_text = driver.as_deref().unwrap_or("unknown");
    if states_seen == 0 {
        return finding(
            Status::Unknown,
            "c-states",
            format!("no cpuidle states readable (driver {driver_text})"),
        );
    }
    if deep.is_empty() {
        finding(
            Status::Ok,
            "c-states",
            format!(
                "no enabled idle state exits slower than {DEEP_CSTATE_LATENCY_US} us on cpu {} (driver {driver_text})",
                format_cpulist(&cores)
            ),
        )
    } else {
        Finding {
            status: Status::Warn,
            check: "c-states",
            detail: format!(
                "deep idle states enabled: {} (waking costs that much; disable them or boot with intel_idle.max_cstate=1 processor.max_cstate=1)",
                deep.join(" ")
            ),
            fixes,
        }
    }
}

fn check_thp(host: &Host) -> Finding {
    let rel = "sys/kernel/mm/transparent_hugepage/enabled";
    match host.read(rel).as_deref().and_then(bracketed_choice) {
        None => finding(
            Status::Unknown,
            "thp",
            "transparent_hugepage/enabled unreadable".into(),
        ),
        Some("always") => Finding {
            status: Status::Warn,
            check: "thp",
            detail: "transparent huge pages = always: khugepaged compaction can stall the hot threads; use madvise".into(),
            fixes: vec![FileWrite {
                path: host.path(rel),
                value: "madvise".into(),
            }],
        },
        Some(mode) => finding(
            Status::Ok,
            "thp",
            format!("transparent huge pages = {mode}"),
        ),
    }
}

fn check_irqs(host: &Host, pinned: &[usize]) -> Finding {
    let irqs: Vec<String> = host
        .list("proc/irq")
        .into_iter()
        .filter(|n| n.parse::<u32>().is_ok())
        .collect();
    let mut readable = 0;
    let mut on_hot = Vec::new();
    let mut fixes = Vec::new();
    let online = cores_of_interest(host, &[]);
    let cold: Vec<usize> = online
        .iter()
        .copied()
        .filter(|c| !pinned.contains(c))
        .collect();
    for irq in &irqs {
        let rel = format!("proc/irq/{irq}/smp_affinity_list");
        let Some(cpus) = host.read(&rel).and_then(|s| parse_cpulist(&s).ok()) else {
            continue;
        };
        readable += 1;
        if cpus.iter().any(|c| pinned.contains(c)) {
            on_hot.push(irq.as_str());
            if !cold.is_empty() {
                fixes.push(FileWrite {
                    path: host.path(&rel),
                    value: format_cpulist(&cold),
                });
            }
        }
    }
    if readable == 0 {
        return finding(
            Status::Unknown,
            "irq-affinity",
            "no /proc/irq/*/smp_affinity_list readable".into(),
        );
    }
    if pinned.is_empty() {
        return finding(
            Status::Info,
            "irq-affinity",
            format!("{readable} IRQs; no hot cores configured to check against"),
        );
    }
    if on_hot.is_empty() {
        return finding(
            Status::Ok,
            "irq-affinity",
            format!(
                "none of {readable} IRQs may run on hot cores {}",
                format_cpulist(pinned)
            ),
        );
    }
    let shown: Vec<&str> = on_hot.iter().copied().take(12).collect();
    let more = if on_hot.len() > shown.len() {
        " ..."
    } else {
        ""
    };
    Finding {
        status: Status::Warn,
        check: "irq-affinity",
        detail: format!(
            "{} of {readable} IRQs may run on hot cores {} (irq {}{more}); route them to {} (and stop irqbalance)",
            on_hot.len(),
            format_cpulist(pinned),
            shown.join(","),
            none_if_empty(&format_cpulist(&cold))
        ),
        fixes,
    }
}

fn check_swap(host: &Host) -> Finding {
    let swappiness = host
        .read("proc/sys/vm/swappiness")
        .map(|s| format!(", vm.swappiness={s}"))
        .unwrap_or_default();
    match host.read("proc/swaps") {
        None => finding(Status::Unknown, "swap", "/proc/swaps unreadable".into()),
        Some(text) => {
            let areas = parse_swaps(&text);
            if areas.is_empty() {
                finding(Status::Ok, "swap", format!("no swap{swappiness}"))
            } else {
                let names: Vec<String> = areas
                    .iter()
                    .map(|(n, kib)| format!("{n} ({} MiB)", kib / 1024))
                    .collect();
                finding(
                    Status::Warn,
                    "swap",
                    format!(
                        "swap active: {}{swappiness}; a swapped-out page costs milliseconds: `swapoff -a` (not done by --apply)",
                        names.join(", ")
                    ),
                )
            }
        }
    }
}

fn check_clocksource(host: &Host) -> Finding {
    let base = "sys/devices/system/clocksource/clocksource0";
    let invariant = host.read("proc/cpuinfo").map(|c| {
        let flags = c
            .lines()
            .find(|l| l.starts_with("flags"))
            .unwrap_or("")
            .to_owned();
        let has = |f: &str| flags.split_whitespace().any(|w| w == f);
        has("constant_tsc") && has("nonstop_tsc")
    });
    let tsc_note = match invariant {
        Some(true) => "; invariant TSC (constant_tsc nonstop_tsc)",
        Some(false) => "; no invariant TSC flags: stage clocks fall back to CLOCK_MONOTONIC",
        None => "",
    };
    match host.read(&format!("{base}/current_clocksource")) {
        None => finding(
            Status::Unknown,
            "clocksource",
            format!("current_clocksource unreadable{tsc_note}"),
        ),
        Some(cs) if cs == "tsc" => finding(Status::Ok, "clocksource", format!("tsc{tsc_note}")),
        Some(cs) => {
            let available = host
                .read(&format!("{base}/available_clocksource"))
                .unwrap_or_default();
            let can = available.split_whitespace().any(|w| w == "tsc");
            Finding {
                status: Status::Warn,
                check: "clocksource",
                detail: format!(
                    "{cs} (want tsc: clock_gettime through {cs} is slower{}){tsc_note}",
                    if can {
                        "; tsc is available"
                    } else {
                        "; tsc not offered by the kernel"
                    }
                ),
                fixes: if can {
                    vec![FileWrite {
                        path: host.path(&format!("{base}/current_clocksource")),
                        value: "tsc".into(),
                    }]
                } else {
                    Vec::new()
                },
            }
        }
    }
}

/// The report as text, one finding per line, with a last line counting the warnings.
pub fn render(findings: &[Finding], pinned: &[usize]) -> String {
    let mut out = String::new();
    for f in findings {
        out.push_str(&f.to_string());
        out.push('\n');
    }
    let warns = findings.iter().filter(|f| f.status == Status::Warn).count();
    let fixable: usize = findings.iter().map(|f| f.fixes.len()).sum();
    out.push_str(&format!(
        "{warns} warning(s) for hot cores {}; {fixable} runtime write(s) available with --apply (needs root); see tuning/README.md\n",
        none_if_empty(&format_cpulist(pinned))
    ));
    out
}

/// Start-up warnings: one line per failing ([`Status::Warn`]) check for the hot cores.
pub fn startup_warnings(host: &Host, pinned: &[usize]) -> Vec<String> {
    check_host(host, pinned)
        .into_iter()
        .filter(|f| f.status == Status::Warn)
        .map(|f| format!("warning: host check {}: {}", f.check, f.detail))
        .collect()
}

/// True when the process runs as root (effective uid 0, from `/proc/self/status`).
pub fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Performs every fix of `findings` (the `--apply` writes), returning one line per write saying
/// what was done or why it failed.
pub fn apply(findings: &[Finding]) -> Vec<String> {
    findings
        .iter()
        .flat_map(|f| f.fixes.iter().map(move |w| (f.check, w)))
        .map(|(check, w)| match fs::write(&w.path, &w.value) {
            Ok(()) => format!(
                "applied {check}: wrote {:?} to {}",
                w.value,
                w.path.display()
            ),
            Err(e) => format!(
                "FAILED {check}: writing {:?} to {}: {e}",
                w.value,
                w.path.display()
            ),
        })
        .collect()
}

/// `path` relative to nothing: helper for printing writes of a [`Host`] rooted at `/`.
pub fn describe_write(w: &FileWrite) -> String {
    format!("echo {} > {}", w.value, Path::new(&w.path).display())
}
