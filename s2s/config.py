"""Typed, frozen configuration, checked when it is built.

Every choice a run makes lives here, so a run directory's `config.yaml` (and the copy
inside each checkpoint) is enough to rebuild the model and repeat the training. Building
one from a mapping (checked types, unknown keys refused), reading and writing the YAML
file, `--set` overrides and $VARS are `s2s.configfile`'s.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from s2s.errors import UserError
from s2s.penalty import PENALTIES
from s2s.schedule import SCHEDULES

CELLS = ("rnn", "gru", "lstm")
DECODER_CELLS = CELLS + ("cgru",)  # cgru: the conditional GRU of Nematus (s2s/decoder.py)
ATTENTIONS = ("additive", "dot", "general", "none")
LOCAL_CENTERS = ("predicted", "diagonal")
CONTEXTS = ("last", "transformed_last", "transformed_mean")
CONTEXT_USES = ("init", "input", "both")
TOKENIZER_TYPES = ("unigram", "bpe")
TASKS = ("translate", "classify", "tag")
POOLINGS = ("last", "mean", "attention", "max")
WORD_PIECES = ("first", "first_last")
# How a split is stored: `parallel` is PREFIX.SRC_LANG + PREFIX.TGT_LANG (for classify: text
# and one label per line; for tag: words and their labels, whitespace-split); the others are
# one file: `label_first` "LABEL TEXT" per line (the SST files), `tsv` "TEXT<TAB>LABEL" per
# line, `conllu` CoNLL-U sentences (word forms and UPOS).
FORMATS = {"translate": ("parallel",), "classify": ("parallel", "label_first", "tsv"),
           "tag": ("parallel", "conllu")}


def _check(ok: bool, key: str, message: str) -> None:
    if not ok:
        raise UserError(f"config key '{key}': {message}")


@dataclass(frozen=True)
class DataConfig:
    """Where the text is: with format `parallel` each split is a PREFIX, read as
    PREFIX.LANG[.gz]; with the other formats (classify and tag only) a file path."""

    src_lang: str = "src"
    tgt_lang: str = "tgt"
    train: str = ""
    valid: str = ""
    test: str = ""
    format: str = "parallel"  # parallel | label_first | tsv | conllu (see FORMATS)
    max_len: int = 50  # pieces per side; longer training pairs are dropped
    train_alignments: str = ""  # Pharaoh word links for each training pair (from any aligner): what
    # train.guided_alignment pulls attention towards instead of IBM Model 1's
    cache_dir: str = ""  # where the encoded training corpus and its tokenizer are cached (translate);
    # "": the run directory's cache/. Name one place to share the cache between runs on the same text

    def __post_init__(self) -> None:
        _check(bool(self.train), "data.train", "is required (a file prefix, e.g. data/demo/train)")
        _check(bool(self.valid), "data.valid", "is required (a file prefix, e.g. data/demo/valid)")
        known = sorted({f for formats in FORMATS.values() for f in formats})
        _check(self.format in known, "data.format", f"must be one of {tuple(known)}")
        _check(self.format != "parallel" or self.src_lang != self.tgt_lang, "data.tgt_lang",
               "must differ from data.src_lang")
        _check(self.max_len > 0, "data.max_len", "must be positive")


@dataclass(frozen=True)
class TokenizerConfig:
    """The sentencepiece model(s) `s2s train` learns from the training files."""

    type: str = "unigram"
    vocab_size: int = 8000
    joint: bool = True  # one model for source and target, trained on both sides
    character_coverage: float = 1.0
    max_sentences: int = 2_000_000  # sentencepiece samples this many lines at most

    def __post_init__(self) -> None:
        _check(self.type in TOKENIZER_TYPES, "tokenizer.type", f"must be one of {TOKENIZER_TYPES}")
        _check(self.vocab_size >= 8, "tokenizer.vocab_size", "must be at least 8")
        _check(0.9 <= self.character_coverage <= 1.0, "tokenizer.character_coverage",
               "must be between 0.9 and 1.0")
        _check(self.max_sentences > 0, "tokenizer.max_sentences", "must be positive")


@dataclass(frozen=True)
class EncoderConfig:
    """The recurrent encoder over source embeddings."""

    cell: str = "gru"
    hidden_size: int = 256  # per direction
    num_layers: int = 1
    bidirectional: bool = True

    def __post_init__(self) -> None:
        _check(self.cell in CELLS, "model.encoder.cell", f"must be one of {CELLS}")
        _check(self.hidden_size > 0, "model.encoder.hidden_size", "must be positive")
        _check(self.num_layers > 0, "model.encoder.num_layers", "must be positive")


@dataclass(frozen=True)
class DecoderConfig:
    """The attention decoder."""

    cell: str = "gru"  # or cgru: GRU, attention, then a second GRU reading the context
    hidden_size: int = 512
    num_layers: int = 1
    attention: str = "additive"  # additive | dot | general | none (the classic fixed context c)
    local_window: int = 0  # D > 0: Luong's local-p attention over [p - D, p + D] (0 = global)
    local_center: str = "predicted"  # local-p's centre: predicted (Luong) | diagonal (t + a predicted offset)
    coverage: bool = False  # additive only: past attention summed and fed into the scores
    input_feeding: bool = True  # feed the previous attentional vector into the next step
    bridge: bool = True  # with attention: first state = tanh(W [encoder's last state]), else zeros
    # without attention (attention: none) only:
    context: str = "transformed_last"  # c = last | transformed_last (tanh W h_last) | transformed_mean
    context_use: str = "both"  # c as the first state (init), as an input at every step (input), or both

    def __post_init__(self) -> None:
        _check(self.cell in DECODER_CELLS, "model.decoder.cell", f"must be one of {DECODER_CELLS}")
        _check(self.attention in ATTENTIONS, "model.decoder.attention", f"must be one of {ATTENTIONS}")
        _check(self.local_window >= 0, "model.decoder.local_window", "must be >= 0 (0 = global attention)")
        _check(self.local_center in LOCAL_CENTERS, "model.decoder.local_center", f"must be one of {LOCAL_CENTERS}")
        _check(self.context in CONTEXTS, "model.decoder.context", f"must be one of {CONTEXTS}")
        _check(self.context_use in CONTEXT_USES, "model.decoder.context_use", f"must be one of {CONTEXT_USES}")
        _check(not self.coverage or self.attention == "additive", "model.decoder.coverage",
               f"needs attention: additive (got {self.attention!r})")
        if self.attention == "none":
            _check(not self.input_feeding, "model.decoder.input_feeding",
                   "feeds the previous attentional vector: set it to false with attention: none")
            _check(self.local_window == 0, "model.decoder.local_window", "needs attention (got attention: none)")
            _check(self.cell != "cgru", "model.decoder.cell", "cgru attends between its two GRUs: it needs attention")
        _check(self.cell != "cgru" or not self.input_feeding, "model.decoder.input_feeding",
               "cgru already reads each step's context in its second GRU: set input_feeding: false")
        _check(self.hidden_size > 0, "model.decoder.hidden_size", "must be positive")
        _check(self.num_layers > 0, "model.decoder.num_layers", "must be positive")


@dataclass(frozen=True)
class ModelConfig:
    """The network: embeddings, encoder, attention decoder, output layer."""

    embed_dim: int = 256
    dropout: float = 0.3
    word_dropout: float = 0.0  # training: each source piece replaced by UNK with this probability
    tie_embeddings: bool = False  # output weights = target embeddings (narrowed to embed_dim first)
    share_embeddings: bool = False  # source embeddings = target embeddings (needs tokenizer.joint)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)  # translate only
    alignment_head: int = 0  # translate: units of an alignment head that train.guided_alignment trains (0 = none)
    # classify and tag only:
    pooling: str = "last"  # classify: sentence vector = last | mean | attention (s2s/labeler.py)
    head_size: int = 0  # hidden units of the output MLP (0 = one linear layer)
    word_pieces: str = "first"  # tag: a word's vector = its first piece's state | first_last (both, concatenated)

    def __post_init__(self) -> None:
        _check(self.embed_dim > 0, "model.embed_dim", "must be positive")
        _check(0.0 <= self.dropout < 1.0, "model.dropout", "must be in [0, 1)")
        _check(0.0 <= self.word_dropout < 1.0, "model.word_dropout", "must be in [0, 1)")
        _check(self.pooling in POOLINGS, "model.pooling", f"must be one of {POOLINGS}")
        _check(self.head_size >= 0, "model.head_size", "must be >= 0 (0 = one linear layer)")
        _check(self.alignment_head >= 0, "model.alignment_head", "must be >= 0 (0 = none)")
        _check(self.word_pieces in WORD_PIECES, "model.word_pieces", f"must be one of {WORD_PIECES}")
        memory = self.encoder.hidden_size * (2 if self.encoder.bidirectional else 1)
        _check(self.decoder.attention != "none" or self.decoder.context != "last"
               or self.decoder.context_use == "input" or memory == self.decoder.hidden_size,
               "model.decoder.context",
               f"'last' as the decoder's first state (context_use: {self.decoder.context_use}) needs the "
               f"encoder output size ({memory}) to equal model.decoder.hidden_size "
               f"({self.decoder.hidden_size}); use transformed_last, or context_use: input")
        _check(self.decoder.attention != "dot" or memory == self.decoder.hidden_size,
               "model.decoder.attention",
               f"'dot' needs the encoder output size ({memory}) to equal "
               f"model.decoder.hidden_size ({self.decoder.hidden_size}); use 'general' or 'additive'")


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation, validation and stopping."""

    seed: int = 1
    batch_tokens: int = 2000  # per batch: sentences x longest side (padded), at most
    lr: float = 1e-3
    weight_decay: float = 0.0  # decoupled weight decay (AdamW) when > 0; plain Adam at 0
    clip_norm: float = 1.0
    label_smoothing: float = 0.1
    max_steps: int = 100_000
    max_epochs: int = 100
    valid_every: int = 500  # steps between validations (and checkpoints)
    valid_batch_size: int = 64  # sentences per batch when translating the validation set
    patience: int = 8  # validations without a better BLEU before stopping early
    lr_schedule: str = "plateau"  # plateau | cosine | linear (decay over the budget; s2s/schedule.py)
    warmup_steps: int = 0  # updates over which lr rises linearly from 0 (any schedule)
    lr_decay: float = 0.5  # plateau: multiply lr by this when validation BLEU plateaus
    lr_patience: int = 2  # plateau: validations without improvement before decaying
    min_lr: float = 1e-5
    max_minutes: float = 0.0  # wall-clock budget of the whole run, validation included (0 = none)
    log_every: int = 100
    max_nonfinite: int = 10  # steps in a row with a NaN/inf loss or gradient before stopping
    keep_checkpoints: int = 5  # step-STEP.pt files kept from the latest validations (0 = none)
    accumulate: int = 1  # batches per update (shared out among processes under torchrun)
    bf16: bool = False  # GPU: bf16 autocast where supported; CPU with AVX512_BF16/AMX: the output layer in bf16
    guided_alignment: float = 0.0  # weight of the loss pulling attention to IBM Model 1 alignments (0 = off)
    output_sample: int = 0  # > 0: each batch's softmax over its target pieces and about this many others (s2s.loss)
    ema_decay: float = 0.0  # > 0: validate and save a moving average of the weights (s2s.ema), e.g. 0.999
    subword_alpha: float = 0.0  # > 0: classify/tag words cut afresh each epoch, P(cut) ** alpha (s2s.subwords)

    def __post_init__(self) -> None:
        for key in ("batch_tokens", "max_steps", "max_epochs", "valid_every", "valid_batch_size",
                    "log_every", "max_nonfinite", "accumulate"):
            _check(getattr(self, key) > 0, f"train.{key}", "must be positive")
        _check(self.lr > 0, "train.lr", "must be positive")
        _check(self.weight_decay >= 0, "train.weight_decay", "must be >= 0")
        _check(self.clip_norm >= 0, "train.clip_norm", "must be >= 0 (0 turns clipping off)")
        _check(0.0 <= self.label_smoothing < 1.0, "train.label_smoothing", "must be in [0, 1)")
        _check(0.0 < self.lr_decay <= 1.0, "train.lr_decay", "must be in (0, 1]")
        _check(self.patience >= 0, "train.patience", "must be >= 0 (0 never stops early)")
        _check(self.keep_checkpoints >= 0, "train.keep_checkpoints", "must be >= 0")
        _check(self.lr_patience >= 0, "train.lr_patience", "must be >= 0")
        _check(0 <= self.min_lr <= self.lr, "train.min_lr", "must be in [0, train.lr]")
        _check(self.lr_schedule in SCHEDULES, "train.lr_schedule", f"must be one of {SCHEDULES}")
        _check(self.warmup_steps >= 0, "train.warmup_steps", "must be >= 0")
        _check(self.guided_alignment >= 0, "train.guided_alignment", "must be >= 0 (0 turns it off)")
        _check(self.max_minutes >= 0, "train.max_minutes", "must be >= 0 (0 means no time limit)")
        _check(self.output_sample >= 0, "train.output_sample", "must be >= 0 (0: the whole vocabulary)")
        _check(0.0 <= self.ema_decay < 1.0, "train.ema_decay", "must be in [0, 1) (0 turns the average off)")
        _check(self.subword_alpha >= 0, "train.subword_alpha", "must be >= 0 (0 turns sampling off)")


