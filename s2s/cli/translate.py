"""`s2s translate` (files, pipes and interactive use) and `s2s plot-attention` (one sentence)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

import click
from tqdm import tqdm

from s2s.cli.common import (batch_option, count_lines, device_option, load_translator, precision_option,
                            quantize_option, quiet_option, search_options, setup_logging, show_progress, split_option,
                            workers_option, write_results)
from s2s.errors import UserError

utf8_option = click.option("--utf8-errors", type=click.Choice(["strict", "replace"]), default="strict",
                           show_default=True,
                           help="Invalid UTF-8 in the input: stop with an error naming the line and "
                                "byte (strict), or read it as U+FFFD characters (replace).")


@click.command(short_help="Translate text, one line out per line in.")
@click.option("-m", "--model", "models", required=True, multiple=True, type=click.Path(exists=True),
              help="Checkpoint file, or run directory (its best.pt). Give -m several times to translate "
                   "with an ensemble of models that share the tokenizer (their probabilities averaged).")
@click.option("-i", "--input", "input_file", type=click.Path(exists=True, allow_dash=True, dir_okay=False),
              default="-", show_default=True,
              help="Source text, one sentence per line, UTF-8, .gz accepted ('-' = stdin; a terminal on "
                   "stdin translates each line as it is typed).")
@click.option("-o", "--output", default="-", show_default=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="Where translations go ('-' = stdout); a file appears only once complete.")
@click.option("-n", "--nbest", type=click.IntRange(min=1), default=None,
              help="Print the N best translations of each line (N <= beam): exactly N lines per "
                   "input line, 'LINE<TAB>RANK<TAB>SCORE<TAB>TEXT'.")
@click.option("--scores", is_flag=True, help="Print 'SCORE<TAB>TEXT' for the best translation.")
@click.option("--alignments", is_flag=True,
              help="Add a tab and the word alignment of each printed translation: Pharaoh 'i-j' "
                   "links from source word i to output word j (0-based, words split at whitespace), "
                   "read off the attention, or the alignment head of a model that has one.")
@click.option("--plot-attention", "plot_dir", type=click.Path(file_okay=False),
              help="Write an attention heatmap of each line's best translation to DIR/LINE.png "
                   "(LINE = input line number, 6 digits); a line translated sentence by sentence "
                   "shows each sentence's attention in turn.")
@search_options
@split_option
@utf8_option
@batch_option
@workers_option
@device_option
@quantize_option
@precision_option
@quiet_option
def translate(models, input_file, output, nbest, scores, alignments, plot_dir, max_src_len, utf8_errors, batch_size,
              workers, device_name, quantize, precision, quiet, **search) -> None:
    """Translate text: one output line per input line, in order (beam search, beam 5).

    \b
    Examples:
      s2s translate -m runs/demo < data/demo/test.src > hyp.txt
      s2s translate -m runs/demo --beam 10 --nbest 3 -i data/demo/test.src
      s2s translate -m runs/demo --plot-attention plots/ -i data/demo/test.src -o hyp.txt
      s2s translate -m runs/demo --alignments -i data/demo/test.src   # TEXT<TAB>i-j links
      s2s translate -m runs/demo --sample --top-p 0.9 --nbest 3 -i data/demo/test.src   # 3 samples
      s2s translate -m runs/a -m runs/b -i test.src   # an ensemble of two models
      s2s translate -m runs/demo        # on a terminal: type a sentence, get its translation
    """
    from s2s.alignment import pharaoh
    from s2s.text import iter_lines, read_lines
    from s2s.result import nbest_lines, scored_line, text_line

    setup_logging(verbose=False)
    if output != "-" and not Path(output).resolve().parent.is_dir():
        raise UserError(f"-o {output}: directory {Path(output).parent} does not exist")
    if nbest is not None and scores:
        raise click.UsageError("--nbest output already has scores; drop --scores")
    translator = load_translator(models, device_name, batch_size, max_src_len, search, quantize, precision, workers)
    beam = translator.search.beam
    if nbest is not None and nbest > beam and not translator.search.sample:
        raise UserError(f"--nbest {nbest} is larger than the beam ({beam}); raise --beam to at least {nbest}")
    interactive = input_file == "-" and sys.stdin.isatty()
    if input_file == "-":
        lines = iter_lines(sys.stdin.buffer, "<stdin>", utf8_errors)
    else:
        lines = read_lines(input_file, utf8_errors)
    n = nbest or 1
    if interactive:
        if sys.stderr.isatty():
            click.echo("s2s: type a sentence and press Enter; Ctrl-D ends", err=True)
        results = (translator.nbest([line], n, first_line=i)[0] for i, line in enumerate(lines, 1))
    else:
        results = tqdm(translator.stream(lines, n), unit=" lines", desc="translating", leave=False,
                       disable=not show_progress(quiet), total=count_lines(input_file))
    if plot_dir is not None or alignments:
        check_attention(translator, " -m ".join(models), "plot" if plot_dir is not None else "align words by")
    if plot_dir is not None:
        Path(plot_dir).mkdir(parents=True, exist_ok=True)
        results = _plotting(results, translator, Path(plot_dir))
    links = (lambda found: pharaoh(translator.alignment(found))) if alignments else None  # noqa: E731
    if nbest is not None:
        out = (row for i, found in enumerate(results, 1) for row in nbest_lines(i, found, nbest, links))
    elif scores:
        out = (scored_line(found[0], links) for found in results)
    else:
        out = (text_line(found[0], links) for found in results)
    write_results(out, output, flush_each=interactive)


def check_attention(translator, model: str, what: str = "plot") -> None:
    if not translator.model.has_attention:
        raise UserError(f"{model} has no attention to {what} (model.decoder.attention: none)")


def _plotting(results: Iterable[list], translator, directory: Path) -> Iterator[list]:
    """Passes results through, writing a heatmap of each line's best translation on the way."""
    from s2s.plot import attention_heatmap

    for number, found in enumerate(results, 1):
        attention = translator.attention(found[0])
        if attention is not None:  # none for a blank line
            attention_heatmap(attention.weights, attention.source, attention.target,
                              directory / f"{number:06d}.png", title=found[0].text)
        yield found


