"""The translate task (N-to-M): parallel text, the attention encoder-decoder, the
label-smoothed loss of every target piece (plus guided alignment) and validation BLEU.
"""

from __future__ import annotations

import itertools
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from s2s import cache
from s2s.align import Model1, guided_loss
from s2s.aligner import head_loss
from s2s.alignment import piece_alignment, read_links
from s2s.config import Config
from s2s.data import Batch, ParallelData
from s2s.distributed import Group
from s2s.pieces import Pieces
from s2s.text import ParallelFiles, line_chunks, split_path
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

    def __init__(self, config: Config, run_dir: Path = Path(".")):
        self.config = config
        self.cache_dir = Path(config.data.cache_dir) if config.data.cache_dir else run_dir / "cache"
        self.files: ParallelFiles | None = None  # the training text, checked
        self.lengths: Lengths | None = None  # of the training pairs, for translation (s2s.lengths)

    def read_train(self) -> str:
        data = self.config.data
        self.files = ParallelFiles.scan(split_path(data.train, data.src_lang), split_path(data.train, data.tgt_lang))
        return self.files.fingerprint

    def tokenizer(self, seed: int) -> Tokenizer:
        return cache.tokenizer(self.files, self.config.tokenizer, seed, self.cache_dir)

    def datasets(self, tokenizer: Tokenizer, group: Group = Group()) -> tuple[ParallelData, ParallelData,
                                                                             tuple[list[str], list[str]]]:
        """The training pairs from the corpus cache (rank 0 encodes them there first, the
        other processes then open the same files), and the validation split in memory."""
        data, cfg = self.config.data, self.config.train
        if group.main:
            sides = cache.encoded(self.files, tokenizer, self.cache_dir)
        group.barrier()
        if not group.main:
            sides = cache.encoded(self.files, tokenizer, self.cache_dir)  # rank 0's entry, where the disk is shared
        train = ParallelData(*sides).filtered(data.max_len, f"{data.train}.{{{data.src_lang},{data.tgt_lang}}}")
        self.lengths = Lengths.measure(train.src_len, train.tgt_len)
        log.info("training lengths: median %d source pieces, 99%% within %d, at most %d; %.2f target "
                 "pieces per source piece (0.1%% below %.2f)", self.lengths.src_median, self.lengths.part_limit,
                 self.lengths.src_max, self.lengths.ratio_median, self.lengths.ratio_low)
        if cfg.guided_alignment > 0:
            train.align = self._guidance(train, tokenizer)
        valid = ParallelData.load(data.valid, data.src_lang, data.tgt_lang, tokenizer)
        return train, valid, (valid.src_text, valid.tgt_text)

    def _guidance(self, train: ParallelData, tokenizer: Tokenizer) -> Pieces:
        """Each kept pair's target pieces' source positions, for guided alignment: from
        data.train_alignments, or learnt by IBM Model 1. Held in memory (unlike the pieces)."""
        data = self.config.data
        kept = train.kept
        if data.train_alignments:
            log.info("reading the word alignments of the training data from %s for guided alignment",
                     data.train_alignments)
            text = list(zip(*(itertools.chain.from_iterable(line_chunks(path))
                              for path in (self.files.src, self.files.tgt))))
            links = read_links(data.train_alignments, text)
            positions = [piece_alignment(links[k], tokenizer.src_words(text[k][0]), tokenizer.tgt_words(text[k][1]),
                                         tokenizer.src_pieces(src))
                         for k, (src, _) in zip(kept.tolist(), train.pairs(np.arange(len(train))))]
        else:
            log.info("learning word alignments of the training data (IBM Model 1) for guided alignment")
            src, tgt = zip(*train.pairs(np.arange(len(train))))
            model1 = Model1.train(list(src), list(tgt))
            positions = [model1.align(s, t) for s, t in zip(src, tgt)]
        return Pieces.from_lists(positions, dtype=np.int32)

    def build(self, tokenizer: Tokenizer) -> Seq2Seq:
        return Seq2Seq.from_config(self.config.model, tokenizer.src_vocab_size, tokenizer.tgt_vocab_size)

    def loss(self, net: nn.Module, batch: Batch) -> torch.Tensor:
        cfg = self.config.train
        loss, attention, _ = batch_loss(net, batch, cfg.label_smoothing, cfg.output_sample)  # the loss in fp32
        if batch.align is not None and self.config.model.alignment_head:  # attention is the head's
            loss = loss + cfg.guided_alignment * head_loss(attention, batch.align, batch.tgt_out, batch.src_len)
        elif batch.align is not None:
            loss = loss + cfg.guided_alignment * guided_loss(attention.float(), batch.align)
        return loss

    def validate(self, model: Seq2Seq, valid: ParallelData, tokenizer: Tokenizer,
                 device: torch.device) -> Validation:
        """Validation loss, and BLEU of greedy translations (fast, and stable to compare)."""
        cfg = self.config.train
        loss = validation_loss(model, valid, cfg.batch_tokens, device)
        greedy = replace(self.config.search, beam=1, shortlist=False)  # the whole vocabulary: no shortlist yet
        translator = Translator(model, tokenizer, device, batch_size=cfg.valid_batch_size, search=greedy)
        score = bleu(translator.translate(valid.src_text), valid.tgt_text)
        return Validation(loss, score.score, {"bleu_signature": score.signature})

    def state(self) -> dict:
        return {"lengths": self.lengths.state()}
