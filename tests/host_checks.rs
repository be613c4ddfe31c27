//! Host checks against sample `/proc` and `/sys` contents with known answers: parsing of the
//! kernel's formats, the verdict of every check, UNKNOWN for missing files, and `apply` writing
//! exactly the listed files (inside a temporary tree, never the real host).

use std::fs;
use std::path::{Path, PathBuf};

use calculus_trader::tuning::host::{
    apply, bracketed_choice, check_host, cmdline_param, format_cpulist, isolcpus_list,
    parse_cpulist, parse_swaps, render, startup_warnings, Finding, Host, Status,
};

mod common;
use common::files::temp_dir;

struct Tree(PathBuf);

impl Tree {
    fn new(tag: &str) -> Self {
        Tree(temp_dir(&format!("host-{tag}")))
    }
    fn put(&self, rel: &str, text: &str) -> &Self {
        let p = self.0.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
        self
    }
    fn host(&self) -> Host {
        Host::at(&self.0)
    }
    fn read(&self, rel: &str) -> String {
        fs::read_to_string(self.0.join(rel)).unwrap()
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn get<'a>(f: &'a [Finding], check: &str) -> &'a Finding {
    f.iter()
        .find(|x| x.check == check)
        .unwrap_or_else(|| panic!("no {check} in {f:?}"))
}

/// A badly tuned 4-CPU host: nothing isolated, powersave, turbo on, deep C-state, THP always,
/// IRQs everywhere, swap on, kvm-clock.
fn untuned(tag: &str) -> Tree {
    let t = Tree::new(tag);
    t.put(
        "proc/cmdline",
        "BOOT_IMAGE=/vmlinuz root=/dev/sda1 quiet -- isolcpus=2-3\n",
    )
    .put("sys/devices/system/cpu/online", "0-3\n")
    .put("sys/devices/system/cpu/isolated", "\n")
    .put("sys/devices/system/cpu/intel_pstate/no_turbo", "0\n")
    .put(
        "sys/devices/system/cpu/cpuidle/current_driver",
        "intel_idle\n",
    )
    .put(
        "sys/kernel/mm/transparent_hugepage/enabled",
        "[always] madvise never\n",
    )
    .put(
        "proc/swaps",
        "Filename\tType\tSize\tUsed\tPriority\n/swapfile file 2097148 0 -2\n",
    )
    .put("proc/sys/vm/swappiness", "60\n")
    .put(
        "sys/devices/system/clocksource/clocksource0/current_clocksource",
        "kvm-clock\n",
    )
    .put(
        "sys/devices/system/clocksource/clocksource0/available_clocksource",
        "kvm-clock tsc hpet acpi_pm\n",
    )
    .put(
        "proc/cpuinfo",
        "processor\t: 0\nflags\t\t: fpu tsc constant_tsc nonstop_tsc\n",
    );
    for cpu in 0..4 {
        let base = format!("sys/devices/system/cpu/cpu{cpu}");
        t.put(&format!("{base}/cpufreq/scaling_governor"), "powersave\n");
        for (i, (name, lat)) in [("POLL", 0), ("C1", 2), ("C6", 133)].iter().enumerate() {
            t.put(&format!("{base}/cpuidle/state{i}/name"), name)
                .put(
                    &format!("{base}/cpuidle/state{i}/latency"),
                    &lat.to_string(),
                )
                .put(&format!("{base}/cpuidle/state{i}/disable"), "0");
        }
    }
    t.put("proc/irq/0/smp_affinity_list", "0\n")
        .put("proc/irq/16/smp_affinity_list", "0-3\n")
        .put("proc/irq/17/smp_affinity_list", "2\n")
        .put("proc/irq/default_smp_affinity", "f\n");
    t
}

#[test]
fn cpulists_parse_and_format() {
    assert_eq!(parse_cpulist("0-3,5").unwrap(), [0, 1, 2, 3, 5]);
    assert_eq!(parse_cpulist(" 7 \n").unwrap(), [7]);
    assert_eq!(parse_cpulist("").unwrap(), Vec::<usize>::new());
    assert_eq!(parse_cpulist("3,1-2,2").unwrap(), [1, 2, 3]);
    assert!(parse_cpulist("3-1").unwrap_err().contains("reversed"));
    assert!(parse_cpulist("a-b").is_err());
    assert_eq!(format_cpulist(&[5, 0, 1, 2, 3, 9, 10]), "0-3,5,9-10");
    assert_eq!(format_cpulist(&[]), "");
}