@dataclass(frozen=True)
class SearchConfig:
    """How `s2s translate` and `s2s eval -m` search for translations (options override it)."""

    beam: int = 5  # hypotheses kept per sentence; 1 is greedy search
    length_penalty: str = "length"  # none | length (L ** alpha) | gnmt (((5 + L) / 6) ** alpha)
    alpha: float = 1.0
    min_len: int = 0  # target tokens before EOS is allowed
    max_len_a: float = 2.0  # at most a * source_length + b target tokens (EOS included)
    max_len_b: int = 10
    sample: bool = False  # draw each piece from the model's distribution instead of searching
    temperature: float = 1.0  # sampling: divides the log-probabilities; 0 is greedy
    top_k: int = 0  # sampling: only from the k most likely pieces (0: all)
    top_p: float = 1.0  # sampling: only from the fewest most likely pieces with this much probability
    seed: int = 1  # sampling: the same seed gives the same samples of a line
    stop_margin: float = 0.0  # beam: stop when no live hypothesis could win if each further piece cost this (0: exact)
    shortlist: bool = False  # score only the target pieces the source pieces translate to (RUN/shortlist.pt)

    def __post_init__(self) -> None:
        _check(self.beam > 0, "search.beam", "must be positive")
        _check(self.temperature >= 0, "search.temperature", "must be >= 0")
        _check(self.top_k >= 0, "search.top_k", "must be >= 0 (0: no cut)")
        _check(0 < self.top_p <= 1, "search.top_p", "must be in (0, 1]")
        _check(self.length_penalty in PENALTIES, "search.length_penalty", f"must be one of {PENALTIES}")
        _check(self.alpha >= 0, "search.alpha", "must be >= 0")
        _check(self.stop_margin >= 0, "search.stop_margin", "must be >= 0 (0: exact search)")
        _check(self.min_len >= 0, "search.min_len", "must be >= 0")
        _check(self.max_len_a >= 0, "search.max_len_a", "must be >= 0")
        _check(self.max_len_b >= 0, "search.max_len_b", "must be >= 0")
        _check(self.max_len_a > 0 or self.max_len_b > 0, "search.max_len_b",
               "search.max_len_a and search.max_len_b cannot both be 0")


