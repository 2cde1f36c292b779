//! User ID ranges (`user::parse_range`, `parse_range_list`, `is_user_allowed`): no panic; a
//! parsed range or list prints to a string that parses back to it; membership agrees with the
//! bounds.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s2i_docker::user::{is_user_allowed, parse_range, parse_range_list};

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let (value, user) = s.split_once('\n').unwrap_or((&s, "1001"));
    if let Ok(r) = parse_range(value) {
        let shown = r.to_string();
        assert_eq!(
            parse_range(&shown).ok(),
            Some(r),
            "{value:?} shown as {shown:?}"
        );
        for probe in [r.from(), r.to()].into_iter().flatten() {
            assert!(r.contains(probe) && probe >= 0);
        }
    }
    if let Ok(list) = parse_range_list(value) {
        let shown = list.to_string();
        let again = parse_range_list(&shown);
        // A list of one empty range (`-`, ` `) prints as `-`, not as `""` (the list of none):
        // regressions/uid_ranges/list-of-one-empty-range.
        assert_eq!(
            again.as_ref().ok(),
            Some(&list),
            "{value:?} shown as {shown:?}"
        );
        let allowed = is_user_allowed(user, &list);
        if list.is_empty() {
            assert!(allowed);
        }
        if let Ok(uid) = user.parse::<i64>() {
            assert_eq!(
                allowed,
                list.is_empty() || list.contains(uid),
                "{user:?} in {shown:?}"
            );
        }
    }
});
