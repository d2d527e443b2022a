//! The tokens of SQL text, as far as reading a `CREATE TABLE` statement needs: identifiers
//! (quoted with `"x"`, `` `x` `` or `[x]`, or not), string and blob literals, numbers and
//! punctuation; whitespace and comments are dropped.

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
    /// An identifier or keyword; `quoted` when written as `"x"`, `` `x` `` or `[x]`.
    Word {
        text: String,
        quoted: bool,
    },
    Str(String),
    Blob(Vec<u8>),
    Num(String),
    Punct(char),
}

impl Tok {
    /// True for the unquoted keyword `kw` (case-insensitive).
    pub(super) fn is(&self, kw: &str) -> bool {
        matches!(self, Tok::Word { text, quoted: false } if text.eq_ignore_ascii_case(kw))
    }
}

pub(super) fn tokenize(sql: &str) -> Result<Vec<Tok>, String> {
    let b: Vec<char> = sql.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    // The text up to the closing `close`, with doubled `close` meaning one (when `doubled`).
    let quoted = |i: &mut usize, close: char, doubled: bool| -> Result<String, String> {
        let mut s = String::new();
        loop {
            match b.get(*i) {
                None => return Err(format!("unterminated quote (missing {close})")),
                Some(&c) if c == close => {
                    if doubled && b.get(*i + 1) == Some(&close) {
                        s.push(close);
                        *i += 2;
                    } else {
                        *i += 1;
                        return Ok(s);
                    }
                }
                Some(&c) => {
                    s.push(c);
                    *i += 1;
                }
            }
        }
    };
    while let Some(&c) = b.get(i) {
        let next = b.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '-' && next == Some('-') {
            while b.get(i).is_some_and(|&c| c != '\n') {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i < b.len() && !(b[i] == '*' && b.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if (c == 'x' || c == 'X') && next == Some('\'') {
            i += 2;
            let hex = quoted(&mut i, '\'', false)?;
            out.push(Tok::Blob(unhex(&hex).ok_or("a malformed blob literal")?));
        } else if c == '\'' {
            i += 1;
            out.push(Tok::Str(quoted(&mut i, '\'', true)?));
        } else if c == '"' || c == '`' || c == '[' {
            i += 1;
            let (close, doubled) = if c == '[' { (']', false) } else { (c, true) };
            let text = quoted(&mut i, close, doubled)?;
            out.push(Tok::Word { text, quoted: true });
        } else if c.is_ascii_digit() || (c == '.' && next.is_some_and(|n| n.is_ascii_digit())) {
            let start = i;
            while let Some(&d) = b.get(i) {
                let exponent_sign = (d == '+' || d == '-') && matches!(b[i - 1], 'e' | 'E');
                if d.is_ascii_alphanumeric() || d == '.' || exponent_sign {
                    i += 1;
                } else {
                    break;
                }
            }
            out.push(Tok::Num(b[start..i].iter().collect()));
        } else if c.is_alphabetic() || c == '_' || !c.is_ascii() {
            let start = i;
            while b
                .get(i)
                .is_some_and(|&d| d.is_alphanumeric() || d == '_' || d == '$' || !d.is_ascii())
            {
                i += 1;
            }
            out.push(Tok::Word {
                text: b[start..i].iter().collect(),
                quoted: false,
            });
        } else {
            out.push(Tok::Punct(c));
            i += 1;
        }
    }
    Ok(out)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn word(s: &str, quoted: bool) -> Tok {
        Tok::Word {
            text: s.into(),
            quoted,
        }
    }

    #[test]
    fn tokens() {
        let toks = tokenize(
            "CREATE \"a \"\"b\" `c``d` [e\"f] 'it''s' x'00ff' 1.5e-3 0x1F .5 -- c\n/* (x, y) */ (,)",
        )
        .unwrap();
        assert_eq!(
            toks,
            [
                word("CREATE", false),
                word("a \"b", true),
                word("c`d", true),
                word("e\"f", true),
                Tok::Str("it's".into()),
                Tok::Blob(vec![0, 255]),
                Tok::Num("1.5e-3".into()),
                Tok::Num("0x1F".into()),
                Tok::Num(".5".into()),
                Tok::Punct('('),
                Tok::Punct(','),
                Tok::Punct(')'),
            ]
        );
        assert!(toks[0].is("create") && !toks[1].is("a \"b"));
        for bad in ["\"a", "[a", "`a", "'a", "x'0'", "x'zz'"] {
            assert!(tokenize(bad).is_err(), "{bad}");
        }
        assert_eq!(tokenize("a /* unterminated").unwrap(), [word("a", false)]);
    }
}
