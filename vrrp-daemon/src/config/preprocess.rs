//! keepalived's line-level configuration language, applied before tokens are made:
//! conditional lines (`@id` / `@^id`), parameters (`$NAME=value`, multi-line definitions
//! ending in `\`, uses as `$NAME` or `${NAME}`), the pre-defined parameters (`${_PWD}`,
//! `${_INSTANCE}`, `${_RANDOM [MIN [MAX]]}`, `${_HASH}`, `${_BANG}`) and sequence lines
//! (`~SEQ(var, start, step, end)`, `~SEQx` in hexadecimal), as keepalived.conf(5) of
//! keepalived 2.2.7 describes them. One configuration file can then serve every host of a
//! cluster (`vrrp-daemon run -i lb1`), which is why operators write them.
//!
//! Each source line becomes zero or more output lines, each remembering the source line it
//! came from, so that the lexer reports errors at the line the operator wrote. A line that
//! uses none of these features comes out unchanged (columns stay exact); a `@id` prefix is
//! blanked rather than removed for the same reason.
use std::{
    collections::HashMap,
    path::Path,
    sync::atomic::{AtomicU64, Ordering},
};

use super::{Diags, Location};

/// How deep substitutions may nest: a parameter whose value uses itself (directly or not)
/// is an error, not an endless loop.
const MAX_DEPTH: usize = 16;

/// The most lines one `~SEQ` may produce (a typo in its bounds must not eat the memory).
const MAX_SEQ_LINES: i64 = 10_000;

/// The most output lines one source line may expand to, all expansions together.
const MAX_LINES_PER_SOURCE_LINE: usize = 100_000;

/// One line of output.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Line {
    /// Its text, ready for the tokenizer.
    pub(super) text: String,
    /// The source line it comes from (1-based).
    pub(super) source: u32,
    /// The line could not be expanded and an error says so: the parser skips its statement
    /// without piling further messages on it.
    pub(super) reported: bool,
}

/// The state that lives across lines and files: the parameters defined so far, and where a
/// multi-line definition being read has got to.
pub(super) struct Preprocessor {
    config_id: String,
    params: HashMap<String, Vec<String>>,
    /// A multi-line definition still being read: its name, its lines so far, where it began.
    open_definition: Option<(String, Vec<String>, Location)>,
    /// The previous source line ended in `\`: this one continues its statement, so it
    /// cannot start a definition or be conditional.
    continues: bool,
    /// Output lines made for the current source line.
    produced: usize,
    /// The current source line already got its "nests too deep" error.
    too_deep: bool,
}

impl Preprocessor {
    /// A preprocessor for a host whose configuration id is `config_id`.
    pub(super) fn new(config_id: &str) -> Self {
        Self {
            config_id: config_id.to_owned(),
            params: HashMap::new(),
            open_definition: None,
            continues: false,
            produced: 0,
            too_deep: false,
        }
    }

    /// The output lines for source line `number` of `file`, whose text is `text` (without
    /// its newline).
    pub(super) fn line(
        &mut self,
        text: &str,
        number: u32,
        file: &Path,
        diags: &mut Diags,
    ) -> Vec<Line> {
        let text = text.strip_suffix('\r').unwrap_or(text);
        let at = Location {
            file: file.to_path_buf(),
            line: number,
            column: 1,
        };
        let mut out = Vec::new();
        self.produced = 0;
        self.too_deep = false;
        if let Some((name, mut lines, start)) = self.open_definition.take() {
            let content = strip_comment(text).trim().to_owned();
            match content.strip_suffix('\\') {
                Some(more) => {
                    push_nonempty(&mut lines, more);
                    self.open_definition = Some((name, lines, start));
                }
                None => {
                    push_nonempty(&mut lines, &content);
                    self.params.insert(name, lines);
                }
            }
            return out;
        }
        let continuation = std::mem::replace(&mut self.continues, ends_in_backslash(text));
        if continuation {
            self.substitute_into(text, &at, 0, false, diags, &mut out);
        } else {
            self.process(text, &at, 0, diags, &mut out);
        }
        out
    }

