//! BERT's basic tokenizer: text -> normalized words, exactly as HF `tokenizers`'
//! `BertNormalizer` followed by `BertPreTokenizer`:
//!   1. clean_text: drop NUL, U+FFFD and control/format/private-use chars; whitespace -> ' '
//!   2. handle_chinese_chars: put spaces around CJK ideographs
//!   3. strip_accents (default: same as lowercase): NFD, then drop non-spacing marks (Mn)
//!   4. lowercase (per char, no final-sigma rule)
//!   5. split on whitespace, and split every punctuation char off as its own word.
//!
//! Speed: all steps are per char except NFD's canonical reordering, which never crosses an
//! ASCII char (ccc 0, no decomposition). So ASCII bytes take a table-driven fast path and
//! only maximal runs of non-ASCII chars go through the Unicode path. The Unicode tables are
//! probed from the reference itself (see unicode_tables.rs), so its quirks are matched.

use unicode_normalization::char::{canonical_combining_class, decompose_canonical};

use crate::tokenizer::unicode_tables as ut;

/// Normalization switches, as in HF's `BertNormalizer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NormalizerOptions {
    pub clean_text: bool,
    pub handle_chinese_chars: bool,
    pub strip_accents: bool,
    pub lowercase: bool,
}

impl NormalizerOptions {
    /// Uncased BERT (the default): lowercase and strip accents.
    pub fn uncased() -> Self {
        NormalizerOptions { clean_text: true, handle_chinese_chars: true, strip_accents: true, lowercase: true }
    }

    /// Cased BERT: keep case and accents.
    pub fn cased() -> Self {
        NormalizerOptions { clean_text: true, handle_chinese_chars: true, strip_accents: false, lowercase: false }
    }
}

impl Default for NormalizerOptions {
    fn default() -> Self {
        Self::uncased()
    }
}

// Classes of ASCII bytes for the fast path.
const WORD: u8 = 0;
const SPACE: u8 = 1;
const PUNCT: u8 = 2;
const DROP: u8 = 3;

/// Reusable buffers, one per thread, so steady-state encoding does not allocate.
#[derive(Default)]
pub struct Scratch {
    pub(crate) word: String,
    run: Vec<char>,
    nfd: Vec<char>,
    marks: Vec<(u8, char)>,
}

#[derive(Debug, Clone)]
pub struct BasicTokenizer {
    opts: NormalizerOptions,
    ascii: [u8; 128],
}

#[inline]
pub(crate) fn in_ranges(table: &[(u32, u32)], c: u32) -> bool {
    if table.is_empty() || c < table[0].0 {
        return false;
    }
    // Index of the first range starting after c; the candidate is the one before it.
    let i = table.partition_point(|&(lo, _)| lo <= c);
    i > 0 && c <= table[i - 1].1
}

#[inline]
fn lowercase_into(c: char, out: &mut impl FnMut(char)) {
    let cp = c as u32;
    if cp < 0x80 {
        out(c.to_ascii_lowercase());
        return;
    }
    if let Ok(i) = ut::LOWER.binary_search_by_key(&cp, |&(from, _)| from) {
        // Table values are valid scalar values by construction (probed chars).
        out(char::from_u32(ut::LOWER[i].1).unwrap_or(c));
    } else if let Ok(i) = ut::LOWER_MULTI.binary_search_by_key(&cp, |&(from, _)| from) {
        ut::LOWER_MULTI[i].1.chars().for_each(out);
    } else {
        out(c);
    }
}

impl BasicTokenizer {
    pub fn new(opts: NormalizerOptions) -> Self {
        let mut ascii = [WORD; 128];
        for (b, class) in ascii.iter_mut().enumerate() {
            let c = b as u32;
            *class = if opts.clean_text && in_ranges(&ut::REMOVE, c) {
                DROP
            } else if (opts.clean_text && in_ranges(&ut::WHITESPACE, c)) || char::from(b as u8).is_whitespace() {
                SPACE
            } else if in_ranges(&ut::PUNCTUATION, c) {
                PUNCT
            } else {
                WORD
            };
        }
        BasicTokenizer { opts, ascii }
    }

    pub fn options(&self) -> NormalizerOptions {
        self.opts
    }

    /// Calls `emit` with each normalized word of `text`, in order. A word is never empty.
    pub fn for_each_word<F: FnMut(&str)>(&self, text: &str, s: &mut Scratch, emit: &mut F) {
        let bytes = text.as_bytes();
        let lower = self.opts.lowercase;
        s.word.clear();
        let mut i = 0;
        while i < bytes.len() {
            let b = bytes[i];
            if b < 0x80 {
                match self.ascii[b as usize] {
                    WORD => s.word.push(if lower { b.to_ascii_lowercase() } else { b } as char),
                    SPACE => flush(&mut s.word, emit),
                    PUNCT => {
                        flush(&mut s.word, emit);
                        // ASCII is valid UTF-8 on its own, so this slice is a char.
                        emit(&text[i..i + 1]);
                    }
                    _ => {} // DROP
                }
                i += 1;
            } else {
                // Maximal non-ASCII run; UTF-8 lead and continuation bytes are all >= 0x80,
                // so both ends are char boundaries.
                let start = i;
                while i < bytes.len() && bytes[i] >= 0x80 {
                    i += 1;
                }
                self.unicode_run(&text[start..i], s, emit);
            }
        }
        flush(&mut s.word, emit);
    }