@click.command(name="plot-attention", short_help="Draw the attention of one sentence's translation.")
@click.option("-m", "--model", required=True, type=click.Path(exists=True),
              help="Checkpoint file, or run directory (its best.pt).")
@click.option("--src", "source", required=True, help="The sentence to translate.")
@click.option("--ref", "reference",
              help="Draw the attention the model gives this translation instead of its own (forced decoding).")
@click.option("-o", "--output", default="attention.png", show_default=True, type=click.Path(dir_okay=False),
              help="The PNG file to write.")
@search_options
@device_option
def plot_attention(model, source, reference, output, device_name, **search) -> None:
    """Translate one sentence (or force a given translation) and draw its attention.

    Prints SCORE<TAB>TRANSLATION; the heatmap shows output pieces down and source pieces
    across, darker where attention is higher.

    \b
    Examples:
      s2s plot-attention -m runs/demo --src "The big dog sees a cat." -o dog.png
      s2s plot-attention -m runs/demo --src "The dog sees a cat." --ref "Ka vorn mi miset vidit."
    """
    from s2s.plot import attention_heatmap

    setup_logging(verbose=False)
    if not source.strip():
        raise UserError("--src is empty: give a sentence to translate")
    if not Path(output).resolve().parent.is_dir():
        raise UserError(f"-o {output}: directory {Path(output).parent} does not exist")
    translator = load_translator(model, device_name, 1, 0, search)
    check_attention(translator, model)
    if reference is not None:
        best = translator.force(source, reference)
    else:
        best = translator.nbest([source], 1)[0][0]
    attention = translator.attention(best)
    attention_heatmap(attention.weights, attention.source, attention.target, output, title=best.text)
    click.echo(f"{best.score:.4f}\t{best.text}")
    click.echo(f"attention written to {output}", err=True)
