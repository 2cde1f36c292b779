//! The regular expressions of `--exclude`: the common part of Go's syntax (RE2), matched as Go's
//! `MatchString` matches, anywhere in the text, in time linear in its length.
//!
//! Literals and escaped punctuation, `.`, classes (`[a-z_]`, `[^/]`, `\d \w \s` and their
//! negations), `^` and `$` (the start and the end of the text), groups (`(...)`, `(?:...)`,
//! `(?P<name>...)`), alternation, and the repetitions `* + ? {n} {n,} {n,m}` (lazy forms too: for
//! whether a text matches they are the same). Anything else (flags, `\b`, Unicode classes, POSIX
//! classes) is refused with a message that names it, never matched some other way.

/// A compiled expression.
#[derive(Debug)]
pub struct Regex {
    program: Vec<Inst>,
}

/// One instruction of the matching automaton (Thompson's construction).
#[derive(Debug, Clone)]
enum Inst {
    /// One character in these ranges (or, negated, not in them).
    Class(Vec<(char, char)>, bool),
    /// The start, or the end, of the text.
    Start,
    End,
    /// Go on at both.
    Split(usize, usize),
    Jump(usize),
    Match,
}

/// A parsed expression.
#[derive(Debug, Clone)]
enum Node {
    Class(Vec<(char, char)>, bool),
    Start,
    End,
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
}

/// Go's limit on a counted repetition.
const MAX_REPEAT: u32 = 1000;
/// The deepest nesting of groups taken (Go takes 1000; parsing and compiling recurse once a
/// level, and no path pattern needs more than a few).
const MAX_NESTING: usize = 100;
/// The longest program built, whatever the repetitions multiply to.
const MAX_PROGRAM: usize = 100_000;

const DIGIT: &[(char, char)] = &[('0', '9')];
const WORD: &[(char, char)] = &[('0', '9'), ('A', 'Z'), ('_', '_'), ('a', 'z')];
const SPACE: &[(char, char)] = &[('\t', '\n'), ('\x0c', '\r'), (' ', ' ')];

impl Regex {
    /// Compiles `pattern`.
    ///
    /// # Errors
    /// A text naming what is wrong or not supported, and where.
    pub fn new(pattern: &str) -> Result<Regex, String> {
        let mut parser = Parser {
            chars: pattern.chars().collect(),
            at: 0,
            depth: 0,
        };
        let node = parser.alternation()?;
        if parser.at < parser.chars.len() {
            return Err(format!("unexpected ) at offset {}", parser.at));
        }
        let mut program = Vec::new();
        compile(&node, &mut program)?;
        program.push(Inst::Match);
        Ok(Regex { program })
    }

    /// Whether the expression matches somewhere in `text`.
    pub fn is_match(&self, text: &str) -> bool {
        let n = self.program.len();
        let (mut current, mut next) = (Threads::new(n), Threads::new(n));
        let chars: Vec<char> = text.chars().collect();
        for at in 0..=chars.len() {
            // A match may start anywhere.
            self.add(&mut current, 0, at, chars.len());
            if current.has(self.program.len() - 1) {
                return true;
            }
            let Some(&c) = chars.get(at) else { break };
            next.clear();
            for i in 0..current.list.len() {
                let pc = current.list[i];
                if let Inst::Class(ranges, negated) = &self.program[pc] {
                    if in_class(ranges, c) != *negated {
                        self.add(&mut next, pc + 1, at + 1, chars.len());
                    }
                }
            }
            std::mem::swap(&mut current, &mut next);
        }
        current.has(self.program.len() - 1)
    }

    /// Adds the thread at `pc` and everything it reaches without reading, at position `at`.
    fn add(&self, threads: &mut Threads, pc: usize, at: usize, len: usize) {
        let mut stack = vec![pc];
        while let Some(pc) = stack.pop() {
            if !threads.insert(pc) {
                continue;
            }
            match &self.program[pc] {
                Inst::Split(a, b) => stack.extend([*b, *a]),
                Inst::Jump(to) => stack.push(*to),
                Inst::Start if at == 0 => stack.push(pc + 1),
                Inst::End if at == len => stack.push(pc + 1),
                _ => {}
            }
        }
    }
}

/// A set of program counters, in the order added.
struct Threads {
    list: Vec<usize>,
    seen: Vec<bool>,
}

impl Threads {
    fn new(n: usize) -> Threads {
        Threads {
            list: Vec::with_capacity(n),
            seen: vec![false; n],
        }
    }

