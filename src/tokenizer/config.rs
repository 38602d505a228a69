//! Tokenizer settings: the defaults (uncased BERT) and the casing switch. `files.rs` reads them
//! from a model folder.

use crate::tokenizer::normalize::NormalizerOptions;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenizerConfig {
    pub normalizer: NormalizerOptions,
    pub unk_token: String,
    pub cls_token: String,
    pub sep_token: String,
    pub pad_token: String,
    /// Optional: only looked up, never required.
    pub mask_token: String,
    pub continuing_subword_prefix: String,
    pub max_input_chars_per_word: usize,
    /// Strings matched verbatim in the raw text and never split or normalized (HF "added
    /// tokens" with `normalized: false`). `None`: the special tokens above.
    pub added_tokens: Option<Vec<String>>,
    /// Where these settings make wgbert tokenize otherwise than HF `tokenizers` would on
    /// tokenizer.json alone (each as the sentence a front end prints after `notice: `).
    pub notices: Vec<String>,
}

impl Default for TokenizerConfig {
    fn default() -> Self {
        TokenizerConfig {
            normalizer: NormalizerOptions::uncased(),
            unk_token: "[UNK]".into(),
            cls_token: "[CLS]".into(),
            sep_token: "[SEP]".into(),
            pad_token: "[PAD]".into(),
            mask_token: "[MASK]".into(),
            continuing_subword_prefix: "##".into(),
            max_input_chars_per_word: 100,
            added_tokens: None,
            notices: Vec::new(),
        }
    }
}

impl TokenizerConfig {
    /// Defaults for a bare vocab.txt: uncased (`lowercase`: true) or cased.
    pub fn with_lowercase(lowercase: bool) -> Self {
        let mut c = TokenizerConfig::default();
        c.set_lowercase(lowercase);
        c
    }

    /// Switches casing as a user override would: accents are stripped iff lowercasing.
    pub fn set_lowercase(&mut self, lowercase: bool) {
        self.normalizer.lowercase = lowercase;
        self.normalizer.strip_accents = lowercase;
    }

    /// The special tokens that are matched verbatim in raw text.
    pub fn raw_tokens(&self) -> Vec<String> {
        match &self.added_tokens {
            Some(t) => t.clone(),
            None => [&self.unk_token, &self.sep_token, &self.pad_token, &self.cls_token, &self.mask_token]
                .into_iter()
                .cloned()
                .collect(),
        }
    }
}