#[test]
fn kernel_parameters_are_read_before_the_init_separator() {
    let cmdline =
        "ro isolcpus=managed_irq,domain,2-5 nohz_full=2-5 rcu_nocbs idle=poll -- nohz_full=0";
    assert_eq!(
        cmdline_param(cmdline, "isolcpus"),
        Some("managed_irq,domain,2-5")
    );
    assert_eq!(cmdline_param(cmdline, "nohz_full"), Some("2-5"));
    assert_eq!(cmdline_param(cmdline, "rcu_nocbs"), Some(""));
    assert_eq!(cmdline_param(cmdline, "ro"), Some(""));
    assert_eq!(cmdline_param(cmdline, "quiet"), None);
    assert_eq!(cmdline_param("a=1 a=2", "a"), Some("2"), "last one wins");
    assert_eq!(
        isolcpus_list("managed_irq,domain,2-5").unwrap(),
        [2, 3, 4, 5]
    );
    assert_eq!(isolcpus_list("1,3").unwrap(), [1, 3]);
}

#[test]
fn sysfs_choice_and_swaps_formats() {
    assert_eq!(bracketed_choice("always [madvise] never"), Some("madvise"));
    assert_eq!(bracketed_choice("[always] madvise never"), Some("always"));
    assert_eq!(bracketed_choice("performance"), None);
    let swaps = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n/dev/sda2 partition 8388604 0 -2\n/swapfile file 1048576 12 -3\n";
    assert_eq!(
        parse_swaps(swaps),
        [
            ("/dev/sda2".to_owned(), 8_388_604),
            ("/swapfile".to_owned(), 1_048_576)
        ]
    );
    assert!(parse_swaps("Filename\tType\tSize\tUsed\tPriority\n").is_empty());
}

#[test]
fn untuned_host_warns_on_every_setting_for_the_pinned_cores() {
    let t = untuned("untuned");
    let f = check_host(&t.host(), &[2, 3]);
    for check in [
        "isolcpus",
        "nohz_full",
        "rcu_nocbs",
        "isolated",
        "governor",
        "turbo",
        "c-states",
        "thp",
        "irq-affinity",
        "swap",
        "clocksource",
    ] {
        assert_eq!(get(&f, check).status, Status::Warn, "{check}: {f:?}");
    }
    // isolcpus after `--` belongs to init, so it does not count.
    assert!(get(&f, "isolcpus").detail.contains("add isolcpus=2-3"));
    assert!(get(&f, "governor")
        .detail
        .contains("cpu2=powersave cpu3=powersave"));
    let cstates = &get(&f, "c-states").detail;
    assert!(
        cstates.contains("cpu2:C6(133us)") && !cstates.contains("C1("),
        "{cstates}"
    );
    // IRQ 0 stays on core 0; 16 (0-3) and 17 (2) reach the hot cores.
    let irq = get(&f, "irq-affinity");
    assert!(irq.detail.starts_with("2 of 3 IRQs"), "{}", irq.detail);
    assert!(irq.detail.contains("irq 16,17"), "{}", irq.detail);
    assert!(get(&f, "swap").detail.contains("/swapfile (2047 MiB)"));
    assert!(get(&f, "clocksource").detail.contains("tsc is available"));

    let text = render(&f, &[2, 3]);
    assert!(text.lines().next().unwrap().starts_with("WARN    isolcpus"));
    assert!(text.ends_with(
        "11 warning(s) for hot cores 2-3; 9 runtime write(s) available with --apply (needs root); see tuning/README.md\n"
    ));
    let warnings = startup_warnings(&t.host(), &[2, 3]);
    assert_eq!(warnings.len(), 11);
    assert!(warnings
        .iter()
        .all(|w| w.starts_with("warning: host check ")));
}

#[test]
fn apply_writes_exactly_the_fixes_inside_the_tree() {
    let t = untuned("apply");
    let f = check_host(&t.host(), &[2, 3]);
    let done = apply(&f);
    // 2 governors, turbo, 2 C6 states, THP, 2 IRQs, clock source; swap and boot parameters
    // need the user.
    assert_eq!(done.len(), 9, "{done:?}");
    assert!(done.iter().all(|l| l.starts_with("applied ")), "{done:?}");
    assert_eq!(
        t.read("sys/devices/system/cpu/cpu2/cpufreq/scaling_governor"),
        "performance"
    );
    assert_eq!(
        t.read("sys/devices/system/cpu/cpu0/cpufreq/scaling_governor"),
        "powersave\n"
    );
    assert_eq!(t.read("sys/devices/system/cpu/intel_pstate/no_turbo"), "1");
    assert_eq!(
        t.read("sys/devices/system/cpu/cpu3/cpuidle/state2/disable"),
        "1"
    );
    assert_eq!(
        t.read("sys/devices/system/cpu/cpu3/cpuidle/state1/disable"),
        "0"
    );
    assert_eq!(
        t.read("sys/devices/system/cpu/cpu0/cpuidle/state2/disable"),
        "0"
    );
    assert_eq!(
        t.read("sys/kernel/mm/transparent_hugepage/enabled"),
        "madvise"
    );
    assert_eq!(t.read("proc/irq/16/smp_affinity_list"), "0-1");
    assert_eq!(t.read("proc/irq/0/smp_affinity_list"), "0\n");
    assert_eq!(
        t.read("sys/devices/system/clocksource/clocksource0/current_clocksource"),
        "tsc"
    );
}

