//! WordPiece: greedy longest-match-first split of one normalized word into vocabulary
//! pieces, continuation pieces carrying the `##` prefix. A word longer than
//! `max_input_chars_per_word` chars, or one that cannot be split completely, becomes a
//! single `[UNK]` (HF `tokenizers` semantics).

use crate::tokenizer::vocab::Vocab;

#[derive(Debug, Clone)]
pub struct WordPiece {
    vocab: Vocab,
    unk_id: u32,
    max_chars: usize,
    /// Id of each one-byte word (punctuation mostly): skips hashing for the commonest case.
    ascii_ids: [u32; 128],
}

impl WordPiece {
    pub fn new(vocab: Vocab, unk_id: u32, max_chars: usize) -> Self {
        let mut ascii_ids = [unk_id; 128];
        for (b, id) in ascii_ids.iter_mut().enumerate() {
            let c = char::from(b as u8);
            if max_chars >= 1 {
                if let Some(v) = vocab.id(c.encode_utf8(&mut [0u8; 4])) {
                    *id = v;
                }
            }
        }
        WordPiece { vocab, unk_id, max_chars, ascii_ids }
    }

    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    pub fn max_chars(&self) -> usize {
        self.max_chars
    }

    /// Appends the ids of `word` (non-empty, already normalized) to `out`.
    #[inline]
    pub fn push_word(&self, word: &str, out: &mut Vec<u32>) {
        let bytes = word.as_bytes();
        if bytes.len() == 1 && bytes[0] < 0x80 {
            out.push(self.ascii_ids[bytes[0] as usize]);
            return;
        }
        // Bytes >= chars, so only long words need counting.
        if bytes.len() > self.max_chars && word.chars().count() > self.max_chars {
            out.push(self.unk_id);
            return;
        }
        // Commonest case: the whole word is a token.
        if bytes.len() <= self.vocab.max_full_len() {
            if let Some(id) = self.vocab.id(word) {
                out.push(id);
                return;
            }
        }
        let mark = out.len();
        let mut start = 0;
        while start < bytes.len() {
            let longest = if start == 0 { self.vocab.max_full_len() } else { self.vocab.max_cont_len() };
            let mut end = bytes.len().min(start + longest);
            while !word.is_char_boundary(end) {
                end -= 1;
            }
            let mut found = None;
            while end > start {
                let piece = &word[start..end];
                let id = if start == 0 { self.vocab.id(piece) } else { self.vocab.cont_id(piece) };
                if id.is_some() {
                    found = id;
                    break;
                }
                end -= 1;
                while !word.is_char_boundary(end) {
                    end -= 1;
                }
            }
            match found {
                Some(id) => {
                    out.push(id);
                    start = end;
                }
                None => {
                    out.truncate(mark);
                    out.push(self.unk_id);
                    return;
                }
            }
        }
    }
}
