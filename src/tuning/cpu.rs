//! The x86 features this binary was compiled for (`-C target-cpu` / `-C target-feature`, e.g.
//! the tuned build `cargo tuned ...` of tuning/README.md) against those the running CPU offers.
//! A binary compiled for AVX2 dies of SIGILL at its first AVX2 instruction on a CPU without it;
//! [`refuse_missing`] at the top of `main` names the missing features and exits instead.
//!
//! Presence is read with CPUID (and XGETBV for the register state the OS saves), not with
//! `is_x86_feature_detected!`: that macro answers `true` without looking for every feature the
//! crate was compiled with. It reaches the message on a CPU with AVX but not AVX2 (Sandy / Ivy
//! Bridge: checked under `qemu-x86_64 -cpu SandyBridge`); a CPU without AVX at all faults
//! earlier, in the C `main` rustc generates (compiled with VEX moves, before Rust's `main`).

/// Where CPUID reports one feature: `leaf`, output register, bit; `xcr0`: the XCR0 state bits
/// the OS must have enabled for it to be usable (0b110 = SSE + AVX state, 0xe6 adds AVX-512).
#[derive(Clone, Copy, Debug)]
pub struct Feature {
    /// The name as `-C target-feature` and `is_x86_feature_detected!` spell it.
    pub name: &'static str,
    /// Compiled into this build (`cfg!(target_feature = name)`).
    pub compiled: bool,
    leaf: u32,
    reg: Reg,
    bit: u8,
    xcr0: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reg {
    Ebx,
    Ecx,
}

macro_rules! features {
    ($(($name:literal, $leaf:literal, $reg:ident, $bit:literal, $xcr0:literal)),* $(,)?) => {
        /// x86-64-v2, -v3 and -v4 features plus the crypto ones a `target-cpu` may enable,
        /// with their CPUID location (Intel SDM Vol. 2A, CPUID; leaf 7 is subleaf 0).
        pub const FEATURES: &[Feature] = &[$(Feature {
            name: $name,
            compiled: cfg!(target_feature = $name),
            leaf: $leaf,
            reg: Reg::$reg,
            bit: $bit,
            xcr0: $xcr0,
        }),*];
    };
}

features![
    ("sse3", 1, Ecx, 0, 0),
    ("pclmulqdq", 1, Ecx, 1, 0),
    ("ssse3", 1, Ecx, 9, 0),
    ("fma", 1, Ecx, 12, 0b110),
    ("cmpxchg16b", 1, Ecx, 13, 0),
    ("sse4.1", 1, Ecx, 19, 0),
    ("sse4.2", 1, Ecx, 20, 0),
    ("movbe", 1, Ecx, 22, 0),
    ("popcnt", 1, Ecx, 23, 0),
    ("aes", 1, Ecx, 25, 0),
    ("xsave", 1, Ecx, 26, 0),
    ("avx", 1, Ecx, 28, 0b110),
    ("f16c", 1, Ecx, 29, 0b110),
    ("rdrand", 1, Ecx, 30, 0),
    ("bmi1", 7, Ebx, 3, 0),
    ("avx2", 7, Ebx, 5, 0b110),
    ("bmi2", 7, Ebx, 8, 0),
    ("avx512f", 7, Ebx, 16, 0xe6),
    ("avx512dq", 7, Ebx, 17, 0xe6),
    ("rdseed", 7, Ebx, 18, 0),
    ("adx", 7, Ebx, 19, 0),
    ("avx512cd", 7, Ebx, 28, 0xe6),
    ("sha", 7, Ebx, 29, 0),
    ("avx512bw", 7, Ebx, 30, 0xe6),
    ("avx512vl", 7, Ebx, 31, 0xe6),
    ("lzcnt", 0x8000_0001, Ecx, 5, 0),
];

/// The CPUID words [`FEATURES`] are read from, and XCR0 (0 when the OS has not enabled XSAVE).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuWords {
    /// Leaf 1 ECX.
    pub l1_ecx: u32,
    /// Leaf 7 subleaf 0 EBX (0 when the CPU has no leaf 7).
    pub l7_ebx: u32,
    /// Leaf 0x8000_0001 ECX (0 when absent).
    pub ext1_ecx: u32,
    /// XCR0: the register state the OS saves on a context switch.
    pub xcr0: u64,
}

