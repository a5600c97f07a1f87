"""`s2s predict`: a classify or tag model's labels, one output line per input line."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from tqdm import tqdm

from s2s.cli.common import (batch_option, device_option, quiet_option, setup_logging, show_progress,
                            write_results)
from s2s.cli.translate import utf8_option
from s2s.errors import UserError

FORMATS = ("text", "label_first", "tsv", "conllu")


@click.command(short_help="Label text with a classify or tag model, one line out per line in.")
@click.option("-m", "--model", "models", required=True, multiple=True, type=click.Path(exists=True),
              help="Checkpoint file, or run directory (its best.pt), of a classify or tag run; several -m "
                   "label with an ensemble (their label probabilities averaged; each may have its own tokenizer).")
@click.option("-i", "--input", "input_file", type=click.Path(exists=True, allow_dash=True, dir_okay=False),
              default="-", show_default=True,
              help="Input, UTF-8, .gz accepted ('-' = stdin): with --format text, one sentence per line "
                   "(tag: its words separated by spaces).")
@click.option("--format", "input_format", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Read the input in a data format instead (its labels ignored): label_first, tsv "
                   "(classify) or conllu (tag: one output line per sentence).")
@click.option("-o", "--output", default="-", show_default=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="Where the labels go ('-' = stdout); a file appears only once complete.")
@utf8_option
@batch_option
@device_option
@quiet_option
def predict(models, input_file, input_format, output, utf8_errors, batch_size, device_name, quiet) -> None:
    """Label text: classify prints one label per input line, tag one line of labels per
    input line (one label per word, words split on whitespace); an empty line gives an
    empty line.

    \b
    Examples:
      s2s predict -m runs/sst2 < reviews.txt > labels.txt
      s2s predict -m runs/sst2 -m runs/sst2-seed2 < reviews.txt   # an ensemble of two
      echo "The cat sat on the mat ." | s2s predict -m runs/ewt_upos
      s2s predict -m runs/ewt_upos -i $S2S_DATA/ud-english-ewt/en_ewt-ud-test.conllu --format conllu
    """
    from s2s.text import iter_lines, read_lines
    from s2s.labels import read_data_file
    from s2s.predictor import Predictor

    setup_logging(verbose=False)
    if output != "-" and not Path(output).resolve().parent.is_dir():
        raise UserError(f"-o {output}: directory {Path(output).parent} does not exist")
    predictor = Predictor.load(models, device_name, batch_size=batch_size)
    if input_format != "text":
        if input_file == "-":
            raise click.UsageError(f"--format {input_format} reads a file: give it with -i FILE")
        inputs = read_data_file(predictor.task, input_format, Path(input_file), "--format").inputs
        results = iter(predictor.predict(inputs))
    else:
        lines = iter_lines(sys.stdin.buffer, "<stdin>", utf8_errors) if input_file == "-" else \
            read_lines(input_file, utf8_errors)
        results = tqdm(predictor.stream(lines), unit=" lines", desc="labelling", leave=False,
                       disable=not show_progress(quiet))
    write_results(results, output)
