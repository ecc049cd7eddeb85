//! keepalived.conf text → tokens, each with its file, line and column.
//!
//! The rules follow keepalived 2.2.7's `lib/parser.c`:
//! * `#` and `!` start a comment anywhere outside a quoted string (`\#`, `\!` escape them);
//! * `"..."` is one token, spaces kept (`\"` and `\\` inside it are escapes);
//! * `{` and `}` are tokens of their own even when glued to a word (`group{`);
//! * a `\` at the end of a line continues the statement on the next line;
//! * a line `include GLOB` is replaced by the files it matches, sorted, with relative
//!   patterns taken from the including file's directory.
//!
//! Before tokens are made, each line goes through [`super::preprocess`]: conditional
//! lines, parameters and sequences, so the tokens here are those of the expanded text, each
//! still located at the line the operator wrote.
//!
//! Statements end at the end of a line, so each token records whether it starts one.
use std::{
    fs,
    path::{Component, Path, PathBuf},
};

use super::{
    Diags, Location,
    preprocess::{self, Preprocessor},
};

/// How deep `include`s may nest. keepalived has no limit; a limit turns an include cycle
/// that [`Lexer::open`] does not catch (e.g. through symlinked directories) into an error.
const MAX_INCLUDE_DEPTH: usize = 8;

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum TokenKind {
    /// A bare word.
    Word,
    /// A `"quoted string"` (text without the quotes).
    Quoted,
    /// `{`.
    Open,
    /// `}`.
    Close,
}

/// One token and where it is.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Token {
    pub(super) kind: TokenKind,
    pub(super) text: String,
    pub(super) loc: Location,
    /// First token of a line: the previous statement ended before it.
    pub(super) starts_line: bool,
    /// Comes from a line that could not be expanded, already reported: the parser skips
    /// the statement that holds it instead of adding messages about its leftovers.
    pub(super) reported: bool,
}

impl Token {
    /// A word or a quoted string: something a statement is made of.
    pub(super) fn is_value(&self) -> bool {
        matches!(self.kind, TokenKind::Word | TokenKind::Quoted)
    }
}

/// The tokens of a file and of everything it includes, in reading order.
#[derive(Debug, Default)]
pub(super) struct Lexed {
    pub(super) tokens: Vec<Token>,
    /// Every file read, in the order first read (to sort messages in reading order).
    pub(super) files: Vec<PathBuf>,
}

/// Tokens of the file at `path` and of its includes, for the host whose configuration id
/// (keepalived's `-i`) is `config_id`.
pub(super) fn lex_file(path: &Path, config_id: &str, diags: &mut Diags) -> Lexed {
    let mut lexer = Lexer::new(diags, config_id);
    match fs::read(path) {
        Ok(bytes) => lexer.file(&String::from_utf8_lossy(&bytes), path, 0),
        Err(e) => {
            lexer.files.push(path.to_path_buf());
            let whole_file = Location {
                file: path.to_path_buf(),
                line: 0,
                column: 0,
            };
            lexer.diags.error(
                &whole_file,
                format!("cannot read the configuration: {e}; check the path and its permissions"),
            );
        }
    }
    lexer.finish()
}

/// Tokens of `text`, read as if it were the file `path`.
pub(super) fn lex_str(text: &str, path: &Path, config_id: &str, diags: &mut Diags) -> Lexed {
    let mut lexer = Lexer::new(diags, config_id);
    lexer.file(text, path, 0);
    lexer.finish()
}

struct Lexer<'d> {
    diags: &'d mut Diags,
    tokens: Vec<Token>,
    files: Vec<PathBuf>,
    /// Files being read, outermost first, to catch include cycles.
    open: Vec<PathBuf>,
    /// Parameters live across files, as in keepalived.
    pre: Preprocessor,
}

impl<'d> Lexer<'d> {
    fn new(diags: &'d mut Diags, config_id: &str) -> Self {
        Self {
            diags,
            tokens: Vec::new(),
            files: Vec::new(),
            open: Vec::new(),
            pre: Preprocessor::new(config_id),
        }
    }