    fn insert(&mut self, pc: usize) -> bool {
        let new = !self.seen[pc];
        if new {
            self.seen[pc] = true;
            self.list.push(pc);
        }
        new
    }

    fn has(&self, pc: usize) -> bool {
        self.seen[pc]
    }

    fn clear(&mut self) {
        for &pc in &self.list {
            self.seen[pc] = false;
        }
        self.list.clear();
    }
}

/// The one character an escape stands for (`\.`, `\t`), if it stands for one.
fn single(node: &Node) -> Option<char> {
    match node {
        Node::Class(r, false) if r.len() == 1 && r[0].0 == r[0].1 => Some(r[0].0),
        _ => None,
    }
}

fn in_class(ranges: &[(char, char)], c: char) -> bool {
    ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi)
}

fn compile(node: &Node, out: &mut Vec<Inst>) -> Result<(), String> {
    if out.len() > MAX_PROGRAM {
        return Err("the expression is too large".into());
    }
    match node {
        Node::Class(ranges, negated) => out.push(Inst::Class(ranges.clone(), *negated)),
        Node::Start => out.push(Inst::Start),
        Node::End => out.push(Inst::End),
        Node::Concat(nodes) => {
            for n in nodes {
                compile(n, out)?;
            }
        }
        Node::Alt(nodes) => {
            // split L1, next; L1: a; jump end; next: split L2, ...; last; end:
            let mut jumps = Vec::new();
            for (i, n) in nodes.iter().enumerate() {
                if i + 1 < nodes.len() {
                    let split = out.len();
                    out.push(Inst::Split(split + 1, 0));
                    compile(n, out)?;
                    jumps.push(out.len());
                    out.push(Inst::Jump(0));
                    let next = out.len();
                    out[split] = Inst::Split(split + 1, next);
                } else {
                    compile(n, out)?;
                }
            }
            let end = out.len();
            for j in jumps {
                out[j] = Inst::Jump(end);
            }
        }
        Node::Repeat(inner, min, max) => {
            for _ in 0..*min {
                compile(inner, out)?;
            }
            match max {
                None => {
                    // loop: split body, end; body; jump loop
                    let split = out.len();
                    out.push(Inst::Split(split + 1, 0));
                    compile(inner, out)?;
                    out.push(Inst::Jump(split));
                    out[split] = Inst::Split(split + 1, out.len());
                }
                Some(max) => {
                    let mut splits = Vec::new();
                    for _ in *min..*max {
                        splits.push(out.len());
                        out.push(Inst::Split(out.len() + 1, 0));
                        compile(inner, out)?;
                    }
                    let end = out.len();
                    for s in splits {
                        out[s] = Inst::Split(s + 1, end);
                    }
                }
            }
        }
    }
    Ok(())
}