    /// Reports a multi-line definition the file ended in the middle of. Called at the end
    /// of each file: a definition does not run on into the next one.
    pub(super) fn end_of_file(&mut self, diags: &mut Diags) {
        self.continues = false;
        if let Some((name, _, start)) = self.open_definition.take() {
            diags.error(
                &start,
                format!(
                    "the multi-line definition of `${name}` is not finished at the end of the \
                     file: its last line still ends in `\\`; remove that `\\`"
                ),
            );
        }
    }

    /// One line at statement start: conditional, definition, sequence, or substitution.
    fn process(
        &mut self,
        text: &str,
        at: &Location,
        depth: usize,
        diags: &mut Diags,
        out: &mut Vec<Line>,
    ) {
        if self.produced >= MAX_LINES_PER_SOURCE_LINE {
            return;
        }
        let indent = text.len() - text.trim_start().len();
        let body = &text[indent..];
        if let Some(cond) = body.strip_prefix('@') {
            let word_len = cond.find(char::is_whitespace).unwrap_or(cond.len());
            let (negated, id) = match cond[..word_len].strip_prefix('^') {
                Some(id) => (true, id),
                None => (false, &cond[..word_len]),
            };
            if (id == self.config_id) == negated {
                return;
            }
            // Blank the prefix instead of removing it, so the columns stay right.
            let blanked = format!("{}{}", " ".repeat(indent + 1 + word_len), &cond[word_len..]);
            return self.process(&blanked, at, depth, diags, out);
        }
        if body.starts_with('$')
            && let Some((name, value)) = definition(body)
        {
            let value = strip_comment(value).trim();
            match value.strip_suffix('\\') {
                Some(first) => {
                    let mut lines = Vec::new();
                    push_nonempty(&mut lines, first);
                    self.open_definition = Some((name.to_owned(), lines, at.clone()));
                    // The lines of the definition do not continue a statement.
                    self.continues = false;
                }
                None => {
                    self.params.insert(name.to_owned(), vec![value.to_owned()]);
                }
            }
            return;
        }
        if body.starts_with("~SEQ") {
            return self.sequence(body, at, depth, diags, out);
        }
        self.substitute_into(text, at, depth, true, diags, out);
    }

    /// `~SEQ(var, [start, [step,]] end) rest`: `rest` once per value of `var`.
    fn sequence(
        &mut self,
        body: &str,
        at: &Location,
        depth: usize,
        diags: &mut Diags,
        out: &mut Vec<Line>,
    ) {
        let parsed = parse_sequence(body);
        let Ok(seq) = parsed else {
            diags.error(at, parsed.err().unwrap_or_default());
            return out.push(reported(body, at));
        };
        let saved = self.params.remove(&seq.var);
        let mut value = seq.start;
        while (seq.step > 0 && value <= seq.end) || (seq.step < 0 && value >= seq.end) {
            let shown = if seq.hex {
                format!("{value:x}")
            } else {
                value.to_string()
            };
            self.params.insert(seq.var.clone(), vec![shown]);
            self.process(&seq.rest, at, depth + 1, diags, out);
            value += seq.step;
        }
        self.params.remove(&seq.var);
        if let Some(saved) = saved {
            self.params.insert(seq.var, saved);
        }
    }