    /// The full pipeline for a run of non-ASCII chars; feeds the shared word buffer.
    #[cold]
    fn unicode_run<F: FnMut(&str)>(&self, run: &str, s: &mut Scratch, emit: &mut F) {
        let o = self.opts;
        // 1 + 2: clean_text and CJK spacing.
        s.run.clear();
        for c in run.chars() {
            let cp = c as u32;
            if o.clean_text {
                if in_ranges(&ut::REMOVE, cp) {
                    continue;
                }
                if in_ranges(&ut::WHITESPACE, cp) {
                    s.run.push(' ');
                    continue;
                }
            }
            if o.handle_chinese_chars && in_ranges(&ut::CJK, cp) {
                s.run.extend([' ', c, ' ']);
            } else {
                s.run.push(c);
            }
        }
        // 3: NFD (decomposition + canonical reordering of marks), dropping Mn.
        let chars: &[char] = if o.strip_accents {
            s.nfd.clear();
            s.marks.clear();
            for &c in &s.run {
                if in_ranges(&ut::DECOMPOSABLE, c as u32) {
                    decompose_canonical(c, |d| push_nfd(d, &mut s.nfd, &mut s.marks));
                } else {
                    push_nfd(c, &mut s.nfd, &mut s.marks);
                }
            }
            flush_marks(&mut s.nfd, &mut s.marks);
            &s.nfd
        } else {
            &s.run
        };
        // 4 + 5: lowercase, then split on whitespace / punctuation.
        let word = &mut s.word;
        let ascii = &self.ascii;
        let mut split = |c: char| {
            let cp = c as u32;
            let class = if cp < 0x80 {
                ascii[cp as usize]
            } else if c.is_whitespace() {
                SPACE
            } else if in_ranges(&ut::PUNCTUATION, cp) {
                PUNCT
            } else {
                WORD
            };
            match class {
                SPACE => flush(word, emit),
                PUNCT => {
                    flush(word, emit);
                    let mut buf = [0u8; 4];
                    emit(c.encode_utf8(&mut buf));
                }
                DROP => {}
                _ => word.push(c),
            }
        };
        for &c in chars {
            if o.lowercase {
                lowercase_into(c, &mut split);
            } else {
                split(c);
            }
        }
    }
}

#[inline]
fn flush<F: FnMut(&str)>(word: &mut String, emit: &mut F) {
    if !word.is_empty() {
        emit(word);
        word.clear();
    }
}

/// One char of NFD output: drop Mn, hold combining marks until the next starter.
fn push_nfd(c: char, out: &mut Vec<char>, marks: &mut Vec<(u8, char)>) {
    let cp = c as u32;
    if in_ranges(&ut::NONSPACING_MARK, cp) {
        return; // dropping before or after the stable sort gives the same order
    }
    let ccc = if in_ranges(&ut::COMBINING, cp) { canonical_combining_class(c) } else { 0 };
    if ccc == 0 {
        flush_marks(out, marks);
        out.push(c);
    } else {
        marks.push((ccc, c));
    }
}

fn flush_marks(out: &mut Vec<char>, marks: &mut Vec<(u8, char)>) {
    if marks.len() > 1 {
        marks.sort_by_key(|&(ccc, _)| ccc); // stable, as canonical ordering requires
    }
    out.extend(marks.drain(..).map(|(_, c)| c));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(opts: NormalizerOptions, text: &str) -> Vec<String> {
        let bt = BasicTokenizer::new(opts);
        let mut out = Vec::new();
        bt.for_each_word(text, &mut Scratch::default(), &mut |w: &str| out.push(w.to_string()));
        out
    }

    #[test]
    fn basic_words() {
        let u = NormalizerOptions::uncased();
        assert_eq!(words(u, "Hello, World!"), ["hello", ",", "world", "!"]);
        assert_eq!(words(u, "Café naïve\u{0}x\u{fffd}y"), ["cafe", "naivexy"]);
        assert_eq!(words(u, "a中b"), ["a", "中", "b"]);
        assert_eq!(words(u, "ΟΔΟΣ"), ["οδοσ"]);
        assert_eq!(words(u, "a\u{37e}b"), ["a", ";", "b"]);
        assert_eq!(words(NormalizerOptions::cased(), "Café"), ["Café"]);
        assert_eq!(words(u, " \t\r\n"), Vec::<String>::new());
    }

    /// The probed tables must agree with what unicode-normalization can do: every char the
    /// reference decomposes is decomposed by the crate too (decompositions are stable across
    /// Unicode versions), and every reference combining mark has a non-zero class here.
    #[test]
    fn tables_consistent_with_unicode_normalization() {
        for &(lo, hi) in ut::DECOMPOSABLE.iter() {
            for cp in lo..=hi {
                let c = char::from_u32(cp).unwrap();
                let mut n = 0;
                decompose_canonical(c, |d| n += (d != c) as usize);
                assert!(n > 0, "U+{cp:04X} not decomposed by unicode-normalization");
            }
        }
        for &(lo, hi) in ut::COMBINING.iter() {
            for cp in lo..=hi {
                let c = char::from_u32(cp).unwrap();
                assert_ne!(canonical_combining_class(c), 0, "U+{cp:04X}");
            }
        }
        for t in [&ut::REMOVE[..], &ut::WHITESPACE, &ut::PUNCTUATION, &ut::CJK, &ut::NONSPACING_MARK] {
            assert!(t.windows(2).all(|w| w[0].1 < w[1].0) && t.iter().all(|r| r.0 <= r.1));
        }
    }
}