struct Parser {
    chars: Vec<char>,
    at: usize,
    /// How many groups the cursor is in.
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        self.at += usize::from(c.is_some());
        c
    }

    fn eat(&mut self, s: &str) -> bool {
        let found = s
            .chars()
            .enumerate()
            .all(|(i, c)| self.chars.get(self.at + i) == Some(&c));
        if found {
            self.at += s.chars().count();
        }
        found
    }

    fn unsupported(&self, what: &str) -> String {
        format!("{what} (at offset {}) is not supported", self.at)
    }

    fn alternation(&mut self) -> Result<Node, String> {
        let mut branches = vec![self.concatenation()?];
        while self.eat("|") {
            branches.push(self.concatenation()?);
        }
        Ok(if branches.len() == 1 {
            branches.remove(0)
        } else {
            Node::Alt(branches)
        })
    }

    fn concatenation(&mut self) -> Result<Node, String> {
        let mut nodes = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            nodes.push(self.repetitions(atom)?);
        }
        Ok(Node::Concat(nodes))
    }

    fn repetitions(&mut self, mut atom: Node) -> Result<Node, String> {
        loop {
            let (min, max) = match self.peek() {
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('?') => (0, Some(1)),
                Some('{') => match self.counted()? {
                    Some(bounds) => bounds,
                    None => return Ok(atom),
                },
                _ => return Ok(atom),
            };
            // Past the operator (or the `}` of a counted one).
            self.at += 1;
            if matches!(atom, Node::Repeat(..)) && !self.eat("?") {
                return Err(format!(
                    "invalid nested repetition operator at offset {}",
                    self.at
                ));
            }
            self.eat("?");
            atom = Node::Repeat(Box::new(atom), min, max);
        }
    }

    /// `{n}`, `{n,}` or `{n,m}` at the cursor (left on its `}`); `None`, cursor unmoved, when
    /// the `{` starts no repetition (it is then a literal, as in Go).
    fn counted(&mut self) -> Result<Option<(u32, Option<u32>)>, String> {
        let start = self.at;
        let rest: String = self.chars[start + 1..].iter().collect();
        let Some(close) = rest.find('}') else {
            return Ok(None);
        };
        let body = &rest[..close];
        let number = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u32>().ok())
                .flatten()
        };
        let bounds = match body.split_once(',') {
            None => number(body).map(|n| (n, Some(n))),
            Some((lo, "")) => number(lo).map(|n| (n, None)),
            Some((lo, hi)) => number(lo).zip(number(hi)).map(|(a, b)| (a, Some(b))),
        };
        let Some((min, max)) = bounds else {
            return Ok(None);
        };
        if min > MAX_REPEAT || max.is_some_and(|m| m > MAX_REPEAT || m < min) {
            return Err(format!("invalid repeat count {{{body}}}"));
        }
        self.at = start + 1 + body.chars().count();
        Ok(Some((min, max)))
    }

    fn atom(&mut self) -> Result<Node, String> {
        let Some(c) = self.next() else {
            return Err("unexpected end of the expression".into());
        };
        Ok(match c {
            '.' => Node::Class(vec![('\n', '\n')], true),
            '^' => Node::Start,
            '$' => Node::End,
            '(' => {
                if self.eat("?P<") {
                    if !self.group_name() {
                        return Err("missing > after a group's name".into());
                    }
                } else if !self.eat("?:") && self.peek() == Some('?') {
                    return Err(self.unsupported("a group with flags"));
                }
                self.depth += 1;
                if self.depth > MAX_NESTING {
                    return Err("the expression nests too deeply".into());
                }
                let inner = self.alternation()?;
                self.depth -= 1;
                if !self.eat(")") {
                    return Err("missing closing )".into());
                }
                // A group of its own: `(a*)*` repeats a group, not a repetition.
                Node::Concat(vec![inner])
            }
            '[' => self.class()?,
            '\\' => self.escape(false)?,
            '*' | '+' | '?' => return Err(format!("missing argument to repetition operator {c}")),
            c => Node::Class(vec![(c, c)], false),
        })
    }

    /// Skips a group's name and its `>`.
    fn group_name(&mut self) -> bool {
        while let Some(c) = self.next() {
            if c == '>' {
                return true;
            }
        }
        false
    }

    /// The character class after a `[`.
    fn class(&mut self) -> Result<Node, String> {
        let negated = self.eat("^");
        let mut ranges = Vec::new();
        let mut first = true;
        loop {
            let c = self.next().ok_or("missing closing ]")?;
            if c == ']' && !first {
                break;
            }
            first = false;
            if c == '[' && self.peek() == Some(':') {
                return Err(self.unsupported("a POSIX class"));
            }
            let lo = match c {
                '\\' => {
                    let escaped = self.escape(true)?;
                    match (single(&escaped), escaped) {
                        (Some(c), _) => c,
                        (None, Node::Class(r, false)) => {
                            ranges.extend(r);
                            continue;
                        }
                        _ => return Err(self.unsupported("a negated class inside a class")),
                    }
                }
                c => c,
            };
            if self.peek() == Some('-') && self.chars.get(self.at + 1).is_some_and(|&c| c != ']') {
                self.at += 1;
                let hi = match self.next() {
                    Some('\\') => {
                        single(&self.escape(true)?).ok_or("invalid character class range")?
                    }
                    Some(c) => c,
                    None => return Err("missing closing ]".into()),
                };
                if hi < lo {
                    return Err(format!("invalid character class range {lo}-{hi}"));
                }
                ranges.push((lo, hi));
            } else {
                ranges.push((lo, lo));
            }
        }
        Ok(Node::Class(ranges, negated))
    }

    /// The escape after a `\`.
    fn escape(&mut self, in_class: bool) -> Result<Node, String> {
        let c = self
            .next()
            .ok_or("trailing backslash at end of expression")?;
        let class = |r: &[(char, char)], negated| Node::Class(r.to_vec(), negated);
        Ok(match c {
            'd' => class(DIGIT, false),
            'D' if !in_class => class(DIGIT, true),
            'w' => class(WORD, false),
            'W' if !in_class => class(WORD, true),
            's' => class(SPACE, false),
            'S' if !in_class => class(SPACE, true),
            't' => class(&[('\t', '\t')], false),
            'n' => class(&[('\n', '\n')], false),
            'r' => class(&[('\r', '\r')], false),
            'f' => class(&[('\x0c', '\x0c')], false),
            'v' => class(&[('\x0b', '\x0b')], false),
            'A' if !in_class => Node::Start,
            'z' if !in_class => Node::End,
            c if c.is_ascii_punctuation() => class(&[(c, c)], false),
            c => {
                self.at -= 1;
                return Err(self.unsupported(&format!("the escape \\{c}")));
            }
        })
    }
}