    /// Substitutes the parameters of `text`; lines that changed are processed again (a
    /// value may use parameters, define some, or start with `@id`).
    fn substitute_into(
        &mut self,
        text: &str,
        at: &Location,
        depth: usize,
        reprocess: bool,
        diags: &mut Diags,
        out: &mut Vec<Line>,
    ) {
        if self.produced >= MAX_LINES_PER_SOURCE_LINE {
            return;
        }
        if !text.contains('$') {
            return self.emit(text.to_owned(), at, false, diags, out);
        }
        let Some(lines) = self.substitute(text, at, diags) else {
            return self.emit(text.to_owned(), at, false, diags, out);
        };
        if depth >= MAX_DEPTH {
            if std::mem::replace(&mut self.too_deep, true) {
                return;
            }
            diags.error(
                at,
                format!(
                    "parameter substitution nests more than {MAX_DEPTH} deep on this line: a \
                     parameter's value uses itself; define it without referring to itself"
                ),
            );
            return out.push(reported(text, at));
        }
        for line in lines {
            if reprocess {
                self.process(&line, at, depth + 1, diags, out);
            } else {
                self.substitute_into(&line, at, depth + 1, false, diags, out);
            }
        }
    }

    fn emit(
        &mut self,
        text: String,
        at: &Location,
        reported: bool,
        diags: &mut Diags,
        out: &mut Vec<Line>,
    ) {
        self.produced += 1;
        if self.produced == MAX_LINES_PER_SOURCE_LINE {
            diags.error(
                at,
                format!(
                    "this line expands to more than {MAX_LINES_PER_SOURCE_LINE} lines; check \
                     the bounds of its ~SEQ and the parameters it uses"
                ),
            );
        }
        if self.produced >= MAX_LINES_PER_SOURCE_LINE {
            return;
        }
        out.push(Line {
            text,
            source: at.line,
            reported,
        });
    }

    /// `text` with its defined parameters replaced (one level), as lines (a multi-line
    /// value makes several); `None` when nothing was replaced. Undefined parameters stay as
    /// written (keepalived's rule, so a `$` in an old configuration keeps its meaning),
    /// with a warning when outside quotes, where a typo is the likely cause.
    fn substitute(&self, text: &str, at: &Location, diags: &mut Diags) -> Option<Vec<String>> {
        let chars: Vec<char> = text.chars().collect();
        let mut lines = vec![String::new()];
        let mut changed = false;
        let (mut i, mut quoted) = (0, false);
        while i < chars.len() {
            let c = chars[i];
            match c {
                '"' => quoted = !quoted,
                '#' | '!' if !quoted => {
                    // The rest is a comment: nothing in it is substituted.
                    lines.last_mut()?.extend(&chars[i..]);
                    break;
                }
                '\\' if chars
                    .get(i + 1)
                    .is_some_and(|&n| n == '"' || n == '#' || n == '!') =>
                {
                    lines.last_mut()?.extend(&chars[i..i + 2]);
                    i += 2;
                    continue;
                }
                '$' => {
                    if let Some((reference, len)) = reference_at(&chars[i..]) {
                        let column = u32::try_from(i + 1).unwrap_or(u32::MAX);
                        match self.value_of(&reference, quoted) {
                            Some(value) => {
                                changed = true;
                                let mut value = value.into_iter();
                                if let Some(first) = value.next() {
                                    lines.last_mut()?.push_str(&first);
                                }
                                lines.extend(value);
                                i += len;
                                continue;
                            }
                            None if !quoted && !reference.name.starts_with('_') => {
                                diags.warn(
                                    &Location {
                                        column,
                                        ..at.clone()
                                    },
                                    format!(
                                        "`${}` is not defined, so it stays as written; define \
                                         it before this line with `${}=VALUE` (no space before \
                                         the `=`)",
                                        reference.name, reference.name
                                    ),
                                );
                            }
                            None => {}
                        }
                    }
                }
                _ => {}
            }
            lines.last_mut()?.push(c);
            i += 1;
        }
        changed.then_some(lines)
    }

