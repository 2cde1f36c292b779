use super::*;
use crate::ops::models::ImageInspect;

/// A reply of Docker 20.10's `GET /images/{name}/json`, as sent (compact).
const DOCKER: &str = include_str!("docker-image.json");
/// A reply of Podman 4.3's compatible service.
const PODMAN: &str = include_str!("podman-image.json");
/// A reply in the shape of Podman 4.3's, indented, with escapes (Go's `\u0026` for `&`, a
/// surrogate pair, `\/`), text beyond ASCII, and members the model leaves out of every kind
/// (objects in arrays, floats, `null`s).
const SHAPED: &str = include_str!("podman-shaped-image.json");

fn serde(text: &[u8]) -> serde_json::Result<ImageInspect> {
    serde_json::from_slice(text)
}

/// `from_json` answers as serde_json does: the same model, or an error for the same texts.
fn assert_agrees(text: &[u8]) {
    match (ImageInspect::from_json(text), serde(text)) {
        (Ok(ours), Ok(theirs)) => assert_eq!(ours, theirs, "{}", String::from_utf8_lossy(text)),
        (Err(_), Err(_)) => {}
        (ours, theirs) => panic!(
            "{}: from_json gave {ours:?}, serde_json {theirs:?}",
            String::from_utf8_lossy(text)
        ),
    }
}

/// Whether the one-pass reader answered itself (rather than leaving it to serde_json).
fn read_in_one_pass(text: &[u8]) -> bool {
    ImageInspect::read(text).is_some()
}

#[test]
fn real_replies_are_read_in_one_pass_as_serde_reads_them() {
    for text in [DOCKER, PODMAN, SHAPED] {
        assert!(read_in_one_pass(text.as_bytes()), "{text}");
        assert_eq!(
            ImageInspect::read(text.as_bytes()),
            Some(serde(text.as_bytes()).unwrap())
        );
    }
    let image = ImageInspect::read(SHAPED.as_bytes()).unwrap();
    let config = image.config.unwrap();
    assert_eq!(
        config.env.unwrap()[1..],
        ["QUOTE=say \"hi\" & <go>", "UNI=é中😀"]
    );
    assert_eq!(config.cmd.unwrap()[1], "PAIR=😀 / \u{8}\u{c}\r");
    assert_eq!(
        config.labels.unwrap()["io.k8s.description"],
        "Tab\there, newline\nthere"
    );
    assert_eq!(
        config.exposed_ports.unwrap()["8080/tcp"],
        serde_json::json!({})
    );
    assert_eq!(image.size, 4_951_820);
}

/// Texts the reader takes itself.
const TAKEN: &[&str] = &[
    "{}",
    " \t\r\n{ \"Id\" : \"x\" } \n",
    r#"{"RepoTags":null,"RepoDigests":[],"Config":null}"#,
    r#"{"Config":{"Env":null,"Labels":{},"Volumes":null,"ExposedPorts":{"80/tcp":{ }}}}"#,
    r#"{"Config":{"Labels":{"a":"1","a":"2"}}}"#,
    r#"{"Size":-12,"Other":[1,-0,0.5,1e3,2E-7,-1.25e+2,true,false,null,{},[],"s"]}"#,
    r#"{"Size":999999999999999999}"#,
    r#"{"Id":"\u00e9\ud83d\ude00\u0000"}"#,
    r#"{"\u0049d":"named with an escape"}"#,
    r#"{"Skipped":{"Deep":[[[{"a":[{"\u0041\n":"\"\\"}]}]]]}}"#,
];

/// Texts that are not JSON, or not the model: serde_json's errors.
const REFUSED: &[&str] = &[
    "",
    "null",
    "{",
    r#"{"Id":"x"}x"#,
    r#"{"Id":"x",}"#,
    r#"{"Id":"x" "Os":"y"}"#,
    r#"{"Id":1}"#,
    r#"{"Id":null}"#,
    r#"{"Size":"1"}"#,
    r#"{"Size":null}"#,
    r#"{"Id":"a","Id":"b"}"#,
    r#"{"Config":{"User":"a","User":"b"}}"#,
    r#"{"Config":{"Tty":1}}"#,
    r#"{"Config":{"Env":[null]}}"#,
    r#"{"Config":{"Labels":{"a":1}}}"#,
    "{\"Id\":\"tab\tinside\"}",
    r#"{"Id":"\x"}"#,
    r#"{"Id":"\u12"}"#,
    r#"{"Id":"\ud800"}"#,
    r#"{"Id":"\udc00"}"#,
    r#"{"Id":"\ud800\u0041"}"#,
    r#"{"X":01}"#,
    r#"{"X":1.}"#,
    r#"{"X":.5}"#,
    r#"{"X":1e}"#,
    r#"{"X":-}"#,
    r#"{"X":tru}"#,
    r#"{"X":nul}"#,
    r#"{"X":[1,]}"#,
    r#"{"X":{"a" 1}}"#,
    r#"{"X":{1:2}}"#,
    r#"{"X":"\q"}"#,
];

/// JSON the reader does not take itself: serde_json decodes it, or refuses it for the model.
const LEFT: &[&str] = &[
    "[]",
    r#"{"Size":1.0}"#,
    r#"{"Size":1e3}"#,
    r#"{"Size":-0}"#,
    r#"{"Size":1234567890123456789}"#,
    r#"{"Size":99999999999999999999}"#,
    r#"{"Config":["host"]}"#,
    r#"{"Config":{"ExposedPorts":{"80/tcp":{"x":1}}}}"#,
    r#"{"Config":{"Volumes":{"/d":null}}}"#,
];