    fn finish(self) -> Lexed {
        Lexed {
            tokens: self.tokens,
            files: self.files,
        }
    }

    fn file(&mut self, text: &str, path: &Path, depth: usize) {
        if !self.files.iter().any(|f| f == path) {
            self.files.push(path.to_path_buf());
        }
        self.open
            .push(fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()));
        let outer_pwd = self.pre.pwd();
        let dir = directory_of(path);
        self.pre
            .enter_directory(&std::path::absolute(&dir).unwrap_or(dir));
        if text.contains(['$', '@', '~']) {
            // Expanded lines are tokenized in runs; an `include` ends a run, so that the
            // included file is read (and its definitions made) before the lines after it.
            let mut run: Vec<preprocess::Line> = Vec::new();
            for (i, text) in text.split('\n').enumerate() {
                let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
                for line in self.pre.line(text, number, path, self.diags) {
                    let include = line.text.split_whitespace().next() == Some("include");
                    run.push(line);
                    if include {
                        self.tokenize(&mut run, path, depth);
                    }
                }
            }
            self.pre.end_of_file(self.diags);
            self.tokenize(&mut run, path, depth);
        } else {
            // Nothing for the preprocessor (the common case): the text is its own
            // expansion, scanned in one go without per-line copies.
            let tokens = scan(text, path, &[], self.diags);
            self.dispatch(tokens, path, depth);
        }
        self.pre.restore_pwd(outer_pwd);
        self.open.pop();
    }

    /// Tokenizes a run of expanded lines and hands them on, line by line.
    fn tokenize(&mut self, run: &mut Vec<preprocess::Line>, path: &Path, depth: usize) {
        if run.is_empty() {
            return;
        }
        let text = run
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let origins: Vec<(u32, bool)> = run.iter().map(|l| (l.source, l.reported)).collect();
        run.clear();
        let tokens = scan(&text, path, &origins, self.diags);
        self.dispatch(tokens, path, depth);
    }

    /// Hands tokens on line by line (an `include` line reads its files there).
    fn dispatch(&mut self, tokens: Vec<Token>, path: &Path, depth: usize) {
        let mut start = 0;
        for end in 1..=tokens.len() {
            if end == tokens.len() || tokens[end].starts_line {
                self.line(tokens[start..end].to_vec(), path, depth);
                start = end;
            }
        }
    }

    /// One line's tokens: an `include`, or tokens for the parser.
    fn line(&mut self, line: Vec<Token>, path: &Path, depth: usize) {
        let Some(first) = line.first() else { return };
        if first.kind == TokenKind::Word && first.text == "include" && !first.reported {
            self.include(&line, path, depth);
            return;
        }
        self.tokens.extend(line);
    }

    /// `include PATTERN`: the matching files' tokens, in sorted order.
    fn include(&mut self, line: &[Token], path: &Path, depth: usize) {
        let at = &line[0].loc;
        let [_, pattern] = line else {
            self.diags.error(
                at,
                "include needs exactly one file name or glob; write e.g. \
                 `include /etc/keepalived/conf.d/*.conf` (quote a name that has spaces)",
            );
            return;
        };
        if depth + 1 >= MAX_INCLUDE_DEPTH {
            self.diags.error(
                at,
                format!(
                    "includes are nested more than {MAX_INCLUDE_DEPTH} deep; include the files \
                     from fewer levels (is there an include cycle?)"
                ),
            );
            return;
        }
        let full = directory_of(path).join(&pattern.text);
        let files = if has_wildcard(&pattern.text) {
            let found: Vec<PathBuf> = glob(&full).into_iter().filter(|p| p.is_file()).collect();
            if found.is_empty() {
                self.diags.warn(
                    at,
                    format!(
                        "include `{}` matched no files (looked for {}); check the pattern or \
                         remove the include",
                        pattern.text,
                        full.display()
                    ),
                );
            }
            found
        } else if full.is_dir() {
            self.diags.error(
                at,
                format!(
                    "include `{}` names a directory; include its files with a glob, e.g. \
                     `include {}/*.conf`",
                    pattern.text, pattern.text
                ),
            );
            return;
        } else {
            vec![full]
        };
        for file in files {
            let key = fs::canonicalize(&file).unwrap_or_else(|_| file.clone());
            if self.open.contains(&key) {
                self.diags.error(
                    at,
                    format!(
                        "include `{}` includes {} again, which is already being read (an include \
                         cycle); remove this include",
                        pattern.text,
                        file.display()
                    ),
                );
                continue;
            }
            match fs::read(&file) {
                Ok(bytes) => self.file(&String::from_utf8_lossy(&bytes), &file, depth + 1),
                Err(e) => self.diags.error(
                    at,
                    format!(
                        "cannot read included file {}: {e}; fix the path or its permissions, \
                         or remove the include",
                        file.display()
                    ),
                ),
            }
        }
    }
}