#[test]
fn tuned_host_is_ok_everywhere() {
    let t = Tree::new("tuned");
    t.put(
        "proc/cmdline",
        "ro isolcpus=managed_irq,domain,2-3 nohz_full=2-3 rcu_nocbs=2-3 idle=poll",
    )
    .put("sys/devices/system/cpu/online", "0-3")
    .put("sys/devices/system/cpu/isolated", "2-3")
    .put("sys/devices/system/cpu/cpufreq/boost", "0")
    .put(
        "sys/kernel/mm/transparent_hugepage/enabled",
        "always madvise [never]",
    )
    .put("proc/swaps", "Filename\tType\tSize\tUsed\tPriority\n")
    .put(
        "sys/devices/system/clocksource/clocksource0/current_clocksource",
        "tsc",
    )
    .put("proc/irq/16/smp_affinity_list", "0-1")
    .put("proc/irq/17/smp_affinity_list", "1");
    for cpu in 2..4 {
        t.put(
            &format!("sys/devices/system/cpu/cpu{cpu}/cpufreq/scaling_governor"),
            "performance",
        );
    }
    let f = check_host(&t.host(), &[2, 3]);
    for finding in &f {
        assert_eq!(finding.status, Status::Ok, "{finding}");
        assert!(finding.fixes.is_empty());
    }
    assert!(startup_warnings(&t.host(), &[2, 3]).is_empty());
    // A hot core outside the isolated set is named.
    let f = check_host(&t.host(), &[1, 2]);
    let iso = get(&f, "isolated");
    assert_eq!(iso.status, Status::Warn);
    assert!(iso
        .detail
        .starts_with("configured hot core(s) 1 not isolated (isolated: 2-3)"));
    assert_eq!(get(&f, "isolcpus").status, Status::Warn);
}

#[test]
fn missing_files_are_unknown_not_errors() {
    let t = Tree::new("empty");
    let f = check_host(&t.host(), &[1]);
    assert_eq!(f.len(), 11);
    for finding in &f {
        assert_eq!(finding.status, Status::Unknown, "{finding}");
    }
    assert!(startup_warnings(&t.host(), &[1]).is_empty());
    assert!(Path::new(&t.0).exists());
}

/// `(status, check)` of every report line of the bash script, skipping the config line.
fn script_statuses(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter(|l| {
            ["OK ", "WARN ", "INFO ", "UNKNOWN "]
                .iter()
                .any(|s| l.starts_with(s))
        })
        .map(|l| {
            let mut w = l.split_whitespace();
            (w.next().unwrap().to_owned(), w.next().unwrap().to_owned())
        })
        .filter(|(_, check)| check != "config")
        .collect()
}

fn run_script(tree: &Tree, args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tuning/check-host");
    let out = std::process::Command::new("bash")
        .arg(script)
        .args(args)
        .env("HOST_ROOT", &tree.0)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn bash_script_agrees_with_the_library_line_by_line() {
    for (tag, tuned) in [("script-untuned", false), ("script-empty", true)] {
        let t = if tuned { Tree::new(tag) } else { untuned(tag) };
        let lib: Vec<(String, String)> = check_host(&t.host(), &[2, 3])
            .iter()
            .map(|f| (f.status.label().to_owned(), f.check.to_owned()))
            .collect();
        let out = run_script(&t, &["--cores", "2-3"]);
        assert_eq!(script_statuses(&out), lib, "{out}");
    }
}

#[test]
fn bash_script_applies_only_with_apply() {
    let t = untuned("script-apply");
    let dry = run_script(&t, &["--cores", "2-3"]);
    assert_eq!(dry.matches("would apply: ").count(), 9, "{dry}");
    assert_eq!(
        t.read("sys/kernel/mm/transparent_hugepage/enabled"),
        "[always] madvise never\n"
    );
    let out = run_script(&t, &["--cores", "2-3", "--apply"]);
    assert_eq!(out.matches("applied: ").count(), 9, "{out}");
    assert_eq!(
        t.read("sys/kernel/mm/transparent_hugepage/enabled"),
        "madvise\n"
    );
    assert_eq!(t.read("proc/irq/17/smp_affinity_list"), "0-1\n");
    assert_eq!(
        t.read("sys/devices/system/cpu/cpu2/cpuidle/state2/disable"),
        "1\n"
    );
}