    /// The lines a reference stands for, or `None` when it is not defined.
    fn value_of(&self, reference: &Reference, quoted: bool) -> Option<Vec<String>> {
        let one = |s: &str| Some(vec![s.to_owned()]);
        match reference.name.as_str() {
            "_PWD" | "_INSTANCE" | "_HASH" | "_BANG" | "_RANDOM"
                if self.params.contains_key(&reference.name) =>
            {
                self.params.get(&reference.name).cloned()
            }
            // Outside quotes the tokenizer would take them for comments: escaped there.
            "_HASH" => one(if quoted { "#" } else { "\\#" }),
            "_BANG" => one(if quoted { "!" } else { "\\!" }),
            "_INSTANCE" => one(&self.config_id),
            "_RANDOM" => {
                let mut bounds = reference.args.split_whitespace().map(str::parse::<u64>);
                let min = bounds.next().and_then(Result::ok).unwrap_or(0);
                let max = bounds.next().and_then(Result::ok).unwrap_or(32767).max(min);
                one(&(min + random() % (max - min + 1)).to_string())
            }
            name => self.params.get(name).cloned(),
        }
    }

    /// Defines `_PWD` for the lines of a file in `dir`.
    pub(super) fn enter_directory(&mut self, dir: &Path) {
        self.params
            .insert("_PWD".to_owned(), vec![dir.to_string_lossy().into_owned()]);
    }

    /// The `_PWD` in force, to restore after an included file.
    pub(super) fn pwd(&self) -> Option<Vec<String>> {
        self.params.get("_PWD").cloned()
    }

    /// Restores `_PWD` after an included file.
    pub(super) fn restore_pwd(&mut self, pwd: Option<Vec<String>>) {
        match pwd {
            Some(p) => self.params.insert("_PWD".to_owned(), p),
            None => self.params.remove("_PWD"),
        };
    }
}

/// A use of a parameter: `$NAME` (followed by whitespace or the end of the line) or
/// `${NAME}`, `${NAME args}` for `_RANDOM`.
struct Reference {
    name: String,
    args: String,
}

/// The reference starting at `chars[0]` (a `$`) and how many characters it spans.
fn reference_at(chars: &[char]) -> Option<(Reference, usize)> {
    let is_name = |c: &char| c.is_ascii_alphanumeric() || *c == '_';
    if chars.get(1) == Some(&'{') {
        let close = chars.iter().position(|&c| c == '}')?;
        let inner: String = chars[2..close].iter().collect();
        let (name, args) = match inner.split_once(char::is_whitespace) {
            Some((name, args)) => (name.to_owned(), args.trim().to_owned()),
            None => (inner, String::new()),
        };
        return valid_name(&name).then_some((Reference { name, args }, close + 1));
    }
    let len = chars[1..].iter().take_while(|c| is_name(c)).count();
    let name: String = chars[1..=len].iter().collect();
    let followed_ok = chars.get(len + 1).is_none_or(|c| c.is_whitespace());
    (valid_name(&name) && followed_ok).then_some((
        Reference {
            name,
            args: String::new(),
        },
        len + 1,
    ))
}

/// A parameter name: letters, digits and `_`, not starting with a digit.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `$NAME=VALUE` (no space before the `=`): the name and the raw value.
fn definition(body: &str) -> Option<(&str, &str)> {
    let (name, value) = body.strip_prefix('$')?.split_once('=')?;
    valid_name(name).then_some((name, value))
}

/// `text` without its comment (`#` or `!` outside quotes and not escaped).
fn strip_comment(text: &str) -> &str {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            '#' | '!' if !quoted => return &text[..i],
            _ => {}
        }
    }
    text
}

/// Whether the line (comment aside) ends in `\`, continuing its statement on the next.
fn ends_in_backslash(text: &str) -> bool {
    strip_comment(text).trim_end().ends_with('\\')
}

fn push_nonempty(lines: &mut Vec<String>, line: &str) {
    let line = line.trim();
    if !line.is_empty() {
        lines.push(line.to_owned());
    }
}

fn reported(text: &str, at: &Location) -> Line {
    Line {
        text: text.to_owned(),
        source: at.line,
        reported: true,
    }
}

/// A parsed `~SEQ`/`~SEQx` line.
struct Sequence {
    var: String,
    start: i64,
    step: i64,
    end: i64,
    hex: bool,
    rest: String,
}