#[cfg(test)]
mod tests {
    //! Matches and refusals, as Go's `regexp.MatchString` gives them.

    use super::*;

    fn matches(pattern: &str, text: &str) -> bool {
        Regex::new(pattern).unwrap().is_match(text)
    }

    #[test]
    fn the_references_default_and_common_patterns() {
        let git = r"(^|/)\.git(/|$)";
        for (text, excluded) in [
            (".git", true),
            (".git/config", true),
            ("a/.git", true),
            ("a/.git/x", true),
            (".gitignore", false),
            ("x.git", false),
            ("a/b.txt", false),
        ] {
            assert_eq!(matches(git, text), excluded, "{text}");
        }
        assert!(matches(r"\.log$", "logs/app.log"));
        assert!(!matches(r"\.log$", "app.log.gz"));
        assert!(matches("^node_modules/", "node_modules/x/y.js"));
        assert!(!matches("^node_modules/", "web/node_modules/x"));
        assert!(matches("(^|/)(target|build)(/|$)", "svc/build/out.o"));
        assert!(!matches("(^|/)(target|build)(/|$)", "svc/builder/x"));
        assert!(matches(r"\.(jpe?g|png)$", "img/a.jpeg"));
        assert!(matches(r"[^/]+\.tmp$", "a/b.tmp"));
        assert!(!matches(r"^[^/]+\.tmp$", "a/b.tmp"));
        assert!(matches(r"^\d{4}-\d{2}$", "2024-06"));
        assert!(!matches(r"^\d{4}-\d{2}$", "2024-6"));
        assert!(matches(r"^a{2,}$", "aaa") && !matches(r"^a{2,3}$", "aaaa"));
        assert!(matches(r"^\w+\s\S$", "ab_9 x"));
        assert!(matches(r"(?:ab)+?c", "xababc"));
        assert!(matches(r"(?P<dir>src)/", "src/main.rs"));
        assert!(
            matches("a{,2}", "a{,2}"),
            "a {{ that starts no repetition is itself"
        );
        assert!(matches(".", "x") && !matches("^.$", "\n"));
        assert!(matches("", "anything") && matches("", ""));
        assert!(matches("é", "café") && matches("^caf.$", "café"));
        assert!(matches(r"[a\-z]", "-") && matches("[]a]", "]"));
    }

    #[test]
    fn what_it_does_not_take_is_refused_with_a_reason() {
        for (pattern, says) in [
            ("(?i)abc", "flags"),
            (r"\bword", r"\b"),
            (r"\pL", r"\p"),
            ("[[:alpha:]]", "POSIX"),
            ("(ab", "missing closing )"),
            ("ab)", "unexpected )"),
            ("[ab", "missing closing ]"),
            ("*a", "missing argument"),
            ("a**", "nested repetition"),
            ("a{1001}", "repeat count"),
            ("a{3,2}", "repeat count"),
            ("[z-a]", "range"),
            ("ab\\", "trailing backslash"),
            (r"[a-\d]", "invalid character class range"),
            (r"[\D]", r"the escape \D"),
        ] {
            let e = Regex::new(pattern).unwrap_err();
            assert!(e.contains(says), "{pattern}: {e}");
        }
    }

    #[test]
    fn escapes_inside_classes() {
        assert!(matches(r"^[\.-]+$", ".-.") && !matches(r"^[\.-]+$", "a"));
        assert!(matches(r"^[\d_]+$", "1_2") && !matches(r"^[\d_]+$", "1a"));
        assert!(matches(r"^[\t-\r]$", "\n") && !matches(r"^[\t-\r]$", " "));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("{}a{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(Regex::new(&deep).unwrap_err().contains("nests too deeply"));
        let fine = format!("{}a{}", "(".repeat(MAX_NESTING), ")".repeat(MAX_NESTING));
        assert!(Regex::new(&fine).unwrap().is_match("xa"));
    }

    #[test]
    fn long_texts_and_nested_repetitions_take_linear_time() {
        let text = "a".repeat(20_000);
        assert!(!matches("(a*)*b", &text));
        assert!(!matches("(a|aa)*c", &text));
        assert!(matches("(x+x+)+y|a$", &text));
    }
}