/// The directory a file's relative paths are taken from.
fn directory_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Splits expanded text into tokens (includes not expanded yet). Line `n` of `text` comes
/// from the source line `origins[n - 1].0`, and was already reported if `origins[n - 1].1`.
fn scan(text: &str, file: &Path, origins: &[(u32, bool)], diags: &mut Diags) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let (mut i, mut line, mut column) = (0, 1u32, 1u32);
    let mut starts_line = true;
    let origin = |line: u32| {
        usize::try_from(line)
            .ok()
            .and_then(|l| origins.get(l.checked_sub(1)?))
            .copied()
            .unwrap_or((line, false))
    };
    let loc = |line, column| Location {
        file: file.to_path_buf(),
        line: origin(line).0,
        column,
    };
    // A `\` ending the line (before an optional `\r`): returns how many chars to skip.
    let continuation = |i: usize| match (chars.get(i + 1), chars.get(i + 2)) {
        (Some('\n'), _) => Some(2),
        (Some('\r'), Some('\n')) => Some(3),
        _ => None,
    };
    while let Some(&c) = chars.get(i) {
        match c {
            '\n' => {
                i += 1;
                line += 1;
                column = 1;
                starts_line = true;
            }
            '#' | '!' => {
                while chars.get(i).is_some_and(|&c| c != '\n') {
                    i += 1;
                    column += 1;
                }
            }
            '\\' if continuation(i).is_some() => {
                i += continuation(i).unwrap_or(2);
                line += 1;
                column = 1;
            }
            c if c.is_whitespace() => {
                i += 1;
                column += 1;
            }
            '{' | '}' => {
                tokens.push(Token {
                    kind: if c == '{' {
                        TokenKind::Open
                    } else {
                        TokenKind::Close
                    },
                    text: c.to_string(),
                    loc: loc(line, column),
                    starts_line,
                    reported: origin(line).1,
                });
                starts_line = false;
                i += 1;
                column += 1;
            }
            '"' => {
                let start = loc(line, column);
                let mut text = String::new();
                i += 1;
                column += 1;
                let mut closed = false;
                while let Some(&c) = chars.get(i) {
                    match c {
                        '"' => {
                            i += 1;
                            column += 1;
                            closed = true;
                            break;
                        }
                        '\n' => break,
                        '\\' if matches!(chars.get(i + 1), Some('"' | '\\')) => {
                            text.push(chars[i + 1]);
                            i += 2;
                            column += 2;
                        }
                        c => {
                            text.push(c);
                            i += 1;
                            column += 1;
                        }
                    }
                }
                if !closed {
                    diags.error(
                        &start,
                        "this quoted string is not closed; add the closing `\"` on the same line",
                    );
                }
                tokens.push(Token {
                    kind: TokenKind::Quoted,
                    text: text.trim_end_matches('\r').to_owned(),
                    loc: start,
                    starts_line,
                    reported: origin(line).1,
                });
                starts_line = false;
            }
            _ => {
                let start = loc(line, column);
                let mut text = String::new();
                while let Some(&c) = chars.get(i) {
                    match c {
                        '\\' if matches!(chars.get(i + 1), Some('#' | '!')) => {
                            text.push(chars[i + 1]);
                            i += 2;
                            column += 2;
                        }
                        '\\' if continuation(i).is_some() => break,
                        // `${NAME}` (left as written: not defined): one word, not a block.
                        '{' if text.ends_with('$') => {
                            while let Some(&c) = chars.get(i) {
                                if c == '\n' {
                                    break;
                                }
                                text.push(c);
                                i += 1;
                                column += 1;
                                if c == '}' {
                                    break;
                                }
                            }
                        }
                        c if c.is_whitespace() || matches!(c, '{' | '}' | '"' | '#' | '!') => {
                            break;
                        }
                        c => {
                            text.push(c);
                            i += 1;
                            column += 1;
                        }
                    }
                }
                tokens.push(Token {
                    kind: TokenKind::Word,
                    text,
                    loc: start,
                    starts_line,
                    reported: origin(line).1,
                });
                starts_line = false;
            }
        }
    }
    tokens
}

