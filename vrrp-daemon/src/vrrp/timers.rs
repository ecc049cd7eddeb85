//! keepalived's timer formulas (KEEPALIVED.md §2.1; `include/vrrp.h`).
//!
//! VRRPv2's skew time does not depend on the advert interval; VRRPv3's scales with the
//! Master_Adver_Interval learned from the master (RFC 5798 §6.1). Mixing them up makes mixed
//! keepalived / vrrp-daemon clusters disagree on who takes over first.
use crate::units::Centiseconds;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Skew_Time in nanoseconds for a router of `priority`.
///
/// v2: `(256 - priority) / 256` s. v3: `(256 - priority) * master_adver_int / 256`.
pub fn skew_nanos(version: u8, priority: u8, master_adver_int: Centiseconds) -> u64 {
    let weight = 256 - u64::from(priority);
    if version == 2 {
        weight * NANOS_PER_SEC / 256
    } else {
        weight * master_adver_int.as_nanos() / 256
    }
}

/// Master_Down_Interval in nanoseconds: `adverts × Master_Adver_Interval + Skew_Time`.
pub fn master_down_nanos(
    version: u8,
    priority: u8,
    master_adver_int: Centiseconds,
    down_timer_adverts: u32,
) -> u64 {
    u64::from(down_timer_adverts) * master_adver_int.as_nanos()
        + skew_nanos(version, priority, master_adver_int)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn keepalived_examples() {
        // KEEPALIVED.md §2.1: v2 1 s prio 100 → 3.609375 s.
        assert_eq!(
            master_down_nanos(2, 100, Centiseconds(100), 3),
            3_609_375_000
        );
        // v3 0.1 s prio 100 → 0.3609375 s; 0.05 s → 0.18046875 s.
        assert_eq!(master_down_nanos(3, 100, Centiseconds(10), 3), 360_937_500);
        assert_eq!(master_down_nanos(3, 100, Centiseconds(5), 3), 180_468_750);
        // v3 0.01 s → ~36 ms.
        assert_eq!(master_down_nanos(3, 100, Centiseconds(1), 3) / MS, 36);
    }

    #[test]
    fn v2_skew_ignores_the_interval_v3_skew_scales_with_it() {
        assert_eq!(
            skew_nanos(2, 90, Centiseconds(100)),
            skew_nanos(2, 90, Centiseconds(300))
        );
        assert_eq!(
            skew_nanos(3, 90, Centiseconds(200)),
            2 * skew_nanos(3, 90, Centiseconds(100))
        );
        // (256-255)/256 s is the shortest skew; priority 1 the longest.
        assert_eq!(skew_nanos(2, 255, Centiseconds(100)), 3_906_250);
        assert_eq!(skew_nanos(2, 1, Centiseconds(100)), 996_093_750);
    }

    #[test]
    fn down_timer_adverts_multiplies_the_interval() {
        let three = master_down_nanos(3, 100, Centiseconds(100), 3);
        let five = master_down_nanos(3, 100, Centiseconds(100), 5);
        assert_eq!(five - three, 2 * Centiseconds(100).as_nanos());
    }
}