impl CpuWords {
    /// Reads this CPU's words.
    #[cfg(target_arch = "x86_64")]
    pub fn read() -> Self {
        use core::arch::x86_64::__cpuid_count;
        let max = __cpuid_count(0, 0).eax;
        let max_ext = __cpuid_count(0x8000_0000, 0).eax;
        let l1_ecx = __cpuid_count(1, 0).ecx;
        const OSXSAVE: u32 = 1 << 27;
        let xcr0 = if l1_ecx & OSXSAVE != 0 {
            // SAFETY: XGETBV exists and XCR0 is readable when CPUID.1:ECX.OSXSAVE[27] = 1 (the
            // OS has set CR4.OSXSAVE; Intel SDM Vol. 2C, XGETBV), checked just above.
            unsafe { xcr0() }
        } else {
            0
        };
        Self {
            l1_ecx,
            l7_ebx: if max >= 7 { __cpuid_count(7, 0).ebx } else { 0 },
            ext1_ecx: if max_ext >= 0x8000_0001 {
                __cpuid_count(0x8000_0001, 0).ecx
            } else {
                0
            },
            xcr0,
        }
    }

    /// Whether `f` is present and its register state enabled by the OS.
    pub fn has(&self, f: &Feature) -> bool {
        let word = match (f.leaf, f.reg) {
            (1, Reg::Ecx) => self.l1_ecx,
            (7, Reg::Ebx) => self.l7_ebx,
            (0x8000_0001, Reg::Ecx) => self.ext1_ecx,
            _ => 0,
        };
        word & (1 << f.bit) != 0 && self.xcr0 & f.xcr0 == f.xcr0
    }
}

/// XCR0 via XGETBV.
///
/// # Safety
/// The CPU must support XGETBV with XCR0 enabled: CPUID.1:ECX.OSXSAVE[27] = 1.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "xsave")]
unsafe fn xcr0() -> u64 {
    // SAFETY: the caller's contract (OSXSAVE set) is XGETBV's; XCR0 (index 0) always exists.
    unsafe { core::arch::x86_64::_xgetbv(0) }
}

/// The features compiled into this build that `cpu` lacks, in [`FEATURES`] order.
pub fn missing(cpu: CpuWords) -> impl Iterator<Item = &'static str> {
    FEATURES
        .iter()
        .filter(move |f| f.compiled && !cpu.has(f))
        .map(|f| f.name)
}

/// Exits with status 2 and one line naming the missing features when this CPU lacks one this
/// build was compiled for; returns otherwise. Call first in `main`.
#[cfg(target_arch = "x86_64")]
pub fn refuse_missing() {
    use std::io::Write;
    let cpu = CpuWords::read();
    if missing(cpu).next().is_none() {
        return;
    }
    let mut err = std::io::stderr().lock();
    // Write errors are ignored: the exit status still says it.
    let _ = err.write_all(b"error: this binary was built for CPU features this CPU lacks:");
    for name in missing(cpu) {
        let _ = err.write_all(b" ");
        let _ = err.write_all(name.as_bytes());
    }
    let _ = err.write_all(
        b"\n(a tuned build, `cargo tuned ...`: rebuild without it for this machine; see tuning/README.md)\n",
    );
    let _ = err.flush();
    std::process::exit(2);
}

/// Nothing to check off x86_64.
#[cfg(not(target_arch = "x86_64"))]
pub fn refuse_missing() {}

#[cfg(all(test, target_arch = "x86_64"))]
mod tests {
    use super::*;

