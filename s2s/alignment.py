"""Word alignments: which source words each output word translates, as Pharaoh links.

A link `i-j` joins source word i to target word j (0-based, words as `str.split()` gives
them). s2s reads them off attention: the weights of a translation's output pieces over its
source pieces become weights of output words over source words (a target word's pieces'
rows averaged, a source word's pieces' columns summed, the source EOS left out), and each
output word links to the source word it weighs most (`links`). `word_links` does that for
a whole line, the parts of a line translated sentence by sentence each in their place.

Alignments of the two directions (source->target, and target->source read backwards) are
combined as in Koehn et al. (2005) and Moses' or fast_align's `atools`: intersection,
union, grow-diag, grow-diag-final and grow-diag-final-and (`symmetrize`). `error_rate`
scores links against human ones with Sure and Possible links (Och and Ney 2000).

IBM Model 1 and the loss that guides attention towards its alignments are in `s2s.align`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

from s2s.errors import UserError
from s2s.result import Translation
from s2s.tokenizer import Tokenizer

Link = tuple[int, int]  # (source word, target word), 0-based
SYMMETRIZE = ("intersection", "union", "grow-diag", "grow-diag-final", "grow-diag-final-and")
_NEIGHBOURS = ((-1, 0), (0, -1), (1, 0), (0, 1), (-1, -1), (-1, 1), (1, -1), (1, 1))


def links(weights: torch.Tensor, src_words: list[int], tgt_words: list[int], null: bool = False) -> list[Link]:
    """Word links from piece attention: weights (T, S) of T output steps over S source
    positions, src_words (S,) and tgt_words (T' <= T,) the word of each source and output
    piece; positions past those lists (EOS) are left out. Each output word links to the
    source word with the most weight, summed over its pieces and averaged over its steps.
    With `null` the source EOS (the position after src_words) stands for no word: an output
    word that weighs it most gets no link (an alignment head's weights, `s2s.aligner`)."""
    if not src_words or not tgt_words:
        return []
    n_src, n_tgt = max(src_words) + 1, max(tgt_words) + 1
    columns = src_words + [n_src] if null and weights.size(1) > len(src_words) else src_words
    w = weights[:len(tgt_words), :len(columns)].float()  # (T', S')
    by_src = torch.zeros(len(tgt_words), n_src + 1).index_add_(1, torch.tensor(columns), w)  # (T', Ws + 1)
    by_word = torch.zeros(n_tgt, n_src + 1).index_add_(0, torch.tensor(tgt_words), by_src)  # (Wt, Ws + 1)
    present = torch.zeros(n_tgt, dtype=torch.bool)
    present[torch.tensor(tgt_words)] = True
    best = by_word.argmax(dim=1)  # (Wt,) n_src: NULL
    return sorted((int(best[j]), j) for j in range(n_tgt) if present[j] and best[j] < n_src)


def word_links(translation: Translation, tokenizer: Tokenizer, null: bool = False) -> list[Link]:
    """The word alignment of a translation (from `Translator.nbest` or `force`) between the
    words of its source and of its text; [] for a blank line or a model without attention.
    `null`: the weights are an alignment head's, whose source EOS means no link (`links`).

    A line translated in parts has each part's links moved to where the part's source and
    output words are in the line's source and text (parts are joined by spaces; a cut
    inside a word makes both sides of it one word of the line)."""
    leaves = translation.parts or ((translation,) if translation.hypothesis is not None else ())
    if not leaves or not bool(leaves[0].hypothesis.attention.any()):
        return []
    line_word = _word_of_visible(translation.source)  # (visible characters of the line,) their word
    found: set[Link] = set()
    visible = target = 0  # visible characters of the line before this part, and output words
    for leaf in leaves:
        leaf_word = _word_of_visible(leaf.source)
        firsts = _first_visible(leaf.source)  # each word of the part: its first visible character
        to_line = [line_word[min(visible + first, len(line_word) - 1)] for first in firsts]
        src_words = [to_line[w] - to_line[0] for w in tokenizer.src_words(leaf.source)]
        tgt_words = (tokenizer.tgt_words(leaf.text) if leaf.forced
                     else tokenizer.output_words(leaf.hypothesis.tokens))
        found.update((to_line[0] + i, target + j)
                     for i, j in links(leaf.hypothesis.attention, src_words, tgt_words, null))
        visible += len(leaf_word)
        target += len(leaf.text.split())
    return sorted(found)


def _word_of_visible(text: str) -> list[int]:
    """For each non-space character of `text`, in order, the index of its word."""
    return [w for w, word in enumerate(text.split()) for _ in word]


def _first_visible(text: str) -> list[int]:
    """For each word of `text`, the index of its first character among the non-space ones."""
    firsts, count = [], 0
    for word in text.split():
        firsts.append(count)
        count += len(word)
    return firsts


def pharaoh(found: Iterable[Link]) -> str:
    """Links as a Pharaoh line: `i-j` pairs, sorted, separated by spaces."""
    return " ".join(f"{i}-{j}" for i, j in sorted(found))


def read_links(path: str, pairs: list[tuple[str, str]]) -> list[set[Link]]:
    """The links of a Pharaoh file with one line per sentence pair of `pairs` (source, target
    text); a line count, link or word number that does not fit is an error naming the line."""
    from s2s.text import read_lines

    found = []
    for n, (line, (src, tgt)) in enumerate(zip(read_lines(path), pairs), 1):
        links_ = parse_links(line, f"{path}:{n}")
        words = len(src.split()), len(tgt.split())
        bad = next(((i, j) for i, j in links_ if i >= words[0] or j >= words[1]), None)
        if bad:
            raise UserError(f"{path}:{n}: link {bad[0]}-{bad[1]} is outside the pair, which has {words[0]} "
                            f"source and {words[1]} target words (0-based word numbers)")
        found.append(links_)
    if len(found) != len(pairs):
        raise UserError(f"{path} has {len(found)} lines for {len(pairs)} sentence pairs: it needs one line "
                        "of links per pair")
    return found


def piece_alignment(found: set[Link], src_words: list[int], tgt_words: list[int],
                    src_pieces: list[str] | None = None) -> list[int]:
    """Word links as one source piece per target piece (-1 for none), what guided alignment
    trains towards: each piece of a target word goes to the linked source word's longest
    piece (`src_pieces`; the first where they are not given, or tie), so not to a lone "▁"
    that every word may start with; of several linked source words, the first."""
    size = [len(piece.lstrip("▁")) for piece in src_pieces] if src_pieces else [0] * len(src_words)
    main_piece: dict[int, int] = {}
    for piece, word in enumerate(src_words):
        if word not in main_piece or size[piece] > size[main_piece[word]]:
            main_piece[word] = piece
    source_of: dict[int, int] = {}
    for i, j in sorted(found):
        source_of.setdefault(j, i)
    return [main_piece.get(source_of.get(word, -1), -1) for word in tgt_words]


@dataclass(frozen=True)
class Gold:
    """Human links of one sentence pair: Sure ones, and Possible ones (which include the Sure)."""

    sure: frozenset[Link]
    possible: frozenset[Link]


def parse_gold(line: str, where: str, one_based: bool = False) -> Gold:
    """A gold line of `i-j` (Sure) and `ipj` (Possible) links; `where` names file and line in
    errors. With `one_based` the indices count from 1 (as in the Hansards set)."""
    sure, possible = set(), set()
    for token in line.split():
        kind = "p" if "p" in token else "-"
        i, _, j = token.partition(kind)
        if not (i.isdigit() and j.isdigit()) or (one_based and (int(i) == 0 or int(j) == 0)):
            raise UserError(f"{where}: {token!r} is not a link: expected SRC-TGT or SRCpTGT "
                            f"with {'1' if one_based else '0'}-based word numbers")
        link = (int(i) - one_based, int(j) - one_based)
        possible.add(link)
        if kind == "-":
            sure.add(link)
    return Gold(frozenset(sure), frozenset(possible))


def parse_links(line: str, where: str) -> set[Link]:
    """A Pharaoh line of 0-based `i-j` links; `where` names file and line in errors."""
    gold = parse_gold(line, where)
    if gold.possible != gold.sure:
        raise UserError(f"{where}: possible links (ipj) are only read in gold files")
    return set(gold.sure)


@dataclass(frozen=True)
class ErrorRate:
    """Alignment error rate, precision and recall over a corpus (Och and Ney 2000)."""

    aer: float  # 1 - (|A & S| + |A & P|) / (|A| + |S|)
    precision: float  # |A & P| / |A|
    recall: float  # |A & S| / |S|
    links: int  # |A|


def error_rate(found: list[set[Link]], gold: list[Gold]) -> ErrorRate:
    """AER, precision and recall of links `found` against `gold`, summed over the pairs."""
    if len(found) != len(gold):
        raise UserError(f"{len(found)} alignments for {len(gold)} gold lines")
    a = s = a_s = a_p = 0
    for links_, g in zip(found, gold):
        a, s = a + len(links_), s + len(g.sure)
        a_s, a_p = a_s + len(links_ & g.sure), a_p + len(links_ & g.possible)
    aer = 1 - (a_s + a_p) / (a + s) if a + s else 0.0
    return ErrorRate(aer, a_p / a if a else 0.0, a_s / s if s else 0.0, a)


def symmetrize(forward: set[Link], backward: set[Link], method: str) -> set[Link]:
    """Two directions' links combined: `forward` source->target, `backward` target->source
    given as (source, target) too; method one of SYMMETRIZE."""
    both, either = forward & backward, forward | backward
    if method == "intersection":
        return both
    if method == "union":
        return either
    if method not in SYMMETRIZE:
        raise UserError(f"unknown symmetrization {method!r}; expected one of {', '.join(SYMMETRIZE)}")
    found = set(both)
    if not either:
        return found
    _grow_diag(found, either)
    if method != "grow-diag":
        for side in (forward, backward):  # Koehn's FINAL(e2f), then FINAL(f2e)
            _final(found, side, both_unaligned=method == "grow-diag-final-and")
    return found


def _grow_diag(found: set[Link], either: set[Link]) -> None:
    """Adds links of the union next to or diagonal to a link, where one of the two words is
    still unaligned, visiting the links in order, until a pass adds none (Koehn et al. 2005)."""
    rows, cols = 1 + max(i for i, _ in either), 1 + max(j for _, j in either)
    src, tgt = {i for i, _ in found}, {j for _, j in found}
    grown = True
    while grown:
        grown = False
        for i in range(rows):
            for j in range(cols):
                if (i, j) not in found:
                    continue
                for di, dj in _NEIGHBOURS:
                    link = (i + di, j + dj)
                    if link in either and link not in found and (link[0] not in src or link[1] not in tgt):
                        found.add(link)
                        src.add(link[0])
                        tgt.add(link[1])
                        grown = True


def _final(found: set[Link], side: set[Link], both_unaligned: bool) -> None:
    """Adds the links of one direction where a word (with `both_unaligned`: both words) is
    still unaligned, in order."""
    src, tgt = {i for i, _ in found}, {j for _, j in found}
    for i, j in sorted(side):
        free = (i not in src) and (j not in tgt) if both_unaligned else (i not in src) or (j not in tgt)
        if free and (i, j) not in found:
            found.add((i, j))
            src.add(i)
            tgt.add(j)