/// `~SEQ(var, end)`, `~SEQ(var, start, end)`, `~SEQ(var, start, step, end)` and the rest
/// of the line; keepalived's defaults for what is left out.
fn parse_sequence(body: &str) -> Result<Sequence, String> {
    let usage = "write `~SEQ(var, start, step, end) line`, e.g. `~SEQ(N, 1, 4) \
                 virtual_ipaddress_excluded 10.0.${N}.1` (start and step may be left out)";
    let (hex, after) = match body.strip_prefix("~SEQx") {
        Some(after) => (true, after),
        None => (false, body.strip_prefix("~SEQ").unwrap_or(body)),
    };
    let (args, rest) = after
        .strip_prefix('(')
        .and_then(|a| a.split_once(')'))
        .ok_or_else(|| format!("this ~SEQ line has no `(...)`; {usage}"))?;
    let mut parts = args.split(',').map(str::trim);
    let var = parts.next().unwrap_or_default().to_owned();
    if !valid_name(&var) {
        return Err(format!(
            "`{var}` cannot name a ~SEQ variable (letters, digits and `_`, not starting with \
             a digit); {usage}"
        ));
    }
    let numbers = parts
        .map(|p| {
            p.parse::<i64>()
                .map_err(|_| format!("`{p}` in this ~SEQ is not a whole number; {usage}"))
        })
        .collect::<Result<Vec<i64>, String>>()?;
    let (start, step, end) = match numbers[..] {
        [end] => (if end < 0 { -1 } else { 1 }, None, end),
        [start, end] => (start, None, end),
        [start, step, end] => (start, Some(step), end),
        _ => {
            return Err(format!(
                "this ~SEQ needs 1 to 3 numbers after `{var}`; {usage}"
            ));
        }
    };
    let step = step.unwrap_or(if end < start { -1 } else { 1 });
    if step == 0 {
        return Err(format!(
            "the step of this ~SEQ is 0, so it never ends; {usage}"
        ));
    }
    if (end - start) / step >= MAX_SEQ_LINES {
        return Err(format!(
            "this ~SEQ makes more than {MAX_SEQ_LINES} lines; check its bounds"
        ));
    }
    Ok(Sequence {
        var,
        start,
        step,
        end,
        hex,
        rest: rest.trim_start().to_owned(),
    })
}

/// A number for `${_RANDOM}` (xorshift seeded from the clock: keepalived's is not meant to
/// be secure either, only to differ between hosts and runs).
fn random() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0);
    let mut x = STATE.load(Ordering::Relaxed);
    if x == 0 {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
        x = (now ^ u64::from(std::process::id())) | 1;
    }
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    x
}