@dataclass(frozen=True)
class Config:
    """A whole run's configuration."""

    data: DataConfig
    task: str = "translate"  # translate (N-to-M) | classify (N-to-1) | tag (N-to-N)
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    search: SearchConfig = field(default_factory=SearchConfig)

    def __post_init__(self) -> None:
        _check(self.task in TASKS, "task", f"must be one of {TASKS}")
        _check(self.data.format in FORMATS[self.task], "data.format",
               f"{self.data.format!r} is not a format of task {self.task} (it reads {FORMATS[self.task]})")
        _check(self.train.guided_alignment == 0 or self.model.decoder.attention != "none"
               or self.model.alignment_head > 0, "train.guided_alignment",
               "needs attention (model.decoder.attention is none) or an alignment head (model.alignment_head)")
        _check(not self.data.train_alignments or self.train.guided_alignment > 0, "data.train_alignments",
               "is what train.guided_alignment trains towards: give that a weight (e.g. 1) too")
        _check(self.train.subword_alpha == 0 or self.task != "translate", "train.subword_alpha",
               "is for task: classify and tag (translation trains on a cached encoding)")
        _check(self.train.subword_alpha == 0 or self.tokenizer.type == "unigram", "train.subword_alpha",
               f"draws from a unigram tokenizer's segmentations; tokenizer.type is {self.tokenizer.type}")
        if self.task != "translate":
            _check(self.train.guided_alignment == 0, "train.guided_alignment", "is for task: translate only")
            _check(self.model.alignment_head == 0, "model.alignment_head", "is for task: translate only")
            _check(not self.model.tie_embeddings, "model.tie_embeddings", "is for task: translate only")
            _check(not self.model.share_embeddings, "model.share_embeddings", "is for task: translate only")
        _check(self.model.alignment_head == 0 or self.train.guided_alignment > 0, "model.alignment_head",
               "learns only from word alignments: give train.guided_alignment a weight (e.g. 1) too")
        _check(not self.model.share_embeddings or self.tokenizer.joint, "model.share_embeddings",
               "needs one vocabulary for both sides: set tokenizer.joint: true")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