fn has_wildcard(pattern: &str) -> bool {
    pattern.contains(['*', '?'])
}

/// The existing paths matching `pattern`, whose components may hold `*` and `?`, sorted as
/// glob(3) sorts them.
fn glob(pattern: &Path) -> Vec<PathBuf> {
    let mut found = vec![PathBuf::new()];
    for component in pattern.components() {
        let name = component.as_os_str().to_string_lossy();
        if !(matches!(component, Component::Normal(_)) && has_wildcard(&name)) {
            for path in &mut found {
                path.push(component);
            }
            continue;
        }
        let mut next = Vec::new();
        for dir in &found {
            let read_from = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir.as_path()
            };
            let Ok(entries) = fs::read_dir(read_from) else {
                continue;
            };
            for entry in entries.flatten() {
                let file_name = entry.file_name();
                if wildcard_match(&name, &file_name.to_string_lossy()) {
                    next.push(dir.join(&file_name));
                }
            }
        }
        found = next;
    }
    found.retain(|p| p.exists());
    found.sort();
    found
}

/// Whether `name` matches `pattern` (`*`: any run, `?`: one character). As in the shell, a
/// leading `.` must be matched explicitly, so `*` skips hidden files and editor leftovers.
fn wildcard_match(pattern: &str, name: &str) -> bool {
    if name.starts_with('.') && !pattern.starts_with('.') {
        return false;
    }
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    let (mut pi, mut ni) = (0, 0);
    // Where the last `*` was, and the name position it is currently assumed to stop at.
    let mut star: Option<(usize, usize)> = None;
    while ni < n.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some((pi, ni));
                pi += 1;
            }
            Some(&c) if c == '?' || c == n[ni] => {
                pi += 1;
                ni += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    pi = sp + 1;
                    ni = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex(text: &str) -> (Vec<Token>, Diags) {
        let mut diags = Diags::default();
        let lexed = lex_str(text, Path::new("keepalived.conf"), "lb1", &mut diags);
        (lexed.tokens, diags)
    }

    /// (text, line, column, starts_line) of each token.
    fn summary(tokens: &[Token]) -> Vec<(String, u32, u32, bool)> {
        tokens
            .iter()
            .map(|t| (t.text.clone(), t.loc.line, t.loc.column, t.starts_line))
            .collect()
    }

    fn s(text: &str, line: u32, column: u32, starts: bool) -> (String, u32, u32, bool) {
        (text.to_owned(), line, column, starts)
    }

    #[test]
    fn the_fast_path_and_the_preprocessed_path_give_the_same_tokens() {
        let text = "vrrp_instance VI_1 {\n\tstate MASTER \\\n   x\n  notify \"/a b # c\"\n}\n";
        let (fast, _) = lex(text);
        // A comment with the language's characters sends the same text through it.
        let (slow, _) = lex(&format!("{text}# $ @ ~\n"));
        assert_eq!(summary(&fast), summary(&slow));
        assert_eq!(fast.len(), 9);
    }

    #[test]
    fn words_braces_and_positions() {
        let (tokens, diags) = lex("vrrp_instance VI_1 {\n\tstate  MASTER\n}\n");
        assert!(diags.errors.is_empty());
        assert_eq!(
            summary(&tokens),
            vec![
                s("vrrp_instance", 1, 1, true),
                s("VI_1", 1, 15, false),
                s("{", 1, 20, false),
                s("state", 2, 2, true),
                s("MASTER", 2, 9, false),
                s("}", 3, 1, true),
            ]
        );
        assert_eq!(tokens[2].kind, TokenKind::Open);
        assert_eq!(tokens[5].kind, TokenKind::Close);
    }

    #[test]
    fn braces_glued_to_words_are_split() {
        let (tokens, _) = lex("group{a}b");
        let texts: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, vec!["group", "{", "a", "}", "b"]);
        let kinds: Vec<TokenKind> = tokens.iter().map(|t| t.kind).collect();
        use TokenKind::*;
        assert_eq!(kinds, vec![Word, Open, Word, Close, Word]);
    }

    #[test]
    fn hash_and_bang_comments_run_to_end_of_line() {
        let (tokens, _) = lex("a # b c\n! whole line\nd!e\nf#g { h\n");
        let texts: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, vec!["a", "d", "f"]);
        assert_eq!(tokens[1].loc.line, 3);
    }

    #[test]
    fn escaped_comment_chars_are_literal() {
        let (tokens, _) = lex(r"auth_pass ab\#c\!d");
        assert_eq!(tokens[1].text, "ab#c!d");
    }

    #[test]
    fn quoted_strings_keep_spaces_comment_chars_and_braces() {
        let (tokens, diags) = lex(r#"script "/bin/check -x # { } !" "a \"q\" \\ b""#);
        assert!(diags.errors.is_empty());
        assert_eq!(tokens[1].kind, TokenKind::Quoted);
        assert_eq!(tokens[1].text, "/bin/check -x # { } !");
        assert_eq!(tokens[1].loc.column, 8);
        assert_eq!(tokens[2].text, r#"a "q" \ b"#);
    }

    #[test]
    fn quote_glued_to_a_word_starts_a_new_token() {
        let (tokens, _) = lex(r#"a"b c"d"#);
        let texts: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, vec!["a", "b c", "d"]);
    }

    #[test]
    fn unterminated_quote_is_an_error_at_the_quote() {
        let (tokens, diags) = lex("script \"/bin/x\nnext line\n");
        assert_eq!(diags.errors.len(), 1);
        assert_eq!(
            (
                diags.errors[0].location.line,
                diags.errors[0].location.column
            ),
            (1, 8)
        );
        assert!(diags.errors[0].message.contains("add the closing"));
        assert_eq!(tokens[1].text, "/bin/x");
        assert!(tokens[2].starts_line);
    }

    #[test]
    fn backslash_newline_continues_the_statement() {
        let (tokens, _) = lex("script a \\\n   b\r\nc \\\r\n d\n");
        assert_eq!(
            summary(&tokens),
            vec![
                s("script", 1, 1, true),
                s("a", 1, 8, false),
                s("b", 2, 4, false),
                s("c", 3, 1, true),
                s("d", 4, 2, false),
            ]
        );
    }

    #[test]
    fn crlf_line_endings_are_whitespace() {
        let (tokens, _) = lex("a b\r\nc \"q\"\r\n");
        let texts: Vec<&str> = tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, vec!["a", "b", "c", "q"]);
    }

    #[test]
    fn conditional_lines_apply_to_their_host_only_and_keep_their_columns() {
        let (tokens, diags) =
            lex("@lb1 priority 150\n@^lb1 priority 100\n  @lb2 priority 90\n@^lb2 state BACKUP\n");
        assert!(diags.errors.is_empty() && diags.warnings.is_empty());
        assert_eq!(
            summary(&tokens),
            vec![
                s("priority", 1, 6, true),
                s("150", 1, 15, false),
                s("state", 4, 7, true),
                s("BACKUP", 4, 13, false),
            ]
        );
    }

    #[test]
    fn parameters_are_replaced_where_used_and_errors_point_at_the_use() {
        let (tokens, diags) = lex(
            "$VIP=10.0.0.1 # the address\n\nvirtual_router_id $VRID\n$VRID=51\n\
             virtual_router_id $VRID\na ${VIP}/24 ${VIP}\n",
        );
        assert!(diags.errors.is_empty(), "{:?}", diags.errors);
        // $VRID was used before its definition: kept as written, with a warning there.
        assert_eq!(diags.warnings.len(), 1, "{:?}", diags.warnings);
        assert_eq!(
            (
                diags.warnings[0].location.line,
                diags.warnings[0].location.column
            ),
            (3, 19)
        );
        assert!(diags.warnings[0].message.contains("`$VRID` is not defined"));
        assert_eq!(
            summary(&tokens),
            vec![
                s("virtual_router_id", 3, 1, true),
                s("$VRID", 3, 19, false),
                s("virtual_router_id", 5, 1, true),
                s("51", 5, 19, false),
                s("a", 6, 1, true),
                s("10.0.0.1/24", 6, 3, false),
                s("10.0.0.1", 6, 15, false),
            ]
        );
        assert!(tokens.iter().all(|t| !t.reported));
    }

    #[test]
    fn quoted_dollar_is_just_text_unless_defined() {
        let (tokens, diags) = lex("script \"test $HOME $1\"\n$HOME=/root\nscript \"cd $HOME \"\n");
        assert!(diags.errors.is_empty() && diags.warnings.is_empty());
        assert_eq!(tokens[1].text, "test $HOME $1");
        assert_eq!(tokens[3].text, "cd /root ");
    }

    #[test]
    fn wildcard_matching() {
        assert!(wildcard_match("*.conf", "a.conf"));
        assert!(!wildcard_match("*.conf", ".hidden.conf"));
        assert!(wildcard_match(".*.conf", ".hidden.conf"));
        assert!(wildcard_match("a?c", "abc"));
        assert!(!wildcard_match("a?c", "ac"));
        assert!(wildcard_match("*", "anything"));
        assert!(wildcard_match("a*b*c", "a-xb-yb-c"));
        assert!(!wildcard_match("a*b*c", "a-xb-y"));
        assert!(wildcard_match("vi_*", "vi_"));
        assert!(!wildcard_match("*.conf", "a.conf.bak"));
    }

    /// A directory under the system temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> Self {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos();
            let dir = std::env::temp_dir()
                .join(format!("vrrp-lexer-{tag}-{}-{nanos}", std::process::id()));
            fs::create_dir_all(&dir).unwrap();
            Self(dir)
        }

        fn write(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent).unwrap();
            }
            fs::write(&path, text).unwrap();
            path
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn lex_at(path: &Path) -> (Lexed, Diags) {
        let mut diags = Diags::default();
        let lexed = lex_file(path, "lb1", &mut diags);
        (lexed, diags)
    }

    #[test]
    fn include_glob_is_sorted_relative_and_positioned() {
        let dir = TempDir::new("glob");
        let main = dir.write("keepalived.conf", "a {\ninclude conf.d/*.conf\n}\n");
        dir.write("conf.d/b.conf", "b2\n");
        dir.write("conf.d/a.conf", "a1 x\n  a2\n");
        dir.write("conf.d/.hidden.conf", "hidden\n");
        dir.write("conf.d/c.conf.bak", "bak\n");
        dir.write("conf.d/sub.conf/inner", "dir\n");
        let (lexed, diags) = lex_at(&main);
        assert!(diags.errors.is_empty() && diags.warnings.is_empty());
        let texts: Vec<&str> = lexed.tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, vec!["a", "{", "a1", "x", "a2", "b2", "}"]);
        let a2 = &lexed.tokens[4];
        assert_eq!(a2.loc.file, dir.0.join("conf.d/a.conf"));
        assert_eq!((a2.loc.line, a2.loc.column), (2, 3));
        assert!(a2.starts_line && lexed.tokens[5].starts_line && lexed.tokens[6].starts_line);
        assert_eq!(
            lexed.files,
            vec![
                main.clone(),
                dir.0.join("conf.d/a.conf"),
                dir.0.join("conf.d/b.conf")
            ]
        );
    }

    #[test]
    fn include_with_wildcard_directory_and_absolute_path() {
        let dir = TempDir::new("abs");
        dir.write("d1/x.conf", "one\n");
        dir.write("d2/x.conf", "two\n");
        let main = dir.write(
            "keepalived.conf",
            &format!("include \"{}/d?/x.conf\"\n", dir.0.display()),
        );
        let (lexed, diags) = lex_at(&main);
        assert!(diags.errors.is_empty(), "{:?}", diags.errors);
        let texts: Vec<&str> = lexed.tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, vec!["one", "two"]);
    }

    #[test]
    fn include_problems() {
        let dir = TempDir::new("problems");
        dir.write("self.conf", "include self.conf\nafter\n");
        dir.write("sub/file", "x\n");
        let main = dir.write(
            "keepalived.conf",
            "include none/*.conf\ninclude missing.conf\ninclude\ninclude a b\ninclude sub\ninclude self.conf\n",
        );
        let (lexed, diags) = lex_at(&main);
        let errors: Vec<(u32, &str)> = diags
            .errors
            .iter()
            .map(|e| (e.location.line, e.message.as_str()))
            .collect();
        assert_eq!(errors.len(), 5, "{errors:#?}");
        assert_eq!(errors[0].0, 2);
        assert!(
            errors[0].1.starts_with("cannot read included file"),
            "{}",
            errors[0].1
        );
        assert_eq!(errors[1].0, 3);
        assert!(errors[1].1.starts_with("include needs exactly one"));
        assert_eq!(errors[2].0, 4);
        assert_eq!(errors[3].0, 5);
        assert!(errors[3].1.contains("names a directory"), "{}", errors[3].1);
        // self.conf includes itself: reported in self.conf, its other lines still read.
        assert_eq!(diags.errors[4].location.file, dir.0.join("self.conf"));
        assert!(errors[4].1.contains("include cycle"), "{}", errors[4].1);
        assert_eq!(diags.warnings.len(), 1);
        assert!(diags.warnings[0].message.contains("matched no files"));
        let texts: Vec<&str> = lexed.tokens.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(texts, vec!["after"]);
    }

    #[test]
    fn include_depth_is_limited() {
        let dir = TempDir::new("depth");
        for i in 0..12 {
            dir.write(
                &format!("f{i}.conf"),
                &format!("include f{}.conf\nw{i}\n", i + 1),
            );
        }
        let (lexed, diags) = lex_at(&dir.0.join("f0.conf"));
        assert_eq!(diags.errors.len(), 1, "{:?}", diags.errors);
        assert!(diags.errors[0].message.contains("nested more than 8"));
        assert_eq!(lexed.tokens.len(), MAX_INCLUDE_DEPTH);
    }

    #[test]
    fn unreadable_main_file() {
        let (lexed, diags) = lex_at(Path::new("/nonexistent/dir/keepalived.conf"));
        assert!(lexed.tokens.is_empty());
        assert_eq!(diags.errors.len(), 1);
        assert_eq!(diags.errors[0].location.line, 0);
    }
}