#[test]
fn what_the_reader_takes_itself() {
    for text in TAKEN {
        assert!(read_in_one_pass(text.as_bytes()), "{text}");
        assert_agrees(text.as_bytes());
    }
}

#[test]
fn what_the_reader_leaves_to_serde() {
    let nested = |depth| format!("{{\"X\":{}{}}}", "[".repeat(depth), "]".repeat(depth));
    let (deep, too_deep) = (nested(100), nested(200));
    let nesting = [deep.as_str(), too_deep.as_str()];
    for text in REFUSED.iter().chain(LEFT).chain(&nesting) {
        assert!(!read_in_one_pass(text.as_bytes()), "{text}");
        assert_agrees(text.as_bytes());
    }
    for text in REFUSED {
        assert!(serde(text.as_bytes()).is_err(), "{text}");
    }
    for text in nesting {
        assert!(serde(text.as_bytes()).is_ok(), "{text}");
    }
    // Bytes that are not UTF-8, in a string the model keeps or one it skips, or outside any.
    for text in [
        &b"{\"Id\":\"\xff\"}"[..],
        b"{\"X\":\"\xff\",\"Id\":\"a\"}",
        b"{\"X\":\"\xc3\",\"Id\":\"a\"}",
        b"{\"X\":\"\xe4\xb8\"}",
        b"{\"X\":\"\xed\xa0\x80\"}",
        b"{\"X\":\"\xc0\xaf\"}",
        b"{\"\xc3\xa9\xff\":1}",
        b"{\"Id\":\"a\"}\xc3\xa9",
    ] {
        assert!(!read_in_one_pass(text), "{text:?}");
        assert_agrees(text);
    }
}

/// The bytes the mutations put in: JSON's structure, the starts of its values, and a few that
/// never belong (a control character, the lead and the continuation byte of a UTF-8 sequence).
const BYTES: &[u8] = b"\"\\{}],:0-n\x01\xc3\xa9";

#[test]
fn every_small_change_to_dockers_reply_is_decoded_as_serde_decodes_it() {
    assert_mutations_agree(DOCKER.as_bytes());
}

#[test]
fn every_small_change_to_podmans_reply_is_decoded_as_serde_decodes_it() {
    assert_mutations_agree(PODMAN.as_bytes());
}

#[test]
fn every_small_change_to_the_podman_shaped_reply_is_decoded_as_serde_decodes_it() {
    assert_mutations_agree(SHAPED.as_bytes());
}

/// Truncations, removals, replacements and insertions of [`BYTES`] at every place of `text`;
/// many of the results are still replies the reader takes itself.
fn assert_mutations_agree(text: &[u8]) {
    let mut mutated = Vec::with_capacity(text.len() + 1);
    let (mut all, mut in_one_pass) = (0, 0);
    // Indentation aside: a change there is a change next to it.
    let places = (0..text.len()).filter(|&at| at == 0 || text[at - 1] != b' ' || text[at] != b' ');
    for at in places {
        let mut check = |edit: &dyn Fn(&mut Vec<u8>)| {
            mutated.clear();
            mutated.extend_from_slice(text);
            edit(&mut mutated);
            assert_agrees(&mutated);
            all += 1;
            in_one_pass += usize::from(read_in_one_pass(&mutated));
        };
        check(&|m| m.truncate(at));
        check(&|m| {
            m.remove(at);
        });
        for &b in BYTES {
            check(&|m| m[at] = b);
            check(&|m| m.insert(at, b));
        }
    }
    assert!(in_one_pass * 4 > all, "{in_one_pass} of {all}");
}

#[test]
fn plain_runs_stop_at_a_quote_backslash_control_character_or_byte_past_ascii() {
    for (bytes, from, end) in [
        (&b""[..], 0, 0),
        (b"abc", 0, 3),
        (b"abc", 3, 3),
        (b"\"", 0, 0),
        (b"abcdefgh\"", 0, 8),
        (b"abcdefghijklmno\\x", 0, 15),
        (b"abcdefg\x1f", 0, 7),
        (b"\x7f\x20!#\xc3\xa9\"", 0, 4),
        (b"0123456\"89abcdef\"", 0, 7),
        (b"0123456\"89abcdef\"", 8, 16),
        (b"\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x00", 0, 8),
    ] {
        assert_eq!(plain_end(bytes, from), end, "{bytes:?} from {from}");
    }
    // Every byte value in every position of a word and of the tail after it.
    for len in 1..20 {
        for at in 0..len {
            for b in 0..=255u8 {
                let mut bytes = vec![b'a'; len];
                bytes[at] = b;
                let stop = b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b);
                let end = if stop { at } else { len };
                assert_eq!(plain_end(&bytes, 0), end, "{bytes:?}");
            }
        }
    }
}

#[test]
fn utf8_widths_are_those_of_whole_characters() {
    for (bytes, width) in [
        (&b"\xc3\xa9"[..], Some(2)),
        (b"\xe4\xb8\xad!", Some(3)),
        (b"\xf0\x9f\x98\x80", Some(4)),
        (b"\xc3", None),
        (b"\xc3!", None),
        (b"\xc0\xaf", None),
        (b"\xed\xa0\x80", None),
        (b"\xf4\x90\x80\x80", None),
        (b"\x80", None),
        (b"\xff", None),
    ] {
        assert_eq!(utf8_width(bytes), width, "{bytes:?}");
    }
}