    #[test]
    fn cpuid_decoding_agrees_with_std_for_every_feature_std_detects_at_run_time() {
        // `is_x86_feature_detected!` reads CPUID itself, except for features compiled in (it
        // answers `true` for those): compare the others, and require the compiled ones present
        // (this process is running, so the CPU has them).
        let cpu = CpuWords::read();
        let mut compared = 0;
        for f in FEATURES {
            let std_says = match f.name {
                "sse3" => std::is_x86_feature_detected!("sse3"),
                "pclmulqdq" => std::is_x86_feature_detected!("pclmulqdq"),
                "ssse3" => std::is_x86_feature_detected!("ssse3"),
                "fma" => std::is_x86_feature_detected!("fma"),
                "cmpxchg16b" => std::is_x86_feature_detected!("cmpxchg16b"),
                "sse4.1" => std::is_x86_feature_detected!("sse4.1"),
                "sse4.2" => std::is_x86_feature_detected!("sse4.2"),
                "movbe" => std::is_x86_feature_detected!("movbe"),
                "popcnt" => std::is_x86_feature_detected!("popcnt"),
                "aes" => std::is_x86_feature_detected!("aes"),
                "xsave" => std::is_x86_feature_detected!("xsave"),
                "avx" => std::is_x86_feature_detected!("avx"),
                "f16c" => std::is_x86_feature_detected!("f16c"),
                "rdrand" => std::is_x86_feature_detected!("rdrand"),
                "bmi1" => std::is_x86_feature_detected!("bmi1"),
                "avx2" => std::is_x86_feature_detected!("avx2"),
                "bmi2" => std::is_x86_feature_detected!("bmi2"),
                "avx512f" => std::is_x86_feature_detected!("avx512f"),
                "avx512dq" => std::is_x86_feature_detected!("avx512dq"),
                "rdseed" => std::is_x86_feature_detected!("rdseed"),
                "adx" => std::is_x86_feature_detected!("adx"),
                "avx512cd" => std::is_x86_feature_detected!("avx512cd"),
                "sha" => std::is_x86_feature_detected!("sha"),
                "avx512bw" => std::is_x86_feature_detected!("avx512bw"),
                "avx512vl" => std::is_x86_feature_detected!("avx512vl"),
                "lzcnt" => std::is_x86_feature_detected!("lzcnt"),
                other => panic!("feature {other} missing from this test"),
            };
            if f.compiled {
                assert!(cpu.has(f), "{} compiled in but not found", f.name);
            } else {
                assert_eq!(cpu.has(f), std_says, "{}", f.name);
                compared += 1;
            }
        }
        // The portable build compiles none of them in: all were compared there.
        if FEATURES.iter().all(|f| !f.compiled) {
            assert_eq!(compared, FEATURES.len());
        }
        assert_eq!(missing(cpu).count(), 0);
    }

    #[test]
    fn a_cpu_without_avx_state_lacks_every_avx_feature_a_tuned_build_needs() {
        // A CPU reporting AVX2/FMA/... in CPUID whose OS saves no YMM state (XCR0 = SSE only)
        // cannot run them; one whose words are all zero has none of the features.
        let all = CpuWords {
            l1_ecx: u32::MAX,
            l7_ebx: u32::MAX,
            ext1_ecx: u32::MAX,
            xcr0: 0b11,
        };
        let named = |n: &str| FEATURES.iter().find(|f| f.name == n).unwrap();
        for n in ["avx", "avx2", "fma", "f16c", "avx512f"] {
            assert!(!all.has(named(n)), "{n}");
        }
        for n in ["bmi2", "lzcnt", "movbe", "pclmulqdq", "sse4.2"] {
            assert!(all.has(named(n)), "{n}");
        }
        let with_ymm = CpuWords { xcr0: 0b111, ..all };
        assert!(with_ymm.has(named("avx2")) && !with_ymm.has(named("avx512f")));
        let none = CpuWords::default();
        assert!(FEATURES.iter().all(|f| !none.has(f)));
        let compiled: Vec<_> = FEATURES
            .iter()
            .filter(|f| f.compiled)
            .map(|f| f.name)
            .collect();
        assert_eq!(missing(none).collect::<Vec<_>>(), compiled);
    }

    #[test]
    fn bits_match_the_documented_cpuid_layout() {
        // Intel SDM Vol. 2A, CPUID: leaf 1 ECX bit 28 AVX, bit 1 PCLMULQDQ; leaf 7 EBX bit 5
        // AVX2, bit 8 BMI2; leaf 0x80000001 ECX bit 5 LZCNT (ABM).
        let only = |l1_ecx, l7_ebx, ext1_ecx| CpuWords {
            l1_ecx,
            l7_ebx,
            ext1_ecx,
            xcr0: 0xe7,
        };
        let present = |w: CpuWords| -> Vec<&str> {
            FEATURES
                .iter()
                .filter(|f| w.has(f))
                .map(|f| f.name)
                .collect()
        };
        assert_eq!(present(only(1 << 28, 0, 0)), ["avx"]);
        assert_eq!(present(only(1 << 1, 0, 0)), ["pclmulqdq"]);
        assert_eq!(present(only(0, 1 << 5, 0)), ["avx2"]);
        assert_eq!(present(only(0, 1 << 8, 0)), ["bmi2"]);
        assert_eq!(present(only(0, 0, 1 << 5)), ["lzcnt"]);
    }
}