/// The configuration id keepalived uses when `-i` is not given: the host name up to its
/// first dot.
pub fn default_config_id() -> String {
    let mut name = [0u8; 256];
    // SAFETY: gethostname writes at most `len` bytes into the buffer we own.
    let rc = unsafe { libc::gethostname(name.as_mut_ptr().cast(), name.len()) };
    if rc != 0 {
        return String::new();
    }
    let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
    let host = String::from_utf8_lossy(&name[..len]).into_owned();
    host.split('.').next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The output of `text` for config id `id`: (text, source line) per line, and the
    /// diagnostics.
    fn run(id: &str, text: &str) -> (Vec<(String, u32)>, Diags) {
        let mut diags = Diags::default();
        let mut pre = Preprocessor::new(id);
        pre.enter_directory(Path::new("/etc/keepalived"));
        let file = Path::new("/etc/keepalived/keepalived.conf");
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let number = u32::try_from(i + 1).unwrap();
            for l in pre.line(line, number, file, &mut diags) {
                assert!(!l.reported || !diags.errors.is_empty());
                out.push((l.text, l.source));
            }
        }
        pre.end_of_file(&mut diags);
        (out, diags)
    }

    /// The output lines' text, trimmed, for `text` under config id `id` (no diagnostics).
    fn texts(id: &str, text: &str) -> Vec<String> {
        let (out, diags) = run(id, text);
        assert!(diags.errors.is_empty(), "{:?}", diags.errors);
        assert!(diags.warnings.is_empty(), "{:?}", diags.warnings);
        out.into_iter().map(|(t, _)| t.trim().to_owned()).collect()
    }

    fn errors(id: &str, text: &str) -> Vec<(u32, String)> {
        let (_, diags) = run(id, text);
        diags
            .errors
            .into_iter()
            .map(|e| (e.location.line, e.message))
            .collect()
    }

    #[test]
    fn lines_without_the_language_come_out_unchanged() {
        let text = "vrrp_instance VI_1 {\n\tstate MASTER # a comment\n  notify \"/x $1\"\n}";
        let (out, diags) = run("lb1", text);
        assert!(diags.errors.is_empty() && diags.warnings.is_empty());
        let expected: Vec<(String, u32)> = text
            .lines()
            .zip(1..)
            .map(|(l, n)| (l.to_owned(), n))
            .collect();
        assert_eq!(out, expected);
    }

    #[test]
    fn conditional_lines_follow_the_config_id() {
        let text = "@main router_id main_router\n@backup router_id backup_router\n\
                    unicast_peer {\n@^main 1.2.3.4\n@^backup 1.2.3.5\n@^backup2 1.2.3.6\n}";
        assert_eq!(
            texts("main", text),
            [
                "router_id main_router",
                "unicast_peer {",
                "1.2.3.5",
                "1.2.3.6",
                "}"
            ]
        );
        assert_eq!(
            texts("backup", text),
            [
                "router_id backup_router",
                "unicast_peer {",
                "1.2.3.4",
                "1.2.3.6",
                "}"
            ]
        );
        assert_eq!(
            texts("other", text),
            ["unicast_peer {", "1.2.3.4", "1.2.3.5", "1.2.3.6", "}"]
        );
        // The prefix is blanked, so the columns of what follows are the source's.
        let (out, _) = run("main", "  @main router_id r");
        assert_eq!(out[0].0, "        router_id r");
    }

    #[test]
    fn parameters_are_replaced_at_use_time_and_recursively() {
        // keepalived.conf(5)'s example.
        let text = "$ADDRESS_BASE=10.2.${ADDRESS_BASE_SUB}\n$ADDRESS_BASE_SUB=0\n\
                    ${ADDRESS_BASE}.100/32\n$ADDRESS_BASE_SUB=10\n${ADDRESS_BASE}.100/32";
        let (out, diags) = run("x", text);
        assert!(diags.errors.is_empty() && diags.warnings.is_empty());
        assert_eq!(
            out,
            [
                ("10.2.0.100/32".to_owned(), 3),
                ("10.2.10.100/32".to_owned(), 5)
            ]
        );
    }

    #[test]
    fn a_bare_use_needs_whitespace_or_the_end_after_it() {
        let text = "$P=240\npriority $P\npriority $P # high\nx $P:1 ${P}:1 \"$P\" \"$P:\"";
        assert_eq!(
            texts("x", text),
            [
                "priority 240",
                "priority 240 # high",
                "x $P:1 240:1 \"$P\" \"$P:\""
            ]
        );
        // An empty value is allowed.
        assert_eq!(texts("x", "$E=\na${E}b"), ["ab"]);
    }

    #[test]
    fn conditional_definitions_and_conditions_from_values() {
        let text = "@main $PRIORITY=240\n@backup $PRIORITY=200\npriority $PRIORITY\n\
                    $IF_MAIN=@main\n$IF_MAIN nopreempt";
        assert_eq!(texts("main", text), ["priority 240", "nopreempt"]);
        assert_eq!(texts("backup", text), ["priority 200"]);
    }

    #[test]
    fn multi_line_definitions_expand_at_the_use_line_and_nest() {
        let text = "$INSTANCE= \\\n\
                    vrrp_instance VI_${NUM} { \\\n\
                    interface eth0.${NUM} \\\n\
                    @high priority 130 \\\n\
                    @low priority 120 \\\n\
                    virtual_ipaddress { \\\n\
                    10.0.${NUM}.254/24 \\\n\
                    } \\\n\
                    }\n\
                    \n\
                    $NUM=0\n\
                    $INSTANCE\n\
                    $NUM=1\n\
                    $INSTANCE";
        let (out, diags) = run("high", text);
        assert!(diags.errors.is_empty() && diags.warnings.is_empty());
        let got: Vec<(&str, u32)> = out
            .iter()
            .map(|(t, n)| (t.trim(), *n))
            .filter(|(t, _)| !t.is_empty())
            .collect();
        let mut expected = Vec::new();
        for (num, line) in [(0, 12), (1, 14)] {
            for t in [
                format!("vrrp_instance VI_{num} {{"),
                format!("interface eth0.{num}"),
                "priority 130".to_owned(),
                "virtual_ipaddress {".to_owned(),
                format!("10.0.{num}.254/24"),
                "}".to_owned(),
                "}".to_owned(),
            ] {
                expected.push((t, line));
            }
        }
        let expected: Vec<(&str, u32)> = expected.iter().map(|(t, n)| (t.as_str(), *n)).collect();
        assert_eq!(got, expected);
        // Definitions inside a definition run when it is used.
        let text = "$RS=server ${N}\n$VS= \\\n$N=1 \\\n$RS \\\n$N=2 \\\n$RS\n$VS";
        assert_eq!(texts("x", text), ["server 1", "server 2"]);
        // Text around a multi-line use stays on the first and last lines.
        assert_eq!(texts("x", "$M= \\\na \\\nb\n<$M >"), ["<a", "b >"]);
    }

    #[test]
    fn predefined_parameters() {
        assert_eq!(
            texts("lb1", "a ${_INSTANCE} ${_PWD}/x.sh"),
            ["a lb1 /etc/keepalived/x.sh"]
        );
        // Outside quotes `#` and `!` are escaped for the tokenizer, inside they are plain.
        assert_eq!(
            texts("x", "a${_HASH}b${_BANG} \"${_HASH} ${_BANG}\""),
            ["a\\#b\\! \"# !\""]
        );
        assert_eq!(texts("x", "${_RANDOM 7 7}"), ["7"]);
        for _ in 0..100 {
            let n: u64 = texts("x", "${_RANDOM 1 3}")[0].parse().unwrap();
            assert!((1..=3).contains(&n));
            let n: u64 = texts("x", "${_RANDOM}")[0].parse().unwrap();
            assert!(n <= 32767);
        }
    }

    #[test]
    fn undefined_parameters_stay_with_a_warning_outside_quotes() {
        let (out, diags) = run("x", "virtual_router_id $VRID\nscript \"/x $VRID\"\n$B =1");
        assert_eq!(out[0].0, "virtual_router_id $VRID");
        assert_eq!(out[1].0, "script \"/x $VRID\"");
        assert_eq!(out[2].0, "$B =1");
        let warned: Vec<(u32, u32)> = diags
            .warnings
            .iter()
            .map(|w| (w.location.line, w.location.column))
            .collect();
        assert_eq!(warned, [(1, 19), (3, 1)]);
        assert!(
            diags.warnings[1]
                .message
                .contains("no space before the `=`")
        );
        assert!(diags.errors.is_empty());
    }

    #[test]
    fn comments_are_not_expanded_and_do_not_end_up_in_values() {
        assert_eq!(
            texts("x", "$A=1 # one\n$B=\"x # y\" ! z\na $A # $A\nb $B"),
            ["a 1 # $A", "b \"x # y\""]
        );
    }

    #[test]
    fn sequences() {
        assert_eq!(
            texts("x", "~SEQ(SUBNET, 0, 3) ip_address 10.0.${SUBNET}.1"),
            [
                "ip_address 10.0.0.1",
                "ip_address 10.0.1.1",
                "ip_address 10.0.2.1",
                "ip_address 10.0.3.1"
            ]
        );
        assert_eq!(texts("x", "~SEQ(N, 3) a$N"), ["a1", "a2", "a3"]);
        assert_eq!(texts("x", "~SEQ(N, -2) a$N"), ["a-1", "a-2"]);
        assert_eq!(texts("x", "~SEQ(N, 3, 1) a$N"), ["a3", "a2", "a1"]);
        assert_eq!(texts("x", "~SEQ(N, 1, 2, 6) a$N"), ["a1", "a3", "a5"]);
        assert_eq!(
            texts("x", "~SEQx(N, 9, 3, 15) fe80::${N}"),
            ["fe80::9", "fe80::c", "fe80::f"]
        );
        assert_eq!(
            texts("x", "~SEQ(A, 2) ~SEQ(B, 2) ${A}.${B}"),
            ["1.1", "1.2", "2.1", "2.2"]
        );
        // The variable is not left defined, and an outer one of that name comes back.
        assert_eq!(texts("x", "$N=z\n~SEQ(N, 1) a$N\nb$N"), ["a1", "bz"]);
        // Every line of a sequence is located at its source line.
        let (out, _) = run("x", "b\n~SEQ(N, 2) a$N");
        assert_eq!(out.iter().map(|l| l.1).collect::<Vec<_>>(), [1, 2, 2]);
    }

    #[test]
    fn bad_sequences_and_runaway_parameters_are_errors_at_their_line() {
        for (text, needle) in [
            ("~SEQ(N, 1, 0, 5) a", "step of this ~SEQ is 0"),
            ("~SEQ N 1 5 a", "no `(...)`"),
            ("~SEQ(1N, 5) a", "cannot name a ~SEQ variable"),
            ("~SEQ(N, x) a", "`x` in this ~SEQ is not a whole number"),
            ("~SEQ(N) a", "needs 1 to 3 numbers"),
            ("~SEQ(N, 0, 1000000) a", "more than 10000 lines"),
            ("$A=${A}x\nb $A", "uses itself"),
            ("$A= \\\nb \\", "not finished at the end of the file"),
        ] {
            let got = errors("x", text);
            assert_eq!(got.len(), 1, "{text}: {got:?}");
            assert!(got[0].1.contains(needle), "{text}: {}", got[0].1);
            let line = if needle.contains("uses itself") { 2 } else { 1 };
            assert_eq!(got[0].0, line, "{text}");
        }
    }

    #[test]
    fn exponential_expansion_is_cut_off() {
        // 3^12 lines from 12 levels, well within the depth limit.
        let mut text = String::from("$A0=x\n");
        for i in 1..=12 {
            let p = i - 1;
            text.push_str(&format!(
                "$A{i}= \\\n${{A{p}}} \\\n${{A{p}}} \\\n${{A{p}}}\n"
            ));
        }
        text.push_str("$A12");
        let (out, diags) = run("x", &text);
        assert!(out.len() < MAX_LINES_PER_SOURCE_LINE);
        let messages: Vec<&str> = diags.errors.iter().map(|e| e.message.as_str()).collect();
        assert_eq!(
            messages.len(),
            1,
            "{:?}",
            &messages[..messages.len().min(3)]
        );
        assert!(
            messages[0].contains("expands to more than"),
            "{}",
            messages[0]
        );
    }

    #[test]
    fn continued_statements_are_substituted_but_not_conditional() {
        let text = "$X=5\na \\\n@x $X";
        assert_eq!(texts("y", text), ["a \\", "@x 5"]);
    }

    #[test]
    fn the_default_config_id_is_the_short_host_name() {
        let id = default_config_id();
        assert!(!id.contains('.'));
        let out = std::process::Command::new("hostname").arg("-s").output();
        if let Some(out) = out.ok().filter(|o| o.status.success()) {
            assert_eq!(id, String::from_utf8_lossy(&out.stdout).trim());
        }
    }
}
