//! `ImageInspect::from_json` (a one-pass reader with serde_json behind it): no panic, and the
//! same answer as `serde_json::from_slice` for every input, the same model or an error for both.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s2i_docker::ops::models::ImageInspect;

fuzz_target!(|data: &[u8]| {
    let ours = ImageInspect::from_json(data);
    let theirs = serde_json::from_slice::<ImageInspect>(data);
    match (ours, theirs) {
        (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs),
        (Err(_), Err(_)) => {}
        (ours, theirs) => panic!("from_json gave {ours:?}, serde_json {theirs:?}"),
    }
});
