"""The translate task (N-to-M): parallel text, the attention encoder-decoder, the
label-smoothed loss of every target piece (plus guided alignment) and validation BLEU.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import torch
from torch import nn

from s2s.align import Model1, guided_loss
from s2s.alignment import piece_alignment, read_links
from s2s.config import Config
from s2s.data import Batch, ParallelData, read_parallel, split_path
from s2s.lengths import Lengths
from s2s.loss import batch_loss, validation_loss
from s2s.metrics import bleu
from s2s.model import Seq2Seq
from s2s.task import Validation
from s2s.tokenizer import Tokenizer
from s2s.translator import Translator

log = logging.getLogger("s2s.trainer")


class TranslateTask:
    """Translation: what `task: translate` (the default) trains."""

    metric = "BLEU"

    def __init__(self, config: Config):
        self.config = config
        self.text: tuple[list[str], list[str]] = ([], [])
        self.lengths: Lengths | None = None  # of the training pairs, for translation (s2s.lengths)

    def read_train(self) -> tuple[list[str], list[str]]:
        data = self.config.data
        self.text = read_parallel(split_path(data.train, data.src_lang), split_path(data.train, data.tgt_lang))
        return self.text

    def tokenizer_text(self) -> tuple[list[str], list[str]]:
        return self.text

    def datasets(self, tokenizer: Tokenizer) -> tuple[ParallelData, ParallelData, tuple[list[str], list[str]]]:
        data, cfg = self.config.data, self.config.train
        train = ParallelData.from_text(*self.text, tokenizer, max_len=data.max_len,
                                       name=f"{data.train}.{{{data.src_lang},{data.tgt_lang}}}")
        self.lengths = Lengths.measure([len(s) - 1 for s in train.src], [len(t) for t in train.tgt])
        log.info("training lengths: median %d source pieces, 99%% within %d, at most %d; %.2f target "
                 "pieces per source piece (0.1%% below %.2f)", self.lengths.src_median, self.lengths.part_limit,
                 self.lengths.src_max, self.lengths.ratio_median, self.lengths.ratio_low)
        if cfg.guided_alignment > 0 and data.train_alignments:
            log.info("reading the word alignments of the training data from %s for guided alignment",
                     data.train_alignments)
            links = read_links(data.train_alignments, list(zip(*self.text)))
            train.align = [piece_alignment(links[k], tokenizer.src_words(self.text[0][k]),
                                           tokenizer.tgt_words(self.text[1][k]),
                                           tokenizer.src_pieces(src[:-1]))
                           for k, src in zip(train.kept, train.src)]
        elif cfg.guided_alignment > 0:
            log.info("learning word alignments of the training data (IBM Model 1) for guided alignment")
            model1 = Model1.train([s[:-1] for s in train.src], train.tgt)
            train.align = [model1.align(s[:-1], t) for s, t in zip(train.src, train.tgt)]
        valid = ParallelData.load(data.valid, data.src_lang, data.tgt_lang, tokenizer)
        return train, valid, (valid.src_text, valid.tgt_text)

    def build(self, tokenizer: Tokenizer) -> Seq2Seq:
        return Seq2Seq.from_config(self.config.model, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)

    def loss(self, net: nn.Module, batch: Batch) -> torch.Tensor:
        cfg = self.config.train
        loss, attention, _ = batch_loss(net, batch, cfg.label_smoothing)  # the loss in fp32
        if batch.align is not None:
            loss = loss + cfg.guided_alignment * guided_loss(attention.float(), batch.align)
        return loss

    def validate(self, model: Seq2Seq, valid: ParallelData, tokenizer: Tokenizer,
                 device: torch.device) -> Validation:
        """Validation loss, and BLEU of greedy translations (fast, and stable to compare)."""
        cfg = self.config.train
        loss = validation_loss(model, valid, cfg.batch_tokens, device)
        greedy = replace(self.config.search, beam=1)
        translator = Translator(model, tokenizer, device, batch_size=cfg.valid_batch_size, search=greedy)
        score = bleu(translator.translate(valid.src_text), valid.tgt_text)
        return Validation(loss, score.score, {"bleu_signature": score.signature})

    def state(self) -> dict:
        return {"lengths": self.lengths.state()}
